// The report's "inside a layer" sections: per-weight temperature histograms per group, and the
// first conv layer's filters, weights beside per-weight temperatures (docs/METHOD.md, 4).
import Foundation
import Cell

extension HTMLReport {
    /// The runs of the cell the two sections show: the grid's middle cell (middle η, middle |B|),
    /// or the cell nearest to it (in grid steps) with a run that did not diverge and recorded
    /// per-weight temperatures. Sorted by seed; empty when no run has them.
    func representativeRuns() -> [CellRun] {
        let usable = data.runs.filter { run in
            !run.result.diverged && run.result.thermometer.groups.contains { $0.weightTemperatures != nil }
        }
        let etas = data.spec.learningRates.sorted(), batches = data.spec.batchSizes.sorted()
        func distance(_ run: CellRun) -> Int {
            let i = etas.firstIndex(of: run.learningRate) ?? etas.count
            let j = batches.firstIndex(of: run.batchSize) ?? batches.count
            return abs(i - etas.count / 2) + abs(j - batches.count / 2)
        }
        guard let best = usable.min(by: {
            (distance($0), $0.learningRate, $0.batchSize) < (distance($1), $1.learningRate, $1.batchSize)
        }) else { return [] }
        return usable.filter { $0.learningRate == best.learningRate && $0.batchSize == best.batchSize }
            .sorted { $0.seed < $1.seed }
    }

    private func cellName(_ run: CellRun) -> String { "η = \(Text.eta(run.learningRate)), |B| = \(run.batchSize)" }

    // MARK: Histograms

    /// One histogram per group of T_i / T_G: the representative cell pooled over its seeds
    /// (solid) against every run that did not diverge (dashed), with a table of quantiles.
    func weightTemperatureHistograms() -> String {
        var h = "<h2>Per-weight temperatures (\(Estimator.diffusion.rawValue))</h2>\n"
        let cellRuns = representativeRuns()
        guard let first = cellRuns.first else {
            return h + "<p>The results hold no per-weight temperatures (written by a thermosweep that did not record them, "
                + "or every run diverged).</p>\n"
        }
        let allRuns = data.runs.filter { !$0.result.diverged }
        h += "<p class=\"muted\">T_i: the diffusion temperature of one weight, (1 + m) Var_k(Δ_i) / 2η over the window; "
            + "a group's T is the mean of its T_i. Histograms of T_i / T_group on fixed log bins (4 per decade): "
            + "solid, the cell \(escapeHTML(cellName(first))) (the grid's middle cell, or the nearest with data) pooled "
            + "over its \(cellRuns.count) seed\(cellRuns.count == 1 ? "" : "s"); dashed grey, all \(allRuns.count) "
            + "runs that did not diverge. The table gives the quantiles of T_i / T_group (median over the cell's seeds) "
            + "and SE(ln T_i), the sampling noise of one T_i from the window's blocks: spread well beyond it is real.</p>\n"
        h += "<table>\n<tr><th class=\"l\">group</th><th>weights</th><th>5 %</th><th>25 %</th><th>median</th>"
            + "<th>75 %</th><th>95 %</th><th>T_i = 0</th><th>outside bins</th><th>median SE(ln T_i)</th></tr>\n"
        var plots = ""
        for group in data.groups {
            let histograms = cellRuns.compactMap { $0.result.thermometer.group(group)?.weightTemperatures }
            guard let bins = histograms.first else { continue }
            // Only histograms on the same bins are pooled (a record's sizes are not checked when it is read).
            func sameBins(_ h: WeightTemperatureHistogram) -> Bool {
                h.lowerEdge == bins.lowerEdge && h.binsPerDecade == bins.binsPerDecade && h.counts.count == bins.counts.count
            }
            let cell = histograms.filter(sameBins)
            let all = allRuns.compactMap { $0.result.thermometer.group(group)?.weightTemperatures }.filter(sameBins)
            let quantiles = WeightTemperatureHistogram.quantileLevels.indices.map { q in
                median(cell.compactMap { $0.quantiles.count > q ? $0.quantiles[q] : nil })
            }
            let n = cell.reduce(0) { $0 + $1.total }, zero = cell.reduce(0) { $0 + $1.zero }
            let outside = cell.reduce(0) { $0 + $1.below + $1.above }
            h += "<tr><td class=\"l\">\(escapeHTML(group))</td><td>\(bins.total)</td>"
                + quantiles.map { "<td>\(Text.significant($0))</td>" }.joined()
                + "<td>\(Text.fixed(100 * Double(zero) / Double(max(n, 1)), 1)) %</td>"
                + "<td>\(Text.fixed(100 * Double(outside) / Double(max(n, 1)), 1)) %</td>"
                + "<td>\(Text.fixed(median(cell.compactMap(\.medianSeLogT)), 3))</td></tr>\n"
            plots += histogramPlot(group, cell: cell, all: all, edges: bins.edges)
        }
        return h + "</table>\n<div class=\"plots\">" + plots + "</div>\n"
    }

    /// Fractions of the pooled histograms as step outlines on a log axis of T_i / T_group.
    private func histogramPlot(_ group: String, cell: [WeightTemperatureHistogram], all: [WeightTemperatureHistogram],
                               edges: [Double]) -> String {
        func fractions(_ hs: [WeightTemperatureHistogram]) -> [Double] {
            let total = Double(max(hs.reduce(0) { $0 + $1.total }, 1))
            return edges.dropLast().indices.map { k in Double(hs.reduce(0) { $0 + $1.counts[k] }) / total }
        }
        func steps(_ f: [Double]) -> [(Double, Double)] {
            var pts: [(Double, Double)] = [(edges[0], 0)]
            for (k, v) in f.enumerated() { pts += [(edges[k], v), (edges[k + 1], v)] }
            return pts + [(edges[edges.count - 1], 0)]
        }
        let cellF = fractions(cell), allF = fractions(all)
        var x = Axis(edges, log: true, label: "T_i / T_group")
        x.explicitTicks = [1e-8, 1e-6, 1e-4, 1e-2, 1, 100]
        var plot = Plot(title: "\(group): per-weight T", x: x, y: Axis(cellF + allF + [0], log: false,
                        label: "fraction of weights"), width: 400, height: 260, legend: true)
        plot.line(steps(allF), color: "#999", dashed: true, width: 1.2)
        plot.line(steps(cellF), color: "#3b528b", width: 1.8)
        plot.addLegend("the cell", color: "#3b528b")
        plot.addLegend("all runs", color: "#999", dashed: true)
        if let m = median(cell.compactMap { $0.quantiles.count > 2 ? $0.quantiles[2] : nil }) {
            plot.note("median T_i / T_group \(Text.significant(m))")
        }
        return plot.svg()
    }

    // MARK: First-layer filters

    /// The first conv layer of one run of the representative cell: each filter's weights (diverging
    /// colours) beside its per-weight temperatures (log colour scale), with the filter's T.
    func firstLayerFilterPicture() -> String {
        var h = "<h2>First conv layer: weights and per-weight temperatures</h2>\n"
        // A record is drawn only when its arrays hold every filter (decoding does not check the sizes).
        func complete(_ l: FirstLayerFilters?) -> Bool {
            guard let l, let t = l.temperatures, l.filters > 0, l.kernelHeight > 0, l.kernelWidth > 0 else { return false }
            return l.weights.count == l.filters * l.filterSize && t.count == l.weights.count
        }
        guard let run = representativeRuns().first(where: { complete($0.result.firstLayerFilters) }),
              let layer = run.result.firstLayerFilters, let temperatures = layer.temperatures else {
            return h + "<p>The results hold no first-layer weights with per-weight temperatures (written by a "
                + "thermosweep that did not record them, a model without conv layers, or every run diverged).</p>\n"
        }
        let group = run.result.thermometer.group(layer.group)
        let layerT = group?.estimate(.diffusion)?.value
        let channelNote = layer.channels > 1
            ? " The filters have \(layer.channels) input channels; channel 0 is drawn." : ""
        h += "<p class=\"muted\">Run \(escapeHTML(cellName(run))), seed \(run.seed) (the cell of the histograms above), "
            + "\(escapeHTML(layer.group)): \(layer.filters) filters of \(layer.channels)×\(layer.kernelHeight)×"
            + "\(layer.kernelWidth). Left of each pair: the final weights (blue negative, red positive, one scale for "
            + "the layer); right: T_i of each weight over the window (log scale, one for the layer; grey: T_i = 0). "
            + "Under each filter its T (diffusion, the mean of its T_i) and T filter / T layer.\(channelNote)</p>\n"
        let kh = layer.kernelHeight, kw = layer.kernelWidth, size = layer.filterSize
        let pixel = max(6, min(13, 65 / Double(max(kh, kw))))
        let tileWidth = 2 * pixel * Double(kw) + 8 + 24, tileHeight = pixel * Double(kh) + 36
        let perRow = max(1, min(layer.filters, Int(680 / tileWidth)))
        let rows = (layer.filters + perRow - 1) / perRow
        let weightLimit = layer.weights.map { abs(Double($0)) }.max() ?? 1
        let positive = temperatures.map(Double.init).filter { $0 > 0 }
        let logLow = log10(positive.min() ?? 1), logHigh = log10(positive.max() ?? 1)
        func tColor(_ t: Double) -> String {
            t > 0 ? rampColor(logHigh > logLow ? (log10(t) - logLow) / (logHigh - logLow) : 0.5) : "#ccc"
        }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let width = max(Double(perRow) * tileWidth + 10, 430), height = Double(rows) * tileHeight + 70
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" class=\"plot\" "
            + "role=\"img\"><title>\(escapeHTML(layer.group)) filters: weights and per-weight temperatures</title>"
        for filter in 0..<layer.filters {
            let x0 = 10 + Double(filter % perRow) * tileWidth, y0 = 10 + Double(filter / perRow) * tileHeight
            for r in 0..<kh {
                for c in 0..<kw {
                    let i = filter * size + r * kw + c  // channel 0
                    let y = y0 + Double(r) * pixel
                    s += "<rect x=\"\(f(x0 + Double(c) * pixel))\" y=\"\(f(y))\" width=\"\(f(pixel))\" height=\"\(f(pixel))\" "
                        + "fill=\"\(divergingColor(Double(layer.weights[i]), limit: weightLimit))\"/>"
                    s += "<rect x=\"\(f(x0 + pixel * Double(kw) + 8 + Double(c) * pixel))\" y=\"\(f(y))\" width=\"\(f(pixel))\" "
                        + "height=\"\(f(pixel))\" fill=\"\(tColor(Double(temperatures[i])))\"/>"
                }
            }
            let report = group?.filters.first { $0.index == filter }
            let t = report?.estimate(.diffusion)?.value
            let ratio = t.flatMap { t in layerT.map { t / $0 } }
            s += "<text x=\"\(f(x0))\" y=\"\(f(y0 + pixel * Double(kh) + 12))\" class=\"tick\">\(filter): T = "
                + "\(Text.significant(t)) (×\(Text.significant(ratio)))</text>"
        }
        // Colour scales.
        let barY = Double(rows) * tileHeight + 20
        for k in 0..<21 {
            let u = Double(k) / 20
            s += "<rect x=\"\(f(10 + u * 150))\" y=\"\(f(barY))\" width=\"8\" height=\"10\" "
                + "fill=\"\(divergingColor((2 * u - 1) * weightLimit, limit: weightLimit))\"/>"
            s += "<rect x=\"\(f(230 + u * 150))\" y=\"\(f(barY))\" width=\"8\" height=\"10\" fill=\"\(rampColor(u))\"/>"
        }
        s += "<text x=\"10\" y=\"\(f(barY + 24))\" class=\"tick\">weight \(Text.significant(-weightLimit)) … "
            + "\(Text.significant(weightLimit))</text>"
        s += "<text x=\"230\" y=\"\(f(barY + 24))\" class=\"tick\">T_i \(Text.significant(pow(10, logLow))) … "
            + "\(Text.significant(pow(10, logHigh))) (log)</text>"
        return h + s + "</svg>\n"
    }
}
