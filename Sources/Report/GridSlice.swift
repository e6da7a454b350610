// The parts of a grid that the report's heat map, diverged runs and stationarity table show one at
// a time: one per momentum where the grid varies it (cells of two momenta are different cells),
// else the whole grid.
import ScalingLaw

/// One part of the grid: the cells of one momentum, or every cell.
struct GridSlice {
    /// `m = 0.5`; nil for the whole grid of a grid of one momentum (no heading).
    var title: String?
    /// The momentum of its cells; nil: every cell (the grid has one).
    var momentum: Double?

    func contains(_ run: CellRun) -> Bool { momentum.map { $0 == run.momentum } ?? true }
    func contains(_ problem: JobProblem) -> Bool { momentum.map { $0 == problem.momentum } ?? true }

    /// The fit of (group, estimator) over the slice's runs against η: the fit of its momentum, or
    /// the one fit of a grid of one momentum.
    func fit(_ fits: SweepFits, group: String, estimator: Estimator) -> GroupFit? {
        guard let momentum else { return fits.fit(group: group, estimator: estimator) }
        return fits.fits.first { $0.group == group && $0.estimator == estimator.rawValue && $0.momentum == momentum }
    }

    /// `text` followed by `, m = 0.5` (as is for the whole grid).
    func naming(_ text: String) -> String { title.map { "\(text), \($0)" } ?? text }
}

extension SweepData {
    /// One slice per momentum where the grid varies it, in the grid's order; else the whole grid.
    var slices: [GridSlice] {
        guard spec.variesMomentum else { return [GridSlice()] }
        return spec.momentumValues.map { GridSlice(title: "m = \(Text.number($0))", momentum: $0) }
    }
}
