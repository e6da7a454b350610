// The stationarity test of one run (Welch's t on the halves of its block means) and the
// multiple-testing corrections that turn a family of p-values into decisions (docs/METHOD.md, 5, 8).
import Cell

/// Welch's two-sample t test of the second half of a window's block means against the first.
public struct WelchTest: Sendable, Hashable {
    /// The halves, their means and the SE of their difference (as the worker's flag has them).
    public let halves: LossHalves
    /// |L₂ − L₁| / SE: the difference in standard errors (∞ when SE = 0 and the means differ, 0
    /// when they are equal).
    public let statistic: Double
    /// Welch–Satterthwaite degrees of freedom (nil when SE = 0).
    public let degreesOfFreedom: Double?
    /// Two-sided P(|t_ν| ≥ statistic); 1 when the means are equal, 0 when SE = 0 and they differ.
    public let pValue: Double

    /// The test of `blockMeans`; nil with fewer than 4 blocks or a non-finite one.
    public init?(blockMeans: [Double]) {
        guard blockMeans.allSatisfy(\.isFinite), let h = LossHalves(blockMeans) else { return nil }
        let s = h.standardError, d = h.difference
        guard s.isFinite, d.isFinite else { return nil }
        halves = h
        // ν = (u₁ + u₂)² / (u₁²/(n₁ − 1) + u₂²/(n₂ − 1)), u_h = s_h²/n_h.
        let ua: Double = h.firstVarianceOfMean, ub: Double = h.secondVarianceOfMean
        let denominator: Double = ua * ua / Double(h.firstCount - 1) + ub * ub / Double(h.secondCount - 1)
        let nu: Double? = s > 0 ? (ua + ub) * (ua + ub) / denominator : nil
        degreesOfFreedom = nu
        if d == 0 {
            statistic = 0
            pValue = 1
        } else if let nu {
            statistic = d / s
            pValue = Distributions.studentTTwoSided(d / s, dof: nu)
        } else {
            statistic = .infinity
            pValue = 0
        }
    }
}

/// How a family of m p-values is tested at a family-wise error level α.
public enum MultipleTestingCorrection: String, Codable, Sendable, CaseIterable {
    /// Holm's step-down method: sort p ascending; reject p₍₁₎, p₍₂₎, … while p₍ₖ₎ ≤ α/(m − k + 1),
    /// and stop at the first that is not. Controls the family-wise error at α, never rejects
    /// fewer than Bonferroni.
    case holm
    /// Reject p ≤ α/m.
    case bonferroni
    /// No correction: reject p ≤ α (each test at level α; about α·m false rejections expected).
    case none

    /// One decision per p-value, in the input order: whether it is rejected and the threshold it
    /// was compared with (Holm: α/(m − k + 1) for its rank k; a p after Holm's first acceptance is
    /// accepted whatever its threshold). NaN p-values count in m and are never rejected.
    public func decisions(_ pValues: [Double], level: Double) -> [(rejected: Bool, threshold: Double)] {
        let m = pValues.count
        switch self {
        case .none:
            return pValues.map { ($0 <= level, level) }
        case .bonferroni:
            return pValues.map { ($0 <= level / Double(m), level / Double(m)) }
        case .holm:
            // Stable order: equal p-values keep their input order (and get the same decision,
            // since the thresholds grow with the rank).
            let order = pValues.indices.sorted {
                let l = pValues[$0].isNaN ? .infinity : pValues[$0]
                let r = pValues[$1].isNaN ? .infinity : pValues[$1]
                return l != r ? l < r : $0 < $1
            }
            var out = Array(repeating: (rejected: false, threshold: level), count: m)
            var stepping = true
            for (k, index) in order.enumerated() {
                let threshold = level / Double(m - k)
                stepping = stepping && pValues[index] <= threshold
                out[index] = (stepping, threshold)
            }
            return out
        }
    }
}
