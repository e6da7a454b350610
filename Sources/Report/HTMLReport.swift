// The HTML report: one self-contained XHTML-compatible file (inline SVG and CSS, no script, no
// network), readable in any browser and parseable as XML.
import Foundation
import Cell
import ScalingLaw
import SweepProtocol

struct HTMLReport {
    let data: SweepData
    let fits: SweepFits
    /// The estimator of the per-layer plots, heat map and filter plots.
    let estimator: Estimator = .diffusion
    private let runsByKey: [CellKey: CellRun]
    /// Series drawn at most per plot (|B| or η values), so large grids stay readable.
    static let maxSeries = 8

    init(_ analysis: SweepAnalysis) {
        data = analysis.data
        fits = analysis.fits
        runsByKey = Dictionary(analysis.data.runs.map {
            ($0.cellKey, $0)
        }, uniquingKeysWith: { a, _ in a })
    }

    func render() -> String {
        var h = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
            + "<meta charset=\"utf-8\"/>\n<title>ThermoSweep report \(escapeHTML(data.specHash))</title>\n"
            + "<style>\(Self.css)</style>\n</head>\n<body>\n"
        h += header()
        h += verdict()
        h += exponentTable()
        h += sensitivitySection()
        h += decompositionSection()
        h += layerPlots()
        h += heatMap()
        h += divergenceTable()
        h += stationarityTable()
        h += flagAudit()
        h += filterPlots()
        h += weightTemperatureHistograms()
        h += firstLayerFilterPicture()
        h += lossCurves()
        h += exclusions()
        h += provenance()
        h += "</body>\n</html>\n"
        return h
    }

    static let css = """
        body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
        h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}h3{font-size:15px}
        table{border-collapse:collapse;font-size:13px;margin:8px 0}
        td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}td.l{white-space:normal}th{background:#f0f0f0}
        td.l,th.l{text-align:left}td.far{background:#f8d0d0}tr.def td{font-weight:600}.ci{font-size:11px;color:#555;font-weight:400}
        .plots{display:flex;flex-wrap:wrap;gap:8px}.plot{border:1px solid #eee}
        .ptitle{font-size:13px;font-weight:600}.tick{font-size:10px;fill:#444}.axis{font-size:12px}
        .legend{font-size:10px}.note{font-size:11px;fill:#333}.grid{stroke:#eee}
        .summary{font-family:monospace;font-size:15px;background:#f6f6f6;padding:8px}
        .muted{color:#666;font-size:13px}
        @page{size:A4;margin:12mm}
        @media print{body{margin:0;max-width:none}h2{break-after:avoid}.plot,table,tr{break-inside:avoid}
        .plots{gap:4px}table{font-size:10px}td,th{padding:2px 4px}}
        """

    // MARK: Header and verdict

    private func header() -> String {
        let s = data.spec
        let diverged = data.runs.filter { $0.result.diverged }.count
        let failed = data.problems.filter { $0.state == "failed" || $0.state == "unreadable" }.count
        let notEnded = data.problems.count - failed
        var h = "<h1>ThermoSweep: T(η, |B|) of \(escapeHTML(s.model.rawValue))</h1>\n"
        let etas = s.learningRates.map { "\($0)" }.joined(separator: ", ")
        h += "<p>Grid \(escapeHTML(data.specHash)): η ∈ {\(escapeHTML(etas))}, "
            + "|B| ∈ {\(escapeHTML(s.batchSizes.map { "\($0)" }.joined(separator: ", ")))}, \(s.seeds) seeds; data "
            + "\(escapeHTML(s.dataset.name)). \(data.runs.count) runs done (\(diverged) diverged), \(failed) failed, "
            + "\(notEnded) not ended.</p>\n"
        let summary = Report.summaryLine(fits, estimator: estimator).split(separator: "\n")
            .map { escapeHTML($0.trimmingCharacters(in: .whitespaces)) }
        h += "<p class=\"summary\">\(summary.joined(separator: "<br/>"))</p>\n"
        h += "<p class=\"muted\">Fit: weighted least squares of ln T = c + a ln η + b ln|B| on cell means over seeds; "
            + "± is the standard error, intervals are 95 %. Excluded from every fit: diverged runs"
            + (fits.policy.lossNonStationary ? ", runs whose training loss drifts over the window" : "")
            + (fits.policy.fdrOutOfRange ? ", groups whose fluctuation–dissipation ratio is outside [0, 1] by more than 2 SE" : "")
            + " (\(Sensitivity.describe(fits.policy))). Exports: cells.csv, filters.csv, fits.json.</p>\n"
        return h
    }

    private func verdict() -> String {
        var h = "<h2>Does T ∝ η/|B| hold?</h2>\n"
        guard let network = fits.fit(group: GroupReport.networkName, estimator: estimator) else {
            return h + "<p>The results hold no whole-network group.</p>\n"
        }
        guard let f = network.result.fit else {
            return h + "<p>No whole-network fit: \(escapeHTML(network.result.failure?.message ?? "unknown reason")).</p>\n"
        }
        let da = f.a.value - 1, db = f.b.value + 1
        var sentences: [String] = []
        if abs(da) <= 0.15 && abs(db) <= 0.15 {
            sentences.append("Whole network, \(estimator.rawValue): "
                + "a = \(Text.valueWithError(f.a.value, f.a.standardError)) and "
                + "b = \(Text.valueWithError(f.b.value, f.b.standardError)) are within 0.15 of (1, −1).")
        } else {
            sentences.append("Whole network, \(estimator.rawValue): the law does not hold within 0.15: "
                + "a = \(Text.valueWithError(f.a.value, f.a.standardError)) (a − 1 = \(Text.fixed(da, 3))), "
                + "b = \(Text.valueWithError(f.b.value, f.b.standardError)) (b + 1 = \(Text.fixed(db, 3))).")
        }
        sentences += Self.lawTests(f)
        if let c = f.curvature {
            sentences.append("Curvature F-test: p = \(Text.pValue(c.pValue))"
                + (c.pValue < 0.05 ? ": ln T is not linear in ln η and ln|B| over this grid." : "."))
        }
        if let rf = network.result.restricted, let fit = rf.fit {
            sentences.append("Without \(network.fittedAgainst ?? "η") = \(Text.computedEta(rf.droppedEta)) and |B| = \(rf.droppedBatchSize) (where finite-η "
                + "effects are largest): a = \(Text.valueWithError(fit.a.value, fit.a.standardError)), "
                + "b = \(Text.valueWithError(fit.b.value, fit.b.standardError)).")
        }
        let ratios = data.runs.compactMap { $0.result.thermometer.group(GroupReport.networkName)?.calibrationRatio }
        if let m = median(ratios) {
            sentences.append("Median noise-calibration ratio \(Text.fixed(m, 2)) (1 at small ηλ, 1/(1 − ηλ/2) at finite η; "
                + "above it, the diffusion is larger than η σ̄²/2|B| predicts).")
        }
        if data.spec.variesBatchMode {
            sentences.append("The batch mode varies (" + data.spec.batchModeValues.map(\.rawValue).joined(separator: ", ")
                + "): the runs of each mode are fitted apart, as their gradient noise differs; these sentences are "
                + "of the \(data.spec.batchModeValues[0].rawValue) runs, the exponent table has every mode's fits.")
        }
        if data.spec.variesMomentum {
            sentences.append("The momentum varies (m = "
                + data.spec.momentumValues.map { Text.number($0) }.joined(separator: ", ")
                + "): these exponents are fitted against \(SweepFits.effectiveLearningRate) (theory: T ∝ η/((1 − m)|B|)), "
                + "all runs collapsed; the exponent table also has one fit per m, against η.")
        }
        let layerA = fits.fits.filter {
            $0.estimator == estimator.rawValue && $0.group != GroupReport.networkName && $0.momentum == nil
        }
            .compactMap { $0.result.fit?.a.value }
        if let lo = layerA.min(), let hi = layerA.max() {
            sentences.append("Per-group a ranges from \(Text.fixed(lo, 3)) to \(Text.fixed(hi, 3)).")
        }
        sentences.append("\(network.exclusions.count) of \(data.runs.count) runs are excluded from this fit (listed below).")
        h += "<p>" + escapeHTML(sentences.joined(separator: " ")) + "</p>\n"
        return h
    }

    // MARK: Exponent table

    /// An exponent further than this from its expected value is marked in the exponent table.
    static let notableDeparture = 0.15

    private func exponentTable() -> String {
        var h = "<h2>Exponents</h2>\n"
        let fitted = fits.fits.filter { $0.result.fit != nil }, unfitted = fits.fits.filter { $0.result.fit == nil }
        if !fitted.isEmpty {
            h += "<table>\n<tr><th class=\"l\">group</th><th class=\"l\">estimator</th>"
                + "<th>expected (a, b)</th><th>a ± SE<br/><span class=\"ci\">95 % interval</span></th>"
                + "<th>b ± SE<br/><span class=\"ci\">95 % interval</span></th>"
                + "<th>γ of η/|B|</th><th>p(a+b=0)</th><th>p(expected)</th><th>p(curvature)</th><th>R²</th>"
                + "<th>cells used</th><th>a, b restricted</th></tr>\n"
        }
        for fit in fitted {
            guard let f = fit.result.fit else { continue }
            let r = fit.result
            let e = r.options.expectedExponents
            h += fit.estimator == estimator.rawValue ? "<tr class=\"def\">" : "<tr>"
            h += "<td class=\"l\">\(escapeHTML(fit.group + fit.label))</td><td class=\"l\">\(escapeHTML(fit.estimator))</td>"
            h += "<td>(\(Text.fixed(e.a, 0)), \(Text.fixed(e.b, 0)))</td>"
            func exponent(_ x: Estimate, expected: Double) -> String {
                (abs(x.value - expected) > Self.notableDeparture ? "<td class=\"far\">" : "<td>")
                    + escapeHTML(Text.valueWithError(x.value, x.standardError))
                    + "<br/><span class=\"ci\">[\(Text.fixed(x.interval.lower, 3)), \(Text.fixed(x.interval.upper, 3))]</span></td>"
            }
            h += exponent(f.a, expected: e.a) + exponent(f.b, expected: e.b)
            let gamma = f.oneExponent.map { escapeHTML(Text.valueWithError($0.gamma.value, $0.gamma.standardError)) }
            h += "<td>" + (gamma ?? "–") + "</td>"
            h += "<td>\(Text.pValue(f.collapse?.pValue))</td><td>\(Text.pValue(f.expectedExponents?.pValue))</td>"
            h += "<td>\(Text.pValue(f.curvature?.pValue))</td><td>\(Text.fixed(f.rSquared, 3))</td>"
            h += "<td>\(f.cellsUsed) of \(r.cells.count + r.excludedCells.count)</td>"
            if let rf = r.restricted?.fit {
                h += "<td>\(Text.fixed(rf.a.value, 3)), \(Text.fixed(rf.b.value, 3))</td>"
            } else {
                h += "<td>–</td>"
            }
            h += "</tr>\n"
        }
        if !fitted.isEmpty {
            h += "</table>\n<p class=\"muted\">Bold: the default estimator. Red: a or b further than "
                + "\(Text.fixed(Self.notableDeparture, 2)) from the estimator's expected exponent, a departure large "
                + "enough to matter whatever its p-value. a, b restricted: the fit without the largest η and the "
                + "smallest |B|. Bootstrap intervals (seed resampling) are in fits.json.</p>\n"
        }
        // Pairs without a fit: each reason once, with the pairs it applies to.
        var byReason: [String: [String]] = [:], order: [String] = []
        for fit in unfitted {
            let reason = fit.result.failure?.message ?? "unknown reason"
            if byReason[reason] == nil { order.append(reason) }
            byReason[reason, default: []].append("\(fit.group) \(fit.estimator)")
        }
        for reason in order {
            let pairs = byReason[reason] ?? []
            let which = pairs.count == fits.fits.count ? "any of the \(pairs.count) group × estimator pairs"
                : "\(pairs.count) of \(fits.fits.count) group × estimator pairs (\(pairs.joined(separator: ", ")))"
            h += "<p>No fit for \(escapeHTML(which)): \(escapeHTML(reason)).</p>\n"
        }
        return h
    }

    // MARK: Per-layer plots

    private func layerPlots() -> String {
        var h = "<h2>T against η/|B|, η and |B| per group (\(estimator.rawValue))</h2>\n"
            + "<p class=\"muted\">Points: cell means over seeds (geometric), error bars ±1 SE of the mean of ln T as "
            + "weighted. Grey ×: excluded runs. Left: solid line the one-exponent fit T ∝ (η/|B|)^γ. Middle and right: "
            + "dashed lines the fitted law T ∝ η^a |B|^b.</p>\n"
        var empty: [String] = []
        for group in data.groups {
            // Where the batch mode varies, each mode's fits apart.
            for (index, mode) in data.batchModeSlices.enumerated() {
                guard let fit = fits.fit(group: group, estimator: estimator, batchMode: mode) else { continue }
                if fit.result.cells.isEmpty && excludedPoints(fit).isEmpty {
                    if index == 0 { empty.append(group) }
                    continue
                }
                let id = index == 0 ? " id=\"group-\(escapeHTML(group))\"" : ""
                h += "<h3\(id)>\(escapeHTML(group + (mode.map { ", \($0.rawValue) batches" } ?? "")))</h3>\n<div class=\"plots\">"
                h += collapsePlot(fit) + etaPlot(fit, byEta: true) + etaPlot(fit, byEta: false)
                h += "</div>\n"
                // Where the momentum varies, the fit above is the collapsed one; then one row per m.
                for perMomentum in fits.fits where perMomentum.group == group && perMomentum.estimator == estimator.rawValue
                    && perMomentum.momentum != nil && perMomentum.batchMode == mode {
                    guard !(perMomentum.result.cells.isEmpty && excludedPoints(perMomentum).isEmpty) else { continue }
                    h += "<h3>\(escapeHTML(group + perMomentum.label))</h3>\n<div class=\"plots\">"
                    h += collapsePlot(perMomentum) + etaPlot(perMomentum, byEta: true) + etaPlot(perMomentum, byEta: false)
                    h += "</div>\n"
                }
            }
        }
        if !empty.isEmpty {
            let which = empty.count == data.groups.count ? "any group" : empty.joined(separator: ", ")
            h += "<p>Nothing to plot for \(escapeHTML(which)): no run has a positive \(estimator.rawValue) temperature "
                + "there (see the diverged runs under the grid).</p>\n"
        }
        return h
    }

    /// The y axis of every T plot: the diffusion temperature is in units of the loss (docs/METHOD.md, 4).
    static let temperatureLabel = "T (diffusion), loss units"

    private func excludedPoints(_ fit: GroupFit) -> [(eta: Double, batch: Int, t: Double)] {
        fit.exclusions.compactMap { e in
            guard let run = runsByKey[e.cellKey(data.spec)],
                  let t = run.result.thermometer.group(fit.group)?.estimate(estimator)?.value, t > 0 else { return nil }
            // Where the fit put the run: at η/(1 − m) in a collapsed fit.
            return (fit.fittedAgainst != nil ? e.learningRate / (1 - run.momentum) : e.learningRate, e.batchSize, t)
        }
    }

    private func errorBar(_ c: CellSummary, _ r: ScalingLawResult) -> (Double?, Double?) {
        guard r.weighting != .equalWeights, c.varianceOfMean > 0 else { return (nil, nil) }
        let se = c.varianceOfMean.squareRoot()
        return (exp(c.meanLogT - se), exp(c.meanLogT + se))
    }

    private func collapsePlot(_ fit: GroupFit) -> String {
        let r = fit.result
        let excluded = excludedPoints(fit)
        let xs = r.cells.map { $0.eta / Double($0.batchSize) } + excluded.map { $0.eta / Double($0.batch) }
        let ys = r.cells.map { exp($0.meanLogT) } + excluded.map(\.t)
        let eta = fit.fittedAgainst ?? "η"
        var plot = Plot(title: "\(fit.group)\(fit.label): T against \(eta)/|B|",
                        x: Axis(xs, log: true, label: "\(eta)/|B| (per sample)"),
                        y: Axis(ys, log: true, label: Self.temperatureLabel), legend: true)
        let batches = Array(Set(r.cells.map(\.batchSize))).sorted()
        for (i, b) in batches.enumerated() {
            let color = rampColor(batches.count > 1 ? Double(i) / Double(batches.count - 1) : 0)
            let cells = r.cells.filter { $0.batchSize == b }
            plot.points(cells.map { c in
                let (lo, hi) = errorBar(c, r)
                return (c.eta / Double(b), exp(c.meanLogT), lo, hi)
            }, color: color)
        }
        for (i, b) in spread(Array(batches.enumerated()), limit: Self.maxSeries) {
            plot.addLegend("|B| = \(b)", color: rampColor(batches.count > 1 ? Double(i) / Double(batches.count - 1) : 0))
        }
        plot.crosses(excluded.map { ($0.eta / Double($0.batch), $0.t) }, color: "#999")
        if let g = r.fit?.oneExponent, let lo = xs.min(), let hi = xs.max(), lo > 0 {
            plot.line([lo, hi].map { ($0, exp(g.intercept.value + g.gamma.value * log($0))) }, color: "#c00", width: 1.8)
            plot.note("γ = \(Text.valueWithError(g.gamma.value, g.gamma.standardError))")
        } else if let failure = r.failure {
            plot.note("no fit: \(failure.kind.rawValue)")
        }
        return plot.svg()
    }

    /// T against η at each |B| (byEta), or against |B| at each η.
    private func etaPlot(_ fit: GroupFit, byEta: Bool) -> String {
        let r = fit.result
        let excluded = excludedPoints(fit)
        func xOf(_ eta: Double, _ b: Int) -> Double { byEta ? eta : Double(b) }
        let xs = r.cells.map { xOf($0.eta, $0.batchSize) } + excluded.map { xOf($0.eta, $0.batch) }
        let ys = r.cells.map { exp($0.meanLogT) } + excluded.map(\.t)
        let eta = fit.fittedAgainst ?? "η"
        let title = byEta ? "\(fit.group)\(fit.label): T against \(eta) at each |B|"
            : "\(fit.group)\(fit.label): T against |B| at each \(eta)"
        var xAxis = Axis(xs, log: true, label: byEta ? "\(eta) (learning rate)" : "|B| (samples per batch)")
        // A collapsed fit's η axis holds the η/(1 − m) of its cells, not the grid's η values.
        let etaTicks = fit.fittedAgainst == nil ? data.spec.learningRates.sorted()
            : Array(Set(r.cells.map(\.eta) + excluded.map(\.eta))).sorted()
        xAxis.explicitTicks = byEta ? etaTicks : data.spec.batchSizes.sorted().map(Double.init)
        var plot = Plot(title: title, x: xAxis, y: Axis(ys, log: true, label: Self.temperatureLabel), legend: true)
        let seriesKeys: [Double] = byEta
            ? Array(Set(r.cells.map { Double($0.batchSize) })).sorted() : Array(Set(r.cells.map(\.eta))).sorted()
        let shown = spread(seriesKeys, limit: Self.maxSeries)
        for (i, key) in shown.enumerated() {
            let color = rampColor(shown.count > 1 ? Double(i) / Double(shown.count - 1) : 0)
            let cells = r.cells.filter { byEta ? Double($0.batchSize) == key : $0.eta == key }
                .sorted { xOf($0.eta, $0.batchSize) < xOf($1.eta, $1.batchSize) }
            plot.points(cells.map { c in
                let (lo, hi) = errorBar(c, r)
                return (xOf(c.eta, c.batchSize), exp(c.meanLogT), lo, hi)
            }, color: color)
            if let f = r.fit, let lo = xs.min(), let hi = xs.max() {
                let line = [lo, hi].map { x -> (Double, Double) in
                    let eta = byEta ? x : key, b = byEta ? key : x
                    return (x, exp(f.c.value + f.a.value * log(eta) + f.b.value * log(b)))
                }
                plot.line(line, color: color, dashed: true, width: 1)
            }
            plot.addLegend(byEta ? "|B| = \(Int(key))" : "η = \(key)", color: color)
        }
        plot.crosses(excluded.map { (xOf($0.eta, $0.batch), $0.t) }, color: "#999")
        if seriesKeys.count > shown.count {
            plot.note("\(shown.count) of \(seriesKeys.count) \(byEta ? "|B|" : "η") values shown")
        }
        if let f = r.fit {
            plot.note("a = \(Text.valueWithError(f.a.value, f.a.standardError)), "
                + "b = \(Text.valueWithError(f.b.value, f.b.standardError))")
        }
        return plot.svg()
    }

    // MARK: Heat map

    /// `measured`: the cell's geometric-mean T over its seeds and, when the law was fitted, the residual.
    private enum CellState { case measured(Double, Double?), diverged, failed, nonStationary, excluded, pending, missing }

    /// One heat map per slice of the grid (per momentum where it varies, each under its heading).
    private func heatMap() -> String {
        let group = data.groups.contains(GroupReport.networkName) ? GroupReport.networkName : (data.groups.first ?? "")
        var maps = ""
        for slice in data.slices {
            guard let fit = slice.fit(fits, group: group, estimator: estimator) else { continue }
            maps += (slice.title.map { "<h3>\(escapeHTML($0))</h3>\n" } ?? "") + heatMap(fit, slice) + "\n"
        }
        guard !maps.isEmpty else { return "" }
        return "<h2>Grid</h2>\n<p class=\"muted\">Whole network, \(estimator.rawValue). Colour and first line: T of the cell "
            + "(geometric mean over its seeds, loss units; the colour is logarithmic). Second line: r, the residual of the "
            + "cell mean of ln T from the fitted law (positive above the law). Hover a cell for both.</p>\n" + maps
    }

    /// The heat map of `slice`'s cells, against `fit` (the slice's fit against η).
    private func heatMap(_ fit: GroupFit, _ slice: GridSlice) -> String {
        let group = fit.group
        let etas = data.spec.learningRates.sorted(by: >), batches = data.spec.batchSizes.sorted()
        var residual: [String: Double] = [:], t: [String: Double] = [:]
        func key(_ eta: Double, _ b: Int) -> String { "\(eta)/\(b)" }
        for c in fit.result.cells {
            if let r = c.residual { residual[key(c.eta, c.batchSize)] = r }
            t[key(c.eta, c.batchSize)] = exp(c.meanLogT)
        }
        var failed = Set<String>(), pending = Set<String>(), diverged = Set<String>(), nonStationary = Set<String>()
        var excluded = Set<String>()
        for p in data.problems where slice.contains(p) {
            guard let eta = p.learningRate, let b = p.batchSize else { continue }
            if p.state == "failed" || p.state == "unreadable" { failed.insert(key(eta, b)) } else { pending.insert(key(eta, b)) }
        }
        for run in data.runs where run.result.diverged && slice.contains(run) {
            diverged.insert(key(run.learningRate, run.batchSize))
        }
        for e in fit.exclusions {
            if e.reason == ExclusionReason.nonStationary.rawValue { nonStationary.insert(key(e.learningRate, e.batchSize)) }
            excluded.insert(key(e.learningRate, e.batchSize))
        }
        // A failed job or a diverged seed marks its cell; a fitted cell otherwise shows its T, also
        // when a seed was left out on its own for drift (per-run exclusions).
        func state(_ k: String) -> CellState {
            if failed.contains(k) { return .failed }
            if diverged.contains(k) { return .diverged }
            if let v = t[k] { return .measured(v, residual[k]) }
            if nonStationary.contains(k) { return .nonStationary }
            if excluded.contains(k) { return .excluded }
            if pending.contains(k) { return .pending }
            return .missing
        }
        // Colour: ln T between the smallest and the largest T of the fitted cells.
        let lnLow = log(t.values.min() ?? 1), lnHigh = log(t.values.max() ?? 1)
        func position(_ v: Double) -> Double { lnHigh > lnLow ? (log(v) - lnLow) / (lnHigh - lnLow) : 0.5 }
        let cell = min(56, max(8, 700 / Double(max(batches.count, etas.count))))
        let showText = etas.count * batches.count <= 400 && cell >= 30
        let left = 70.0, top = 30.0
        let width = left + cell * Double(batches.count) + 20, height = top + cell * Double(etas.count) + 110
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" class=\"plot\" role=\"img\">"
            + "<title>grid heat map</title>"
        s += "<text x=\"\(Int(left))\" y=\"18\" class=\"ptitle\">\(escapeHTML(slice.naming(group))): T of each cell (colour, first line), "
            + "residual ln T − fit (second line); states marked</text>"
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        for (i, eta) in etas.enumerated() {
            let y = top + cell * Double(i)
            s += "<text x=\"\(f(left - 4))\" y=\"\(f(y + cell / 2 + 4))\" text-anchor=\"end\" class=\"tick\">η=\(escapeHTML(Axis.label(eta)))</text>"
            for (j, b) in batches.enumerated() {
                let x = left + cell * Double(j)
                let k = key(eta, b)
                let (fill, label): (String, String)
                var second = "", dark = false
                switch state(k) {
                case .measured(let v, let r):
                    (fill, label) = (rampColor(position(v)), Text.significant(v))
                    second = r.map { String(format: "r %+.2f", $0) } ?? ""
                    dark = position(v) < 0.45
                case .diverged: (fill, label) = ("#444", "div")
                case .failed: (fill, label) = ("#000", "fail")
                case .nonStationary: (fill, label) = ("#bbb", "n-s")
                case .excluded: (fill, label) = ("#ddd", "excl")
                case .pending: (fill, label) = ("#fff", "…")
                case .missing: (fill, label) = ("#fff", "")
                }
                let tip = "η = \(eta), |B| = \(b)" + (t[k].map { ", T = \(Text.significant($0))" } ?? "")
                    + (residual[k].map { ", residual of ln T \(String(format: "%+.3f", $0))" } ?? "")
                    + (t[k] == nil && !label.isEmpty ? ": \(label)" : "")
                s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cell - 1))\" height=\"\(f(cell - 1))\" fill=\"\(fill)\" stroke=\"#999\" stroke-width=\"0.5\"><title>\(escapeHTML(tip))</title></rect>"
                if showText && !label.isEmpty {
                    if ["div", "fail"].contains(label) { dark = true }
                    let style = dark ? " style=\"fill:#fff\"" : ""
                    let y1 = second.isEmpty ? y + cell / 2 + 4 : y + cell / 2 - 2
                    s += "<text x=\"\(f(x + cell / 2))\" y=\"\(f(y1))\" text-anchor=\"middle\" class=\"tick\"\(style)>\(escapeHTML(label))</text>"
                    if !second.isEmpty {
                        s += "<text x=\"\(f(x + cell / 2))\" y=\"\(f(y1 + 12))\" text-anchor=\"middle\" class=\"tick\"\(style)>\(escapeHTML(second))</text>"
                    }
                }
            }
        }
        let yAxis = top + cell * Double(etas.count)
        for (j, b) in batches.enumerated() where batches.count <= 30 || j % ((batches.count + 29) / 30) == 0 {
            s += "<text x=\"\(f(left + cell * (Double(j) + 0.5)))\" y=\"\(f(yAxis + 14))\" text-anchor=\"middle\" class=\"tick\">\(b)</text>"
        }
        s += "<text x=\"\(f(left + cell * Double(batches.count) / 2))\" y=\"\(f(yAxis + 30))\" text-anchor=\"middle\" class=\"axis\">|B| (samples per batch)</text>"
        // Colour bar and state legend.
        let barY = yAxis + 44
        if !t.isEmpty {
            for i in 0..<21 {
                s += "<rect x=\"\(f(left + Double(i) * 10))\" y=\"\(f(barY))\" width=\"10\" height=\"12\" fill=\"\(rampColor(Double(i) / 20))\"/>"
            }
            s += "<text x=\"\(f(left))\" y=\"\(f(barY + 26))\" class=\"tick\">T = \(Text.significant(exp(lnLow)))</text>"
            s += "<text x=\"\(f(left + 210))\" y=\"\(f(barY + 26))\" text-anchor=\"end\" class=\"tick\">\(Text.significant(exp(lnHigh)))</text>"
        }
        var lx = left + 230
        for (fill, label) in [("#444", "div: diverged"), ("#000", "fail: failed"), ("#bbb", "n-s: non-stationary"),
                              ("#ddd", "excl: other exclusion"), ("#fff", "…: not ended")] {
            s += "<rect x=\"\(f(lx))\" y=\"\(f(barY))\" width=\"12\" height=\"12\" fill=\"\(fill)\" stroke=\"#999\"/>"
            s += "<text x=\"\(f(lx + 16))\" y=\"\(f(barY + 10))\" class=\"legend\">\(escapeHTML(label))</text>"
            lx += 16 + 7 * Double(label.count) + 14
        }
        s += "</svg>"
        let svgWidth = max(width, lx + 10)
        return s.replacingOccurrences(of: "width=\"\(Int(width))\"", with: "width=\"\(Int(svgWidth))\"")
    }

    // MARK: Stationarity and calibration

    /// One table per slice of the grid (per momentum where it varies, each under its heading).
    private func stationarityTable() -> String {
        "<h2>Calibration and stationarity</h2>\n" + data.slices.map { slice in
            (slice.title.map { "<h3>\(escapeHTML($0))</h3>\n" } ?? "") + stationarityTable(data.runs.filter { slice.contains($0) })
        }.joined()
    }

    private func stationarityTable(_ runs: [CellRun]) -> String {
        let live = runs.filter { !$0.result.diverged }
        guard !live.isEmpty else { return "<p>No run finished without diverging.</p>\n" }
        let drifting = live.filter { $0.result.thermometer.loss.stationary == false }.count
        var h = "<p class=\"muted\">Over the \(live.count) runs that did not diverge. "
            + "\(drifting) of them have a training loss that drifts over the window (halves differ by ≥ 2 SE, each run tested alone; the fits use the corrected test of section "
            + "Sensitivity to the exclusions). "
            + "Calibration ratio: diffusion / (η σ̄²/2|B|), 1/(1 − ηλ/2) ≥ 1 at finite ηλ. FDR: fluctuation–dissipation "
            + "ratio, 1 when stationary. Flag counts as in the section Flags.</p>\n<table>\n<tr><th class=\"l\">group</th>"
            + "<th>median calibration ratio</th><th>calibration flagged</th><th>median FDR ratio</th>"
            + "<th>FDR flagged</th></tr>\n"
        for group in data.groups {
            let reports = live.compactMap { $0.result.thermometer.group(group) }
            let n = max(reports.count, 1)
            let cal = reports.filter { $0.flags.contains(.calibrationOutOfRange) }.count
            let fdr = reports.filter { $0.flags.contains(.fdrOutOfRange) }.count
            h += "<tr><td class=\"l\">\(escapeHTML(group))</td>"
                + "<td>\(Text.fixed(median(reports.compactMap(\.calibrationRatio)), 2))</td>"
                + "<td>\(cal) (\(Text.fixed(100 * Double(cal) / Double(n), 0)) %)</td>"
                + "<td>\(Text.fixed(median(reports.compactMap(\.fluctuationDissipationRatio)), 2))</td>"
                + "<td>\(fdr) (\(Text.fixed(100 * Double(fdr) / Double(n), 0)) %)</td></tr>\n"
        }
        return h + "</table>\n"
    }

    // MARK: Filters

    private func filterPlots() -> String {
        var h = "<h2>Filter temperatures (\(estimator.rawValue))</h2>\n<p class=\"muted\">Per conv filter: T of the "
            + "filter divided by T of its layer, over all runs that did not diverge. Box: quartiles and median; "
            + "whiskers: 5th to 95th percentile.</p>\n<div class=\"plots\">"
        var any = false
        for group in data.groups {
            var ratios: [Int: [Double]] = [:]
            for run in data.runs where !run.result.diverged {
                guard let g = run.result.thermometer.group(group), let layerT = g.estimate(estimator)?.value,
                      layerT > 0 else { continue }
                for filter in g.filters {
                    if let t = filter.estimate(estimator)?.value, t > 0 { ratios[filter.index, default: []].append(t / layerT) }
                }
            }
            guard !ratios.isEmpty else { continue }
            any = true
            let indices = ratios.keys.sorted()
            let all = ratios.values.flatMap { $0 }
            var plot = Plot(title: "\(group): filter T / layer T",
                            x: Axis(indices.map(Double.init) + [Double(indices.first ?? 0) - 0.5, Double(indices.last ?? 0) + 0.5],
                                    log: false, label: "filter (output channel)"),
                            y: Axis(all, log: true, label: "T of filter / T of layer (ratio)"), width: max(430, 36 * Double(indices.count) + 80))
            plot.hline(1, color: "#555")
            var medians: [(Int, Double)] = []
            for i in indices {
                let v = (ratios[i] ?? []).sorted()
                guard !v.isEmpty else { continue }
                let q = { (p: Double) -> Double in quantile(v, p) }
                plot.box(at: Double(i), halfWidth: min(12, 300 / Double(indices.count)), low: q(0.05), q1: q(0.25),
                         median: q(0.5), q3: q(0.75), high: q(0.95), color: "#3b528b")
                medians.append((i, q(0.5)))
            }
            if let hot = medians.max(by: { $0.1 < $1.1 }), let cold = medians.min(by: { $0.1 < $1.1 }) {
                plot.note("median ratio: hottest filter \(hot.0) (×\(Text.significant(hot.1))), coldest \(cold.0) "
                    + "(×\(Text.significant(cold.1)))")
            }
            h += plot.svg()
        }
        if !any { h += "<p>The results hold no per-filter temperatures.</p>" }
        return h + "</div>\n"
    }

    // MARK: Loss

    private func lossCurves() -> String {
        var h = "<h2>Training loss over the measurement window</h2>\n<p class=\"muted\">Mean training loss per window "
            + "block, averaged over seeds (diverged runs left out). The results record the window only, not the warm "
            + "start or the burn-in, so there is no curve from the start of training.</p>\n<div class=\"plots\">"
        let etas = spread(data.spec.learningRates.sorted(), limit: Self.maxSeries)
        let batches = spread(data.spec.batchSizes.sorted(), limit: Self.maxSeries)
        var drawn = false
        for eta in etas {
            var series: [(Int, [(Double, Double)])] = []
            for b in batches {
                let runs = data.runs.filter { $0.learningRate == eta && $0.batchSize == b && !$0.result.diverged }
                let blocks = runs.map { $0.result.thermometer.loss.blockMeans }
                let n = blocks.map(\.count).max() ?? 0
                var pts: [(Double, Double)] = []
                for k in 0..<n {
                    let values = blocks.compactMap { k < $0.count ? $0[k] : nil }
                    if !values.isEmpty { pts.append((Double(k + 1), values.reduce(0, +) / Double(values.count))) }
                }
                if !pts.isEmpty { series.append((b, pts)) }
            }
            guard !series.isEmpty else { continue }
            drawn = true
            let xs = series.flatMap { $0.1.map(\.0) }, ys = series.flatMap { $0.1.map(\.1) }
            var plot = Plot(title: "η = \(eta)", x: Axis(xs, log: false, label: "window block (tenths of the window)"),
                            y: Axis(ys, log: false, label: "training loss (nats)"), width: 340, height: 260, legend: true)
            for (b, pts) in series {
                // Colour by the |B| value's place in the grid, the same in every panel.
                let i = batches.firstIndex(of: b) ?? 0
                let color = rampColor(batches.count > 1 ? Double(i) / Double(batches.count - 1) : 0)
                plot.line(pts, color: color)
                plot.points(pts.map { ($0.0, $0.1, nil, nil) }, color: color, radius: 2)
                plot.addLegend("|B| = \(b)", color: color)
            }
            h += plot.svg()
        }
        if !drawn { h += "<p>No run recorded window losses.</p>" }
        return h + "</div>\n"
    }

    // MARK: Exclusions and problems

    private func exclusions() -> String {
        var h = "<h2>Excluded runs and unfinished jobs</h2>\n"
        let limit = 300
        for mode in data.batchModeSlices {
            guard let fit = fits.fit(group: GroupReport.networkName, estimator: estimator, batchMode: mode)
                ?? fits.fits.first(where: { $0.batchMode == mode }) else { continue }
            h += "<h3>Excluded from the \(escapeHTML(fit.group)) \(escapeHTML(fit.estimator + (mode.map { ", \($0.rawValue) batches" } ?? ""))) fit</h3>\n"
            if fit.exclusions.isEmpty {
                h += "<p>None.</p>\n"
            } else {
                h += cappedTable(["η", "|B|", "seed", "reason", "detail"], textColumns: 3...4,
                                 rows: fit.exclusions.prefix(limit).map {
                                     ["\($0.learningRate)", "\($0.batchSize)", "\($0.seed)", $0.reason, $0.detail]
                                 }, total: fit.exclusions.count)
            }
            h += "<p class=\"muted\">Other groups and estimators: see fits.json (an estimator can be undefined in "
                + "one group and not another).</p>\n"
        }
        h += "<h3>Jobs without a result</h3>\n"
        if data.problems.isEmpty { return h + "<p>None: every job ended with a result.</p>\n" }
        return h + cappedTable(["job", "state", "reason"], textColumns: 0...2,
                               rows: data.problems.prefix(limit).map { [$0.key, $0.state, $0.reason] },
                               total: data.problems.count)
    }

    /// Everything a reader needs to reproduce or cite the numbers above: the writer, the command,
    /// the grid, the data and its hash, the protocol per η as the cells ran it, and the hosts.
    private func provenance() -> String {
        let s = data.spec
        let command = s.sweepCommand(database: data.databasePath)
        let dataText: String
        switch s.dataset.kind {
        case .fashionMNIST: dataText = "Fashion-MNIST IDX files in \(s.dataset.directory ?? DatasetSelection.defaultDirectory)"
        case .synthetic: dataText = "synthetic set, seed \(s.dataset.seed ?? 0), \(s.dataset.count ?? 0) training images"
        }
        let date = ISO8601DateFormatter().string(from: Date())
        var rows: [[String]] = [
            ["report", "thermosweep \(Release.version), written \(date) from \(data.databasePath)"],
            ["command", command],
            ["grid", "\(data.specHash): \(s.model.rawValue), η ∈ {\(s.learningRates.map { "\($0)" }.joined(separator: ", "))}, "
                + "|B| ∈ {\(s.batchSizes.map { "\($0)" }.joined(separator: ", "))}, \(s.seeds) seeds from grid seed \(s.gridSeed)"],
            ["data", dataText + "; content hash \(s.datasetHash ?? "not recorded")"],
            ["warm start", "η = \(s.warmStart.learningRate), |B| = \(s.warmStart.batchSize), \(s.warmStart.epochs) epochs, "
                + "once per seed; every cell of the seed starts from it"],
            ["cell protocol", "SGD, momentum \(s.momenta.map { $0.map { Text.number($0) }.joined(separator: ", ") } ?? "\(s.cell.momentum)"), batches \(s.batchModeValues.map(\.rawValue).joined(separator: ", ")), "
                + "\(s.cell.calibrationProbes) calibration probes of \(s.cell.probeBatchSize) samples"],
        ]
        // The steps each cell ran, as its results record them (the defaults depend on η).
        var steps: [Double: Set<String>] = [:]
        for run in data.runs {
            steps[run.learningRate, default: []].insert("\(run.result.burnInSteps) + \(run.result.measureSteps)")
        }
        rows.append(["burn-in + window", steps.keys.sorted().map { "η = \($0): \(steps[$0]!.sorted().joined(separator: " or "))" }
            .joined(separator: "; ") + " steps"])
        let runsByWorker = Dictionary(grouping: data.runs, by: \.worker).mapValues(\.count)
        let hosts = Dictionary(grouping: data.workers.filter { runsByWorker[$0.identity] != nil }, by: \.host)
        for host in hosts.keys.sorted() {
            let workers = hosts[host]!
            let builds = Set(workers.map { "\($0.version), built for \($0.buildCPU)" }).sorted().joined(separator: "; ")
            let jobs = workers.reduce(0) { $0 + (runsByWorker[$1.identity] ?? 0) }
            rows.append(["host \(host)", "\(workers.count) worker\(workers.count == 1 ? "" : "s"), \(jobs) runs, \(builds)"])
        }
        if hosts.isEmpty { rows.append(["hosts", "not recorded in this journal"]) }
        return "<h2>Provenance</h2>\n" + cappedTable(["what", "value"], textColumns: 0...1, rows: rows, total: rows.count)
            + "<p class=\"muted\">The command re-creates the grid (timing and worker options are free); the content "
            + "hash must match the data a re-run loads.</p>\n"
            + "<details><summary>The grid as a file for <code>sweep --grid</code></summary>\n<pre>"
            + escapeHTML(GridFile.text(s)) + "</pre></details>\n"
    }

    /// A table of the first rows of a longer list (the rest are counted and left to fits.json);
    /// `textColumns` are left-aligned.
    func cappedTable(_ headers: [String], textColumns: ClosedRange<Int>, rows: [[String]], total: Int) -> String {
        func cells(_ tag: String, _ values: [String]) -> String {
            values.enumerated().map { i, text in
                "<\(tag)\(textColumns.contains(i) ? " class=\"l\"" : "")>\(escapeHTML(text))</\(tag)>"
            }.joined()
        }
        var h = "<table>\n<tr>\(cells("th", headers))</tr>\n"
        for row in rows { h += "<tr>\(cells("td", row))</tr>\n" }
        h += "</table>\n"
        if total > rows.count { h += "<p>… \(total - rows.count) more in fits.json.</p>\n" }
        return h
    }
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    return quantile(values.sorted(), 0.5)
}

/// Quantile of sorted values, linear interpolation between order statistics.
func quantile(_ sorted: [Double], _ p: Double) -> Double { sortedQuantile(sorted, p) }
