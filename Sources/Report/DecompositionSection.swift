// The report's decomposition section: per group, the `diffusion` exponents split into the gradient
// noise σ̄² and the calibration ratio, in a sentence, a table and two plots (docs/METHOD.md, 9).
import ScalingLaw
import Cell

extension HTMLReport {
    func decompositionSection() -> String {
        var h = "<h2 id=\"decomposition\">Why a and b differ from 1 and −1: gradient noise and calibration "
            + "(\(Decomposition.estimator.rawValue))</h2>\n"
            + "<p class=\"muted\">In every run and group, diffusion = (η_eff/2|B|) · σ̄² · calib exactly, with η_eff = "
            + "η/(1 − m), σ̄² the per-sample gradient variance per parameter and calib the calibration ratio. ln σ̄² and "
            + "ln calib are fitted like ln T, on the same cells with the same weights, so that a = 1 + a_σ̄² + a_calib and "
            + "b = −1 + b_σ̄² + b_calib. ± is each part's own standard error, from its own residuals; the parts are "
            + "correlated, so their errors do not add up to T's.</p>\n"
        let all = Decomposition.all(data, fits)
        let done = all.filter { $0.noiseVariance != nil && $0.calibrationRatio != nil }
        guard !done.isEmpty else {
            let reasons = Set(all.compactMap(\.failure)).sorted()
            return h + "<p>No group can be decomposed: " + escapeHTML(reasons.isEmpty ? "no group has a diffusion fit"
                : reasons.joined(separator: "; ")) + ".</p>\n"
        }
        h += "<p>" + escapeHTML(decompositionWords(all)) + "</p>\n"
        h += decompositionTable(all)
        h += "<div class=\"plots\">" + decompositionPlot(done, eta: true) + decompositionPlot(done, eta: false) + "</div>\n"
        return h
    }

    /// The network's (or else the first group's) exponents in words, and the per-run identity.
    private func decompositionWords(_ all: [GroupDecomposition]) -> String {
        var sentences: [String] = []
        if let d = all.first(where: { $0.group == GroupReport.networkName && $0.noiseVariance != nil })
            ?? all.first(where: { $0.noiseVariance != nil }),
           let t = fits.fit(group: d.group, estimator: Decomposition.estimator)?.result.fit,
           let n = d.noiseVariance, let c = d.calibrationRatio
        {
            func trend(_ name: String, _ e: Estimate, _ axis: String) -> String {
                let value = "\(Text.signed(e.value)) ± \(Text.fixed(e.standardError, 3))"
                if abs(e.value) <= 2 * e.standardError { return "\(name) does not change significantly with \(axis) (\(value))" }
                return "\(name) \(e.value > 0 ? "rises" : "falls") with \(axis) (exponent \(value))"
            }
            let who = d.group == GroupReport.networkName ? "Whole network" : d.group
            sentences.append("\(who): the η exponent a = \(Text.fixed(t.a.value, 3)) departs from 1 by "
                + "\(Text.signed(t.a.value - 1)) because \(trend("the gradient noise σ̄²", n.a, "η")) and "
                + "\(trend("the calibration ratio", c.a, "η")).")
            sentences.append("The |B| exponent b = \(Text.fixed(t.b.value, 3)) departs from −1 by "
                + "\(Text.signed(t.b.value + 1)) because \(trend("σ̄²", n.b, "|B|")) and "
                + "\(trend("the calibration ratio", c.b, "|B|")).")
        }
        let checked = all.reduce(0) { $0 + $1.runsChecked }
        if let largest = all.compactMap(\.largestRunDeviation).max() {
            sentences.append("The identity holds in every run: over \(checked) run × group pairs, "
                + "|ln T − ln(η_eff/2|B|) − ln σ̄² − ln calib| is at most \(Text.significant(largest)), so the departure "
                + "from η/|B| is the gradient noise and the calibration changing across the grid, not the estimator.")
        }
        return sentences.joined(separator: " ")
    }


    private func decompositionTable(_ all: [GroupDecomposition]) -> String {
        var h = "<table>\n<tr><th class=\"l\">group</th><th>a</th><th>a_σ̄²</th><th>a_calib</th>"
            + "<th>1 + a_σ̄² + a_calib</th><th>b</th><th>b_σ̄²</th><th>b_calib</th><th>−1 + b_σ̄² + b_calib</th>"
            + "<th>largest deviation</th></tr>\n"
        func cell(_ e: Estimate) -> String { "<td>\(escapeHTML(Text.valueWithError(e.value, e.standardError)))</td>" }
        for d in all {
            h += "<tr><td class=\"l\">\(escapeHTML(d.group))</td>"
            guard let t = fits.fit(group: d.group, estimator: Decomposition.estimator)?.result.fit,
                  let n = d.noiseVariance, let c = d.calibrationRatio else {
                h += "<td class=\"l\" colspan=\"9\">\(escapeHTML(d.failure ?? "no decomposition"))</td></tr>\n"
                continue
            }
            h += cell(t.a) + cell(n.a) + cell(c.a) + "<td>\(Text.fixed(1 + n.a.value + c.a.value, 3))</td>"
            h += cell(t.b) + cell(n.b) + cell(c.b) + "<td>\(Text.fixed(-1 + n.b.value + c.b.value, 3))</td>"
            h += "<td>\(Text.significant(d.largestRunDeviation)) in \(d.runsChecked) runs</td></tr>\n"
        }
        return h + "</table>\n<p class=\"muted\">Largest deviation: the largest |ln T − ln(η_eff/2|B|) − ln σ̄² − "
            + "ln calib| over the runs where T, σ̄² and calib are all positive (rounding is about 1e-15).</p>\n"
    }

    /// The exponents of σ̄² and calib per group with ±1 SE, beside T's departure from its expected exponent.
    private func decompositionPlot(_ done: [GroupDecomposition], eta: Bool) -> String {
        let names = done.map(\.group)
        var series: [(String, String, [(Double, Estimate)])] = [
            (eta ? "a − 1 of T" : "b + 1 of T", "#000", []), ("σ̄²", rampColor(0.25), []), ("calib", "#d95f02", []),
        ]
        for (i, d) in done.enumerated() {
            guard let t = fits.fit(group: d.group, estimator: Decomposition.estimator)?.result.fit,
                  let n = d.noiseVariance, let c = d.calibrationRatio else { continue }
            var departure = eta ? t.a : t.b
            departure.value -= eta ? 1 : -1
            series[0].2.append((Double(i), departure))
            series[1].2.append((Double(i), eta ? n.a : n.b))
            series[2].2.append((Double(i), eta ? c.a : c.b))
        }
        var ys: [Double] = [0]
        for (_, _, points) in series {
            for (_, e) in points { ys += [e.value - e.standardError, e.value + e.standardError] }
        }
        var x = Axis([-0.5, Double(names.count) - 0.5], log: false, label: "group")
        x.categories = names
        var plot = Plot(title: eta ? "exponents of η" : "exponents of |B|", x: x,
                        y: Axis(ys, log: false, label: eta ? "exponent of η" : "exponent of |B|"),
                        width: max(380, 66 * Double(names.count) + 170), legend: true)
        plot.hline(0, color: "#555")
        for (k, (label, color, points)) in series.enumerated() {
            let offset = (Double(k) - 1) * 0.2
            plot.points(points.map { ($0.0 + offset, $0.1.value, $0.1.value - $0.1.standardError,
                                      $0.1.value + $0.1.standardError) }, color: color)
            plot.addLegend(label, color: color)
        }
        plot.note(eta ? "a − 1 = a_σ̄² + a_calib; bars ±1 SE" : "b + 1 = b_σ̄² + b_calib; bars ±1 SE")
        return plot.svg()
    }
}
