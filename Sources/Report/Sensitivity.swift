// How much the exponents depend on which runs are left out (docs/METHOD.md, 8, "Sensitivity"):
// the default estimator's a and b per group under the default exclusion policy, without any
// stationarity exclusion, and under release 0.1.0's policy. fits.json's `sensitivity` and a report
// section.
import ScalingLaw
import Cell

/// The fit of one group under one policy, reduced to what the sensitivity table shows.
public struct SensitivityFit: Codable, Sendable, Hashable {
    public var group: String
    /// a and b with standard errors and intervals, as in the full fit; nil without a fit.
    public var a: Estimate?
    public var b: Estimate?
    /// Cells and runs (observations) the fit used, and runs it left out.
    public var cellsUsed: Int
    public var runsUsed: Int
    public var runsExcluded: Int
    /// Why there is no fit.
    public var failure: String?
}

/// One policy and its fits.
public struct SensitivityCase: Codable, Sendable {
    /// `default`, `no-stationarity-exclusion` or `release-0.1.0`; `as-used` for the policy of this
    /// document's fits when it is none of these (listed first).
    public var name: String
    public var policy: ExclusionPolicy
    public var fits: [SensitivityFit]
}

/// The exponents of one estimator under several exclusion policies.
public struct Sensitivity: Codable, Sendable {
    public var estimator: String
    public var cases: [SensitivityCase]

    /// The named policies, in the order the table shows them.
    static let named: [(String, ExclusionPolicy)] = [
        ("default", ExclusionPolicy()),
        ("no-stationarity-exclusion", .noStationarityExclusion),
        ("release-0.1.0", .release010),
    ]

    /// The groups of `used` (every group of `data` when `used` has no fits), fitted
    /// with `estimator` under each named policy and, first, `used`'s own policy when it is not one
    /// of them. Intervals only: no bootstrap, no restricted refit.
    init(_ data: SweepData, used: SweepFits, estimator: Estimator = .diffusion) {
        self.estimator = estimator.rawValue
        var groups: [String] = []
        for fit in used.fits where !groups.contains(fit.group) {
            groups.append(fit.group)
        }
        if groups.isEmpty { groups = data.groups }
        var policies = Self.named
        if !policies.contains(where: { $0.1 == used.policy }) { policies.insert(("as-used", used.policy), at: 0) }
        var options = FitOptions()
        options.bootstrapDraws = 0
        options.restrictedRefit = false
        cases = policies.map { name, policy in
            let fits = SweepFits(data, groups: groups, estimators: [estimator], policy: policy, options: options)
            return SensitivityCase(name: name, policy: policy, fits: fits.fits.map { fit in
                let r = fit.result
                return SensitivityFit(group: fit.group, a: r.fit?.a, b: r.fit?.b, cellsUsed: r.fit?.cellsUsed ?? 0,
                                      runsUsed: r.fit == nil ? 0 : r.cells.reduce(0) { $0 + $1.seeds },
                                      runsExcluded: fit.exclusions.count, failure: r.failure?.message)
            })
        }
    }

    /// The fit of `group` in the case called `name`.
    func fit(_ name: String, group: String) -> SensitivityFit? {
        cases.first { $0.name == name }?.fits.first { $0.group == group }
    }

    /// In words: how far a and b of each case move from the default's, for the whole network and
    /// at most over the groups, in units of the default's SE (docs/METHOD.md, 8).
    func summary() -> [String] {
        guard let base = cases.first(where: { $0.name == "default" }) else { return [] }
        var out: [String] = []
        for other in cases where other.name != "default" {
            var largest: (shift: Double, text: String)?
            var network: String?
            for fit in base.fits {
                guard let a0 = fit.a, let b0 = fit.b, let f = self.fit(other.name, group: fit.group),
                      let a1 = f.a, let b1 = f.b else { continue }
                let da = a1.value - a0.value, db = b1.value - b0.value
                let text = "a by \(Text.signed(da)), b by \(Text.signed(db))"
                    + " (\(Text.fixed(abs(da) / a0.standardError, 1)) and \(Text.fixed(abs(db) / b0.standardError, 1)) SE)"
                if fit.group == GroupReport.networkName { network = text }
                let shift = max(abs(da) / a0.standardError, abs(db) / b0.standardError)
                if shift.isFinite, shift > (largest?.shift ?? -1) { largest = (shift, "\(fit.group): \(text)") }
            }
            guard let largest else { continue }
            let same = base.fits.allSatisfy { fit in
                self.fit(other.name, group: fit.group).map { $0.a == fit.a && $0.b == fit.b && $0.runsUsed == fit.runsUsed }
                    ?? false
            }
            if same {
                out.append("Under \(other.name) (\(Self.describe(other.policy))) every group's fit uses the same runs "
                    + "as the default's and gives the same exponents.")
                continue
            }
            out.append("Under \(other.name) (\(Self.describe(other.policy))) "
                + (network.map { "the whole network's exponents move \($0); " } ?? "")
                + "the largest move over the groups is \(largest.text).")
        }
        return out
    }

    /// A policy in a few words.
    static func describe(_ p: ExclusionPolicy) -> String {
        var parts: [String] = []
        if !p.lossNonStationary {
            parts.append("no run left out for drift")
        } else if p.stationarityTest == .twoSE {
            parts.append("a run is left out when its loss halves differ by ≥ 2 SE, uncorrected")
        } else {
            let how: String
            switch p.correction {
            case .holm: how = "Holm-corrected at family-wise α = \(Text.number(p.familyWiseLevel))"
            case .bonferroni: how = "Bonferroni-corrected at family-wise α = \(Text.number(p.familyWiseLevel))"
            case .none: how = "uncorrected at α = \(Text.number(p.familyWiseLevel))"
            }
            parts.append("Welch stationarity tests \(how)")
        }
        switch p.wholeCell {
        case .diverged: parts.append("a cell with a diverged seed left out whole, other exclusions per run")
        case .any: parts.append("a cell with any excluded seed left out whole")
        case .never: parts.append("every exclusion per run")
        }
        return parts.joined(separator: "; ")
    }
}

extension HTMLReport {
    /// The sensitivity table: a ± SE and b ± SE per group and policy, with cells and runs used.
    func sensitivitySection() -> String {
        let s = Sensitivity(data, used: fits, estimator: estimator)
        var h = "<h2>Sensitivity to the exclusions</h2>\n<p class=\"muted\">\(escapeHTML(s.estimator)): a and b "
            + "(± standard error) fitted per group under each exclusion policy (docs/METHOD.md, section 8); "
            + "cells / runs: cells and runs the fit used. Of the \(data.runs.filter { !$0.result.diverged }.count) "
            + "runs that did not diverge, \(fits.stationarityTested) have a stationarity test and this report's "
            + "policy leaves out \(fits.stationarityExcluded) of them for drift"
            + (s.cases.first { $0.policy == fits.policy }?.fits.first { $0.group == GroupReport.networkName }.map { network in
                let live = data.runs.filter { !$0.result.diverged }.count
                return "; the whole-network fit uses \(network.runsUsed) of the \(live) "
                    + "(\(Text.fixed(100 * Double(network.runsUsed) / Double(max(live, 1)), 0)) %)"
            } ?? "") + ".</p>\n<ul>\n"
        for c in s.cases { h += "<li>\(escapeHTML(c.name)): \(escapeHTML(Sensitivity.describe(c.policy)))</li>\n" }
        h += "</ul>\n<table>\n<tr><th class=\"l\" rowspan=\"2\">group</th>"
        for c in s.cases { h += "<th colspan=\"3\">\(escapeHTML(c.name))</th>" }
        h += "</tr>\n<tr>" + String(repeating: "<th>a</th><th>b</th><th>cells / runs</th>", count: s.cases.count) + "</tr>\n"
        for group in s.cases.first?.fits.map(\.group) ?? [] {
            h += "<tr><td class=\"l\">\(escapeHTML(group))</td>"
            for c in s.cases {
                guard let f = c.fits.first(where: { $0.group == group }), let a = f.a, let b = f.b else {
                    h += "<td colspan=\"3\">no fit</td>"
                    continue
                }
                h += "<td>\(escapeHTML(Text.valueWithError(a.value, a.standardError)))</td>"
                    + "<td>\(escapeHTML(Text.valueWithError(b.value, b.standardError)))</td>"
                    + "<td>\(f.cellsUsed) / \(f.runsUsed)</td>"
            }
            h += "</tr>\n"
        }
        h += "</table>\n"
        let words = s.summary()
        if !words.isEmpty { h += "<p>" + escapeHTML(words.joined(separator: " ")) + "</p>\n" }
        return h
    }
}

extension HTMLReport {
    /// The summary line's two p-values in words (docs/METHOD.md, 10): the joint test of the exact
    /// law (a, b) = (1, −1) and the collapse test a + b = 0.
    static func lawTests(_ f: PowerLawFit) -> [String] {
        func verdict(_ p: Double) -> String { p < 0.05 ? "rejected at 5 %" : "not rejected at 5 %" }
        var out: [String] = []
        if let t = f.expectedExponents {
            out.append("Is T ∝ η/|B| exactly, with a = 1 and b = −1 together? Joint test p(1,-1) = "
                + "\(Text.pValue(t.pValue)): \(verdict(t.pValue)).")
        }
        if let c = f.collapse {
            out.append("Does T depend on η and |B| only through their ratio η/|B|, with any power (a + b = 0)? "
                + "Collapse test p(a+b=0) = \(Text.pValue(c.pValue)): \(verdict(c.pValue)).")
        }
        if let t = f.expectedExponents, let c = f.collapse, (t.pValue < 0.05) != (c.pValue < 0.05) {
            out.append(c.pValue >= 0.05
                ? "So the data are consistent with T depending on η/|B| alone, but not with T ∝ η/|B| itself "
                    + "(the power of η/|B| is not 1)."
                : "So (1, −1) is within the joint errors, yet a + b = 0 is rejected on its own.")
        }
        return out
    }
}
