import ArgumentParser
import Foundation
import Report

/// `thermosweep export`: cells.csv, filters.csv and fits.json from a sweep database.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write cells.csv, filters.csv and fits.json of a sweep database into a folder.",
        discussion: """
            Each file is written to a temporary file and renamed, so a reader never sees a partial file. \
            Two databases with the same results give byte-identical files, except the last three columns \
            of cells.csv (samples_per_s, wall_s, worker). Columns and units: docs/EXPORTS.md.
            """)

    @OptionGroup var database: DatabaseOption
    @OptionGroup(title: "Exclusions") var exclusion: ExclusionOptions

    @Option(help: "Output folder (created if needed).")
    var out: String

    func run() throws {
        try exitOnFailure {
            let analysis = try SweepAnalysis(storePath: database.db, policy: exclusion.policy())
            for file in try analysis.writeExports(to: out) { print(file) }
        }
    }
}
