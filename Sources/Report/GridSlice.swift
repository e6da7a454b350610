// The parts of a grid that the report's heat map, diverged runs and stationarity table show one at
// a time: one per batch mode and momentum where the grid varies them (cells of two momenta or two
// modes are different cells), else the whole grid.
import Cell
import ScalingLaw

/// One part of the grid: the cells of one batch mode and one momentum, or every cell.
struct GridSlice {
    /// `shuffle batches, m = 0.5`; nil for the whole grid of a grid of one batch mode and one
    /// momentum (no heading).
    var title: String?
    /// The batch mode of its cells; nil: every cell (the grid has one).
    var batchMode: BatchMode?
    /// The momentum of its cells; nil: every cell (the grid has one).
    var momentum: Double?

    func contains(_ run: CellRun) -> Bool {
        (batchMode.map { $0 == run.batchMode } ?? true) && (momentum.map { $0 == run.momentum } ?? true)
    }

    func contains(_ problem: JobProblem) -> Bool {
        (batchMode.map { $0 == problem.batchMode } ?? true) && (momentum.map { $0 == problem.momentum } ?? true)
    }

    /// The fit of (group, estimator) over the slice's runs against η: the fit of its momentum and
    /// batch mode, or the one fit of a grid of one momentum.
    func fit(_ fits: SweepFits, group: String, estimator: Estimator) -> GroupFit? {
        guard let momentum else { return fits.fit(group: group, estimator: estimator, batchMode: batchMode) }
        return fits.fits.first {
            $0.group == group && $0.estimator == estimator.rawValue && $0.momentum == momentum
                && $0.batchMode == batchMode
        }
    }

    /// `text` followed by `, m = 0.5` (as is for the whole grid).
    func naming(_ text: String) -> String { title.map { "\(text), \($0)" } ?? text }
}

extension SweepData {
    /// The grid's batch modes where it varies them (in the grid's order), else one nil.
    var batchModeSlices: [BatchMode?] { spec.variesBatchMode ? spec.batchModeValues : [nil] }

    /// One slice per batch mode and momentum where the grid varies them, in the grid's order; else
    /// the whole grid.
    var slices: [GridSlice] {
        let momenta: [Double?] = spec.variesMomentum ? spec.momentumValues : [nil]
        return batchModeSlices.flatMap { mode in
            momenta.map { m in
                let parts = [mode.map { "\($0.rawValue) batches" }, m.map { "m = \(Text.number($0))" }].compactMap { $0 }
                return GridSlice(title: parts.isEmpty ? nil : parts.joined(separator: ", "), batchMode: mode, momentum: m)
            }
        }
    }
}
