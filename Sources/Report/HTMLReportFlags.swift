// The report's flag audit: how often each judged flag is set per group, and the measured numbers
// that say what holds on every run (docs/METHOD.md, 5 and 7).
import Foundation
import Cell

extension HTMLReport {
    /// One group of one non-diverged run, with its window length.
    private struct FlaggedGroup {
        let learningRate: Double
        let report: GroupReport
        let windowSteps: Int
        let blocks: Int
    }

    func flagAudit() -> String {
        let live = data.runs.filter { !$0.result.diverged }
        guard !live.isEmpty else { return "" }
        let rw = live.map { FlagRules.randomWalkBlockRatio(windowSteps: $0.result.thermometer.recordedSteps,
                                                           blocks: $0.result.thermometer.blockCount) }
        var h = "<h2>Flags</h2>\n<p class=\"muted\">Share of the \(live.count) runs that did not diverge whose group "
            + "carries each flag (docs/METHOD.md, 7): a flag marks the exceptions; what holds on every run is "
            + "measured in the other columns. Configurational: mean block value / window value (a series without "
            + "memory gives 1, a random walk \(Text.fixed(median(rw), 3))), the AR(1) correlation time τ with that "
            + "ratio in steps and over the window K, and the share of the stationary variance that a window of K "
            + "steps then holds. FDR: 1 − (change of ‖θ‖² over the window) / Σ‖Δ‖², with its block SE where the "
            + "runs recorded it. ηλ: 2(1 − 1/calibration ratio), the curvature for which 1/(1 − ηλ/2) equals the "
            + "ratio.</p>\n<table>\n<tr><th class=\"l\">group</th><th>configurational-correlated</th>"
            + "<th>fdr-out-of-range</th><th>calibration-out-of-range</th><th>block / window</th><th>τ (steps)</th>"
            + "<th>τ / K</th><th>window / stationary</th><th>median FDR</th><th>median SE(FDR)</th>"
            + "<th>median ηλ</th></tr>\n"
        var networkRows: [FlaggedGroup] = []
        for group in data.groups {
            let rows = live.compactMap { run -> FlaggedGroup? in
                let t = run.result.thermometer
                return t.group(group).map { FlaggedGroup(learningRate: run.learningRate, report: $0,
                                                         windowSteps: t.recordedSteps, blocks: t.blockCount) }
            }
            if group == GroupReport.networkName { networkRows = rows }
            func share(_ flag: GroupFlag) -> String {
                let k = rows.filter { $0.report.flags.contains(flag) }.count
                return "\(k) (\(Text.fixed(100 * Double(k) / Double(max(rows.count, 1)), 0)) %)"
            }
            let c = configurationalSummary(rows)
            h += "<tr><td class=\"l\">\(escapeHTML(group))</td><td>\(share(.configurationalCorrelated))</td>"
                + "<td>\(share(.fdrOutOfRange))</td><td>\(share(.calibrationOutOfRange))</td>"
                + "<td>\(Text.fixed(c.ratio, 2))</td><td>\(Text.fixed(c.tau, 0))</td>"
                + "<td>\(Text.fixed(c.tauOverWindow, 2))</td><td>\(Text.fixed(c.windowFraction, 2))</td>"
                + "<td>\(Text.fixed(median(rows.compactMap(\.report.fluctuationDissipationRatio)), 2))</td>"
                + "<td>\(Text.fixed(median(rows.compactMap(\.report.fluctuationDissipationStandardError)), 2))</td>"
                + "<td>\(Text.fixed(median(rows.compactMap { $0.report.calibrationRatio.map(Self.etaLambda) }), 2))</td></tr>\n"
        }
        h += "</table>\n" + flagAuditText(networkRows)
        let withoutSE = networkRows.filter {
            $0.report.fluctuationDissipationRatio != nil && $0.report.fluctuationDissipationStandardError == nil
        }.count
        if withoutSE > 0 {
            h += "<p class=\"muted\">\(withoutSE) runs were measured before the SE of the FDR and of the calibration "
                + "ratio was recorded: their FDR is flagged outside [0, 1] with no margin, and their calibration ratio "
                + "with SE(ln diffusion) alone, so on small groups (biases) the FDR flag there marks noise as well as "
                + "drift. Measuring them again records the SEs.</p>\n"
        }
        return h
    }

    /// ηλ of one mode whose finite-η factor 1/(1 − ηλ/2) equals the calibration ratio.
    static func etaLambda(_ calibration: Double) -> Double { 2 * (1 - 1 / calibration) }

    private func configurationalSummary(_ rows: [FlaggedGroup])
        -> (ratio: Double?, tau: Double?, tauOverWindow: Double?, windowFraction: Double?) {
        var ratios: [Double] = [], taus: [Double] = [], overWindow: [Double] = [], fractions: [Double] = []
        for row in rows {
            let e = row.report.estimate(.configurational)
            guard let r = FlagRules.blockRatio(window: e?.value, blocks: e?.blockValues ?? []) else { continue }
            ratios.append(r)
            guard let tau = FlagRules.correlationTime(blockRatio: r, windowSteps: row.windowSteps, blocks: row.blocks)
            else { continue }
            taus.append(tau)
            overWindow.append(tau / Double(row.windowSteps))
            fractions.append(FlagRules.varianceFraction(steps: row.windowSteps, rho: exp(-1 / tau)))
        }
        return (median(ratios), median(taus), median(overWindow), median(fractions))
    }

    /// The audit in words, with the whole network's numbers.
    private func flagAuditText(_ rows: [FlaggedGroup]) -> String {
        guard !rows.isEmpty else { return "" }
        let c = configurationalSummary(rows)
        let fdr = rows.compactMap(\.report.fluctuationDissipationRatio)
        let below1 = fdr.filter { $0 < 1 }.count
        let etas = Array(Set(rows.map(\.learningRate))).sorted()
        let byEta = etas.map { eta -> String in
            let ratios = rows.filter { $0.learningRate == eta }.compactMap(\.report.calibrationRatio)
            return "η = \(Text.eta(eta)): \(Text.fixed(median(ratios), 2)) (ηλ = \(Text.fixed(median(ratios.map(Self.etaLambda)), 2)))"
        }
        return "<p class=\"muted\">Whole network. <b>Configurational</b>: the block/window ratio is "
            + "\(Text.fixed(c.ratio, 2)) (median), between no memory (1) and a random walk: θ's slow directions "
            + "do not settle within the window (an AR(1) series with this ratio has τ ≈ \(Text.fixed(c.tau, 0)) steps, "
            + "\(Text.fixed(c.tauOverWindow, 2)) K, and its window variance is \(Text.fixed(c.windowFraction, 2)) of the "
            + "stationary one), so <i>configurational</i> depends on the window length and its block SE is too small on "
            + "every run; the flag marks runs where θ drifts (ratio below a random walk's). <b>FDR</b>: below 1 on "
            + "\(below1) of \(fdr.count) runs (median \(Text.fixed(median(fdr), 2))): ‖θ‖² grows over the window, as "
            + "it does without weight decay when the loss is unchanged by rescaling (ReLU layers); 1 holds only "
            + "where ‖θ‖² is stationary. The flag marks runs outside [0, 1] by more than 2 SE, where the mean "
            + "gradient drives the norm. <b>Calibration ratio</b> by η (median): " + byEta.joined(separator: "; ")
            + ". It exceeds 1 by the finite-η factor 1/(1 − ηλ/2); the flag marks ratios below 1 by more than "
            + "2 SE of ln calib or above 2 (ηλ > 1).</p>\n"
    }
}
