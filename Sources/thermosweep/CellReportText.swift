import Session
import Cell
import Thermometer
import Trainer

/// The human-readable form of a `CellResult`: temperatures per group and estimator, filter
/// spreads, final loss and accuracy, speed.
struct CellReportText {
    let result: CellResult
    let warmStartSteps: Int

    func render() -> String {
        let s = result.spec
        let t = result.thermometer
        var out: [String] = []
        out.append("\(s.model.rawValue) on \(result.dataset) (\(result.parameterCount) parameters)  "
                   + "η = \(s.learningRate)  |B| = \(s.batchSize)  seed \(s.seed)"
                   + (s.momentum > 0 ? "  momentum \(s.momentum)" : "")
                   + (s.batchMode == .shuffle ? "  epoch shuffle" : ""))
        if let input = result.inputStatistics {
            let list = { (values: [Double]) in values.map { Format.fixed($0, digits: 4) }.joined(separator: ", ") }
            out.append("input standardised with the training set's mean \(list(input.mean)) and sd \(list(input.std)) "
                       + (input.channels > 1 ? "(per channel, " : "(") + "rounded to 4 decimals)")
        }
        let w = s.warmStart
        let calibration = s.calibrationProbes > 0
            ? "calibration \(t.calibrationPointCount) × \(s.calibrationProbes) probes of \(s.probeBatchSize)"
            : "no calibration"
        out.append("warm start \(w.epochs) epochs at η = \(w.learningRate), |B| = \(w.batchSize) (\(warmStartSteps) steps)  "
                   + "burn-in \(result.burnInSteps)  window \(result.measureSteps) steps in \(t.blockCount) blocks  "
                   + calibration)
        if let d = result.divergence {
            out.append("DIVERGED: \(d) — excluded from fits")
        }
        out.append("")

        var table = TextTable(["group", "params", "estimator", "T", "SE(ln T)", "calib", "FDR", "flags"],
                              leftAligned: [0, 2, 7])
        for g in t.groups {
            for (i, e) in g.estimates.enumerated() {
                table.add([i == 0 ? g.name : "", i == 0 ? "\(g.count)" : "", e.estimator.rawValue,
                           e.value.map { Format.scientific($0) } ?? "n/a",
                           e.seLogT.map { Format.fixed($0, digits: 3) } ?? "n/a",
                           i == 0 ? (g.calibrationRatio.map { Format.fixed($0, digits: 3) } ?? "n/a") : "",
                           i == 0 ? (g.fluctuationDissipationRatio.map { Format.fixed($0, digits: 3) } ?? "n/a") : "",
                           i == 0 ? g.flags.map(\.rawValue).joined(separator: ",") : ""])
            }
        }
        out.append(table.render())

        let filtered = t.groups.filter { !$0.filters.isEmpty }
        if !filtered.isEmpty {
            out.append("")
            out.append("per-filter temperature (diffusion; all filters in --json)")
            var ft = TextTable(["group", "filters", "min", "median", "max", "max/min"])
            for g in filtered {
                let values = g.filters.compactMap { $0.estimate(.diffusion)?.value }.sorted()
                guard let lo = values.first, let hi = values.last else {
                    ft.add([g.name, "\(g.filters.count)", "n/a", "n/a", "n/a", "n/a"])
                    continue
                }
                let n = values.count
                let median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
                ft.add([g.name, "\(g.filters.count)", Format.scientific(lo), Format.scientific(median),
                        Format.scientific(hi), lo > 0 ? Format.fixed(hi / lo, digits: 1) : "n/a"])
            }
            out.append(ft.render())
        }

        out.append("")
        if let stationary = t.loss.stationary {
            let halves = [t.loss.firstHalfMean, t.loss.secondHalfMean].map { $0.map { Format.fixed($0, digits: 4) } ?? "n/a" }
            out.append("window loss halves \(halves[0]) → \(halves[1]): \(stationary ? "stationary" : "NOT stationary")")
        }
        func line(_ name: String, _ e: Evaluation) -> String {
            "\(name)  loss \(e.loss.map { Format.fixed($0, digits: 4) } ?? "n/a")  accuracy \(Format.fixed(100 * e.accuracy, digits: 2)) %"
        }
        out.append(line("train", result.train))
        out.append(line("test ", result.test))
        out.append("speed  \(Format.grouped(result.samplesPerSecond)) samples/s (training steps, one thread)  "
                   + "wall \(Format.fixed(result.wallSeconds, digits: 1)) s")
        return out.joined(separator: "\n")
    }
}
