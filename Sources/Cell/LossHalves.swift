/// A window's block mean losses split into a first half (⌊n/2⌋ blocks) and a second half (the
/// rest), with the standard error of the difference of their means (docs/METHOD.md, 5): what the
/// worker's `loss_stationary` flag and the fits' stationarity test are both computed from.
public struct LossHalves: Sendable, Hashable {
    /// L₁, L₂: the means of each half's block means.
    public let firstMean: Double
    public let secondMean: Double
    /// s_h²/n_h, the variance of each half's mean (s_h the unbiased sd of its block means).
    public let firstVarianceOfMean: Double
    public let secondVarianceOfMean: Double
    /// n₁, n₂.
    public let firstCount: Int
    public let secondCount: Int

    /// nil with fewer than 4 blocks.
    public init?(_ blockMeans: [Double]) {
        guard blockMeans.count >= 4 else { return nil }
        let half = blockMeans.count / 2
        func meanVar(_ x: ArraySlice<Double>) -> (Double, Double) {
            let m = x.reduce(0, +) / Double(x.count)
            return (m, x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1))
        }
        let a = blockMeans[..<half], b = blockMeans[half...]
        let (ma, va) = meanVar(a), (mb, vb) = meanVar(b)
        firstMean = ma
        secondMean = mb
        firstVarianceOfMean = va / Double(a.count)
        secondVarianceOfMean = vb / Double(b.count)
        firstCount = a.count
        secondCount = b.count
    }

    /// SE = √(s₁²/n₁ + s₂²/n₂) (Welch).
    public var standardError: Double { (firstVarianceOfMean + secondVarianceOfMean).squareRoot() }

    /// |L₂ − L₁|.
    public var difference: Double { abs(secondMean - firstMean) }

    /// The worker's rule: |L₂ − L₁| < 2 SE, or L₂ = L₁; nil when a mean or the SE is not finite.
    public var withinTwoSE: Bool? {
        let s = standardError, d = difference
        guard s.isFinite && firstMean.isFinite && secondMean.isFinite else { return nil }
        return d < 2 * s || d == 0
    }
}
