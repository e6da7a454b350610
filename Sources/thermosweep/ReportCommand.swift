import ArgumentParser
import Foundation
import Report

/// `thermosweep report`: the HTML report of a sweep database.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the HTML report (plots, exponent table, excluded cells) of a sweep database.",
        discussion: """
            One self-contained file: inline SVG, no script, no network. Written to a temporary file and \
            renamed.
            """)

    @OptionGroup var database: DatabaseOption
    @OptionGroup(title: "Exclusions") var exclusion: ExclusionOptions

    @Option(help: "Output HTML file.")
    var out: String

    func validate() throws {
        guard !out.hasSuffix("/") else {
            throw ValidationError("--out '\(out)' is a folder: give a file name, e.g. \(out)report.html.")
        }
    }

    func run() throws {
        try exitOnFailure {
            let analysis = try SweepAnalysis(storePath: database.db, policy: exclusion.policy())
            try analysis.writeReport(to: out)
            print(out)
            print(analysis.summaryLine)
        }
    }
}
