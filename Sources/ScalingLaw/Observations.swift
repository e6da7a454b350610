/// Why an observation or a cell takes no part in a fit. Open set: callers may use their own words.
public struct ExclusionReason: RawRepresentable, Hashable, Codable, Sendable, Comparable,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Shorthand for `init(rawValue:)`.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }

    /// NaN/Inf, loss above ln 10 after burn-in, or accuracy under 20 % (set by the caller).
    public static let diverged = ExclusionReason("diverged")
    /// Failed the stationarity checks (set by the caller).
    public static let nonStationary = ExclusionReason("non-stationary")
    /// The estimator is undefined for this group (set by the caller).
    public static let undefined = ExclusionReason("undefined")
    /// No temperature estimate was given.
    public static let missingEstimate = ExclusionReason("missing-estimate")
    /// T was zero, negative, NaN or infinite, so ln T does not exist.
    public static let nonPositiveEstimate = ExclusionReason("non-positive-estimate")
    /// η or |B| not positive and finite.
    public static let invalidCell = ExclusionReason("invalid-cell")
    /// A second observation for the same (η, |B|, seed); the first one is kept.
    public static let duplicateSeed = ExclusionReason("duplicate-seed")
    /// Usable itself, but another seed of its cell was excluded and the options drop whole cells.
    public static let otherSeedExcluded = ExclusionReason("other-seed-excluded")
}

/// One training run: a cell (η, |B|) and a seed, with its temperature estimate.
public struct Observation: Codable, Sendable, Hashable {
    /// Learning rate η.
    public var eta: Double
    /// Batch size |B|.
    public var batchSize: Int
    /// Seed index. Seeds are shared by all cells (each seed has its own warm start), which is why
    /// the bootstrap resamples seed indices, not observations.
    public var seed: Int
    /// The temperature estimate T; nil when missing.
    public var temperature: Double?
    /// SE(ln T) from the window's blocks; nil when missing.
    public var blockStandardErrorOfLog: Double?
    /// Set by the caller when the run must not be used (`diverged`, `non-stationary`, …).
    public var exclusion: ExclusionReason?

    /// An observation; `exclusion` nil means the caller considers it usable.
    public init(eta: Double, batchSize: Int, seed: Int, temperature: Double?,
                blockStandardErrorOfLog: Double? = nil, exclusion: ExclusionReason? = nil)
    {
        (self.eta, self.batchSize, self.seed, self.temperature, self.blockStandardErrorOfLog, self.exclusion)
            = (eta, batchSize, seed, temperature, blockStandardErrorOfLog, exclusion)
    }
}

/// The exponents (a, b) of a null hypothesis T ∝ η^a · |B|^b.
public struct ExponentPair: Codable, Sendable, Hashable {
    public var a: Double
    public var b: Double
    public init(a: Double, b: Double) { self.a = a; self.b = b }
    /// The η/|B| law of the diffusion and configurational estimators.
    public static let etaOverBatch = ExponentPair(a: 1, b: -1)
}

/// How the parameter covariance is obtained from the weighted fit.
public enum CovarianceScaling: String, Codable, Sendable {
    /// Default. (XᵀWX)⁻¹ · χ²/dof with t(dof) intervals and F tests: only the relative weights are
    /// trusted, the overall noise level comes from the residuals. This stays honest when the block
    /// SEs are off by a common factor (correlated blocks make them too small) and when the power
    /// law does not fit exactly (finite-η bending, drift): misfit raises χ²/dof and widens the
    /// intervals instead of being hidden. With exact relative weights the t and F laws are exact
    /// (coverage test `exactWeightsGiveExactCoverage`: 94.6 % / 94.8 %, tests at 5.2–5.7 %).
    case reducedChiSquare = "reduced-chi-square"
    /// (XᵀWX)⁻¹ as is, normal intervals and χ² tests: the weights are taken as exact inverse
    /// variances. Right only when the block SEs and the seed spread are the whole noise and the
    /// law fits: with one seed and block SEs half the truth it covers 66 % instead of 95 %
    /// (`reducedChiSquareSurvivesMiscalibratedBlockSEs`; the default keeps 95.6 %).
    case weightsOnly = "weights-only"
}

/// How the variance of a cell mean (weight = 1 / variance) is estimated from n seeds with
/// between-seed sample variance s² of ln T and block SEs s_b,j.
public enum CellVarianceModel: String, Codable, Sendable {
    /// Default. v = (mean_j s_b,j² + τ̂²) / n, where τ̂² = max(0, Σ(n−1)(s² − mean s_b²) / Σ(n−1))
    /// is the between-seed variance beyond the window noise, pooled over all cells: variance
    /// components, with a cell-specific window-noise term and a common seed term. A cell without
    /// block SEs uses s²/n (one seed: the pooled s² of the cells with ≥ 2 seeds); with one seed
    /// everywhere τ̂² = 0 and v = block SE². The relative weights then rest on 9 dof per seed (the
    /// blocks) instead of on a 2-dof s² per cell. On the same 1000 synthetic 5 × 5 × 3 sweeps (CoverageTests) the
    /// 95 % intervals of a, b cover 94.2 % / 93.8 % and the 5 % tests reject 5.6–6.7 % under
    /// their nulls; the literal formula below gave 92.1 % / 91.9 % and 6.6–8.4 %. The remaining
    /// excess over 5 % comes from the weights being estimated (exact weights give 5.2–5.7 %).
    case blockPlusPooledExcess = "block-plus-pooled-excess"
    /// The design's first cell variance: v = s²/n + mean_j(s_b,j²)/n (the block SE of the cell mean).
    /// s² already contains the window noise, so it is counted twice (cancelled by the reduced-χ²
    /// scaling), and the weights inherit the noise of a 2-dof s². One seed: s² is replaced by the
    /// pooled Σ(n−1)s² / Σ(n−1) of the cells with ≥ 2 seeds, or dropped when there are none.
    case betweenPlusBlock = "between-plus-block"
}

/// Settings of a scaling-law fit.
public struct FitOptions: Codable, Sendable, Hashable {
    /// Number of seed-resampling bootstrap draws (docs/METHOD.md, 9: at least 1000).
    public var bootstrapDraws: Int = 1000
    /// Seed of the bootstrap's generator; the same seed gives the same intervals.
    public var bootstrapSeed: UInt64 = 0x7E57_5EED
    /// Confidence level of every interval.
    public var confidenceLevel: Double = 0.95
    /// Null hypothesis of the joint Wald test (the `p` of the summary line).
    public var expectedExponents: ExponentPair = .etaOverBatch
    /// See `CovarianceScaling`.
    public var covariance: CovarianceScaling = .reducedChiSquare
    /// See `CellVarianceModel`.
    public var cellVariance: CellVarianceModel = .blockPlusPooledExcess
    /// When one seed of a cell is excluded, drop the whole cell (true) or keep its other seeds.
    /// Default true: a cell where one seed diverged sits at the stability edge, and its surviving
    /// seeds are a biased sample (survivors), so the cell is not averaged from them.
    public var excludeWholeCellWhenAnySeedExcluded: Bool = true
    /// Floor on a cell's variance as a fraction of the median cell variance, so one cell whose
    /// seeds agree by chance cannot take all the weight.
    public var minimumVarianceFraction: Double = 1e-3
    /// Also refit without the largest-η column and the smallest-|B| row.
    public var restrictedRefit: Bool = true

    /// Default options.
    public init() {}

    /// The options actually used: a confidence level outside [0.5, 0.999999] or a non-finite
    /// variance floor falls back to the default (so no NaN quantile reaches the result), and the
    /// expected exponents must be finite. The result echoes these, not the requested ones.
    var sanitized: FitOptions {
        var o = self
        let defaults = FitOptions()
        if !(0.5...0.999_999).contains(o.confidenceLevel) {
            o.confidenceLevel = defaults.confidenceLevel
        }
        if !o.minimumVarianceFraction.isFinite || o.minimumVarianceFraction < 0 {
            o.minimumVarianceFraction = defaults.minimumVarianceFraction
        }
        if !o.expectedExponents.a.isFinite || !o.expectedExponents.b.isFinite {
            o.expectedExponents = defaults.expectedExponents
        }
        o.bootstrapDraws = max(0, o.bootstrapDraws)
        return o
    }
}
