// cells.csv, filters.csv and fits.json (docs/EXPORTS.md describes every column). Equal results
// give equal bytes: rows in a fixed order, numbers in shortest round-trip form, and everything
// that depends on the run (samples/s, wall time, worker) in the last columns of cells.csv only.
import Foundation
import ScalingLaw
import SweepProtocol
import Cell

/// The content of fits.json.
public struct FitsDocument: Codable, Sendable {
    /// Version of this document's shape.
    public static let currentFormat = "thermosweep-fits/1"
    public var format = Self.currentFormat
    /// `GridSpec.hash()` of `grid`.
    public var gridHash: String
    /// The journal's grid, exactly as stored (normalized).
    public var grid: GridSpec
    public var exclusionPolicy: ExclusionPolicy
    public var defaultEstimator: String
    public var groups: [String]
    public var estimators: [String]
    /// Done measure jobs, and how many of them diverged.
    public var runs: Int
    public var divergedRuns: Int
    /// Jobs without a usable result (failed, unreadable, not ended).
    public var problems: [JobProblem]
    /// The whole-network line of the default estimator.
    public var summary: String
    /// a and b of the default estimator per group under other exclusion policies.
    public var sensitivity: Sensitivity
    /// Every group × estimator, groups in layer order.
    public var fits: [GroupFit]
    /// Per group, the `diffusion` exponents split into the gradient noise σ̄² and the calibration
    /// ratio (docs/METHOD.md, 9, decomposition).
    public var decomposition: [GroupDecomposition]
}

enum Exports {
    static let cellsHeader = [
        "lr", "batch", "seed", "group", "estimator", "T", "se_log_T", "excluded", "calibration_ratio", "fdr_ratio",
        "noise_variance", "flags", "n_params", "diverged", "loss_stationary", "window_loss", "train_loss",
        "train_accuracy", "test_loss", "test_accuracy", "samples_per_s", "wall_s", "worker",
    ]
    static let filtersHeader = [
        "lr", "batch", "seed", "group", "filter", "n_params", "estimator", "T", "se_log_T", "calibration_ratio",
        "fdr_ratio", "noise_variance",
    ]

    /// The header with a `momentum` column after `batch` when the grid varies the momentum, then a
    /// `batchMode` column when it varies the batch mode (a grid of one momentum and one batch mode
    /// keeps the header it always had).
    static func header(_ base: [String], _ data: SweepData) -> [String] {
        guard let batch = base.firstIndex(of: "batch") else { return base }
        var header = base
        header.insert(contentsOf: (data.spec.variesMomentum ? ["momentum"] : [])
                      + (data.spec.variesBatchMode ? ["batchMode"] : []), at: batch + 1)
        return header
    }

    /// `row` with the run's momentum and batch mode after its batch size (field 2) where the grid
    /// varies them.
    static func withAxes(_ row: [String], _ run: CellRun, _ spec: GridSpec) -> [String] {
        var row = row
        row.insert(contentsOf: (spec.variesMomentum ? [Text.number(run.momentum)] : [])
                   + (spec.variesBatchMode ? [run.batchMode.rawValue] : []), at: 2)
        return row
    }

    /// One row per run × group × estimator.
    static func cellsCSV(_ data: SweepData, _ fits: SweepFits) -> String {
        var excluded: [ExclusionKey: String] = [:]
        // The exclusions of the fits over every run (the collapsed ones where m varies; each batch
        // mode's where it varies).
        for fit in fits.fits where fit.momentum == nil {
            for e in fit.exclusions {
                excluded[ExclusionKey(group: fit.group, estimator: fit.estimator, cell: e.cellKey(data.spec))] = e.reason
            }
        }
        let header = header(cellsHeader, data), spec = data.spec
        let columns = header.count, groups = data.groups, exclusions = excluded
        let chunks = parallelMap(chunked(data.runs)) { runs -> String in
            var csv = CSVWriter(columns: columns)
            for run in runs {
                let r = run.result
                let cell = run.cellKey
                let common = (diverged: r.divergence.map { "\($0)" } ?? "",
                              stationary: r.thermometer.loss.stationary.map { $0 ? "true" : "false" } ?? "")
                for name in groups {
                    let group = r.thermometer.group(name)
                    for estimator in SweepData.estimators {
                        let estimate = group?.estimate(estimator)
                        csv.append(withAxes([
                            Text.eta(run.learningRate), "\(run.batchSize)", "\(run.seed)", name, estimator.rawValue,
                            Text.number(estimate?.value), Text.number(estimate?.seLogT),
                            exclusions[ExclusionKey(group: name, estimator: estimator.rawValue, cell: cell)] ?? "",
                            Text.number(group?.calibrationRatio), Text.number(group?.fluctuationDissipationRatio),
                            Text.number(group?.noiseVariance),
                            group?.flags.map(\.rawValue).joined(separator: ";") ?? "missing-group",
                            group.map { "\($0.count)" } ?? "", common.diverged, common.stationary,
                            Text.number(r.thermometer.loss.mean), Text.number(r.train.loss),
                            Text.number(r.train.accuracy), Text.number(r.test.loss), Text.number(r.test.accuracy),
                            Text.number(r.samplesPerSecond), Text.number(run.wallSeconds), run.worker,
                        ], run, spec))
                    }
                }
            }
            return csv.text
        }
        return CSVWriter(header: header).text + chunks.joined()
    }

    /// Runs in about 64 consecutive chunks, so rows are built on all cores and joined in order.
    static func chunked(_ runs: [CellRun]) -> [ArraySlice<CellRun>] {
        let size = max(1, (runs.count + 63) / 64)
        return stride(from: 0, to: runs.count, by: size).map { runs[$0..<min($0 + size, runs.count)] }
    }

    /// One row per run × group × filter × estimator (conv layers only).
    static func filtersCSV(_ data: SweepData) -> String {
        let header = header(filtersHeader, data), spec = data.spec
        let columns = header.count, groups = data.groups
        let chunks = parallelMap(chunked(data.runs)) { runs -> String in
            var csv = CSVWriter(columns: columns)
            for run in runs {
                for name in groups {
                    guard let group = run.result.thermometer.group(name) else { continue }
                    for filter in group.filters {
                        for estimator in SweepData.estimators {
                            let estimate = filter.estimate(estimator)
                            csv.append(withAxes([
                                Text.eta(run.learningRate), "\(run.batchSize)", "\(run.seed)", name, "\(filter.index)",
                                "\(filter.count)", estimator.rawValue, Text.number(estimate?.value),
                                Text.number(estimate?.seLogT), Text.number(filter.calibrationRatio),
                                Text.number(filter.fluctuationDissipationRatio), Text.number(filter.noiseVariance),
                            ], run, spec))
                        }
                    }
                }
            }
            return csv.text
        }
        return CSVWriter(header: header).text + chunks.joined()
    }

    static func document(_ data: SweepData, _ fits: SweepFits) -> FitsDocument {
        FitsDocument(
            gridHash: data.specHash, grid: data.spec,
            exclusionPolicy: fits.policy, defaultEstimator: Estimator.diffusion.rawValue, groups: data.groups,
            estimators: SweepData.estimators.map(\.rawValue), runs: data.runs.count,
            divergedRuns: data.runs.filter { $0.result.diverged }.count, problems: data.problems,
            summary: Report.summaryLine(fits), sensitivity: Sensitivity(data, used: fits), fits: fits.fits,
            decomposition: Decomposition.all(data, fits))
    }

    /// The columns of `fit --format csv` (docs/EXPORTS.md): one row per group and estimator.
    static let fitsCSVHeader = [
        "group", "estimator", "cells_used", "runs_excluded", "a", "a_se", "a_lo95", "a_hi95", "b", "b_se", "b_lo95",
        "b_hi95", "c", "c_se", "gamma", "gamma_se", "collapse_p", "expected_a", "expected_b", "expected_p",
        "curvature_p", "r2", "chi2_per_dof", "dof", "no_fit_reason",
    ]

    /// One row per fit of `fits`, in their order; a group without a fit has only its reason.
    /// Where the batch mode varies, a `batchMode` column after `estimator`: the mode of the fit's
    /// runs. Where the momentum varies, a `momentum` column after it: m of a per-m fit,
    /// `collapsed` for the fit of every run against η/(1 − m).
    static func fitsCSV(_ fits: [GroupFit]) -> String {
        let varies = fits.contains { $0.momentum != nil || $0.fittedAgainst != nil }
        let variesMode = fits.contains { $0.batchMode != nil }
        let header = Array(fitsCSVHeader[..<2]) + (variesMode ? ["batchMode"] : []) + (varies ? ["momentum"] : [])
            + fitsCSVHeader[2...]
        var csv = CSVWriter(header: header)
        for fit in fits {
            let momentum = (variesMode ? [fit.batchMode?.rawValue ?? ""] : [])
                + (varies ? [fit.momentum.map { Text.number($0) } ?? "collapsed"] : [])
            let r = fit.result, f = r.fit
            func estimate(_ e: Estimate?) -> [String] { [Text.number(e?.value), Text.number(e?.standardError)] }
            func interval(_ e: Estimate?) -> [String] { [Text.number(e?.interval.lower), Text.number(e?.interval.upper)] }
            csv.append([fit.group, fit.estimator] + momentum + [f.map { "\($0.cellsUsed)" } ?? "0", "\(fit.exclusions.count)"]
                       + estimate(f?.a) + interval(f?.a) + estimate(f?.b) + interval(f?.b) + estimate(f?.c)
                       + estimate(f?.oneExponent?.gamma)
                       + [Text.number(f?.collapse?.pValue), Text.number(r.options.expectedExponents.a),
                          Text.number(r.options.expectedExponents.b), Text.number(f?.expectedExponents?.pValue),
                          Text.number(f?.curvature?.pValue), Text.number(f?.rSquared), Text.number(f?.reducedChiSquare),
                          f.map { "\($0.degreesOfFreedom)" } ?? "", f == nil ? r.failure?.message ?? "unknown" : ""])
        }
        return csv.text
    }

    /// fits.json: sorted keys, two-space indentation, a final newline.
    static func fitsJSON(_ document: FitsDocument) throws(ReportError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(document)) + [UInt8(ascii: "\n")]
        } catch {
            throw .write(path: "fits.json", detail: "the fits cannot be written as JSON: \(error)")
        }
    }
}

struct ExclusionKey: Hashable {
    var group: String
    var estimator: String
    var cell: CellKey
}
