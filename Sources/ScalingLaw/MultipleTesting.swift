// The stationarity test of one run (Welch's t on the halves of its block means) and the
// multiple-testing corrections that turn a family of p-values into decisions (docs/METHOD.md, 5, 8).

/// Welch's two-sample t test of the second half of a window's block means against the first.
public struct WelchTest: Codable, Sendable, Hashable {
    /// Mean of the first half's block means (⌊n/2⌋ blocks) and of the second half's (the rest).
    public var firstMean: Double
    public var secondMean: Double
    /// √(s₁²/n₁ + s₂²/n₂), s_h the unbiased sd of the block means in half h.
    public var standardError: Double
    /// |second − first| / SE: the difference in standard errors (∞ when SE = 0 and the means differ,
    /// 0 when they are equal).
    public var statistic: Double
    /// Welch–Satterthwaite degrees of freedom (nil when SE = 0).
    public var degreesOfFreedom: Double?
    /// Two-sided P(|t_ν| ≥ statistic); 1 when the means are equal, 0 when SE = 0 and they differ.
    public var pValue: Double

    /// The test of `blockMeans` split into halves; nil with fewer than 4 blocks or a non-finite one.
    /// The halves, means and SE are computed exactly as the worker's `loss_stationary` flag
    /// computes them, so `statistic ≥ 2` reproduces that flag.
    public init?(blockMeans: [Double]) {
        guard blockMeans.count >= 4, blockMeans.allSatisfy(\.isFinite) else { return nil }
        let half = blockMeans.count / 2
        let a = Array(blockMeans[..<half]), b = Array(blockMeans[half...])
        func meanVar(_ x: [Double]) -> (Double, Double) {
            let m = x.reduce(0, +) / Double(x.count)
            return (m, x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1))
        }
        let (ma, va) = meanVar(a), (mb, vb) = meanVar(b)
        let ua = va / Double(a.count), ub = vb / Double(b.count)
        let s = (ua + ub).squareRoot()
        let d = abs(mb - ma)
        guard s.isFinite, d.isFinite else { return nil }
        firstMean = ma
        secondMean = mb
        standardError = s
        if d == 0 {
            statistic = 0
            degreesOfFreedom = s > 0 ? Self.satterthwaite(ua, a.count, ub, b.count) : nil
            pValue = 1
        } else if s == 0 {
            statistic = .infinity
            degreesOfFreedom = nil
            pValue = 0
        } else {
            let nu = Self.satterthwaite(ua, a.count, ub, b.count)
            statistic = d / s
            degreesOfFreedom = nu
            pValue = Distributions.studentTTwoSided(d / s, dof: nu)
        }
    }

    /// ν = (u₁ + u₂)² / (u₁²/(n₁ − 1) + u₂²/(n₂ − 1)) with u_h = s_h²/n_h.
    static func satterthwaite(_ ua: Double, _ na: Int, _ ub: Double, _ nb: Int) -> Double {
        (ua + ub) * (ua + ub) / (ua * ua / Double(na - 1) + ub * ub / Double(nb - 1))
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
