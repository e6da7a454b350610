import Cell
import ArgumentParser
import Foundation
import Report

/// `thermosweep fit`: the scaling-law fits of a sweep, from its database alone.
struct FitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Fit T ∝ η^a · |B|^b per group from a sweep database and print exponents and tests.",
        discussion: """
            Per group: a and b with standard errors and 95 % intervals, the one-exponent γ of ln(η/|B|), \
            the tests a + b = 0 and (a, b) = expected, the curvature F-test, R², and the runs left out and \
            why (diverged, non-stationary; the exclusion options below, docs/METHOD.md section 8). The last line is the whole-network fit. Reads the database \
            only (works while a sweep runs). Exit: 0 done, 2 refused input (no database, not a journal, \
            no results, unknown group), 1 a file could not be read, 64 a wrong option.
            """)

    @OptionGroup var database: DatabaseOption
    @OptionGroup(title: "Exclusions") var exclusion: ExclusionOptions

    @Option(help: "Estimator: diffusion (the table's default), kinetic, kinetic-sde, configurational; json lists every estimator unless one is given.")
    var estimator: String?

    @Option(help: "Only this parameter group (e.g. conv1.weight); the whole-network line is printed too.")
    var group: String?

    @Option(help: "table, json (as fits.json) or csv (one row per group and estimator; columns in docs/EXPORTS.md); json and csv hold every group and estimator unless --group or --estimator is given.")
    var format: String = "table"

    func validate() throws {
        guard ["table", "json", "csv"].contains(format) else {
            throw ValidationError("unknown --format '\(format)': choose table, json or csv.")
        }
        do { _ = try Report.estimator(named: estimator ?? "diffusion") } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        try exitOnFailure {
            let chosen = try Report.estimator(named: estimator ?? "diffusion")
            let policy = try exclusion.policy()
            let data = try SweepData.load(storePath: database.db)
            if let group, !data.groups.contains(group) {
                throw ReportError.unknownGroup(group, valid: data.groups)
            }
            if format != "table" {
                let analysis = SweepAnalysis(data: data, fits: SweepFits(data, groups: group.map { [$0] },
                                                                         estimators: estimator.map { _ in [chosen] },
                                                                         policy: policy))
                print(format == "json" ? try analysis.fitsJSON() : analysis.fitsCSV(), terminator: "")
                return
            }
            var groups = group.map { [$0] } ?? data.groups
            // The whole-network line ends the output even when one group is asked for.
            if let network = data.groups.first(where: { $0 == "network" }), !groups.contains(network) {
                groups.append(network)
            }
            let fits = SweepFits(data, groups: groups, estimators: [chosen], policy: policy)
            let text = Report.fitText(data, fits, estimator: chosen, showing: group.map { [$0] })
            print(text, terminator: "")
        }
    }
}
