/// A closed interval [lower, upper].
public struct Interval: Codable, Sendable, Hashable {
    public var lower: Double
    public var upper: Double
    public init(lower: Double, upper: Double) { self.lower = lower; self.upper = upper }
    /// Whether x lies in the interval (ends included).
    public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
}

/// A fitted coefficient with its standard error and analytic confidence interval.
public struct Estimate: Codable, Sendable, Hashable {
    public var value: Double
    public var standardError: Double
    public var interval: Interval
}

/// A Wald test of linear constraints L β = r on the fitted coefficients.
///
/// `statistic` is always the Wald form W = (Lβ − r)ᵀ (L Σ Lᵀ)⁻¹ (Lβ − r). With the reduced-χ²
/// covariance the p-value is from F = W / q with (q, dof) degrees of freedom (exact for Gaussian
/// errors with known relative weights); with `weightsOnly` it is from χ²_q. The asymptotic χ²_q
/// p-value is reported too, for comparison.
public struct WaldTest: Codable, Sendable, Hashable {
    /// The null hypothesis in words, e.g. "a + b = 0".
    public var hypothesis: String
    /// Wald statistic W.
    public var statistic: Double
    /// Number of constraints q.
    public var constraints: Int
    /// Denominator degrees of freedom of the F law; nil when the p-value is from χ²_q.
    public var denominatorDegreesOfFreedom: Int?
    /// The p-value used for decisions.
    public var pValue: Double
    /// P(χ²_q ≥ W), the large-sample p-value.
    public var asymptoticPValue: Double
}

/// The one-exponent fit ln T = c + γ ln(η/|B|).
public struct OneExponentFit: Codable, Sendable, Hashable {
    public var gamma: Estimate
    public var intercept: Estimate
    public var chiSquare: Double
    public var degreesOfFreedom: Int
}

/// The curvature check: the weighted F-test of adding (ln η)², (ln|B|)² and ln η · ln|B|.
public struct CurvatureTest: Codable, Sendable, Hashable {
    /// F = ((χ²_linear − χ²_quadratic) / 3) / (χ²_quadratic / (m − 6)); with `weightsOnly`
    /// covariance this field holds χ²_linear − χ²_quadratic and the p-value is from χ²_3.
    public var statistic: Double
    public var numeratorDegreesOfFreedom: Int
    /// nil when the p-value is from χ²_3.
    public var denominatorDegreesOfFreedom: Int?
    public var pValue: Double
    /// The quadratic coefficients (the same whatever the centring of ln η and ln|B|).
    public var etaSquared: Estimate
    public var batchSquared: Estimate
    public var etaBatch: Estimate
}

/// One weighted fit ln T = c + a ln η + b ln|B| with its tests.
public struct PowerLawFit: Codable, Sendable, Hashable {
    /// Exponent of η.
    public var a: Estimate
    /// Exponent of |B|.
    public var b: Estimate
    /// Intercept (ln T at η = 1, |B| = 1).
    public var c: Estimate
    /// Covariance of (c, a, b), row-major (3, 3), as used for the standard errors.
    public var covariance: [Double]
    public var covarianceScaling: CovarianceScaling
    /// Cells in the fit m, and m − 3.
    public var cellsUsed: Int
    public var degreesOfFreedom: Int
    /// Σ w r² with the weights as given, and χ²/dof: about 1 when the cell variances are right,
    /// about 0.5 when seeds differ only by window noise (the block SE is then counted twice).
    public var chiSquare: Double
    public var reducedChiSquare: Double
    /// Weighted R² = 1 − χ² / Σ w (y − ȳ_w)²; nil when all cell means are equal.
    public var rSquared: Double?
    /// Quantile used for the intervals (t_{dof} or normal).
    public var intervalQuantile: Double
    /// a + b = 0 (T depends on η/|B| only). nil when the residual variance is zero.
    public var collapse: WaldTest?
    /// (a, b) = expected exponents (default (1, −1)), 2 constraints.
    public var expectedExponents: WaldTest?
    public var oneExponent: OneExponentFit?
    /// nil when there are fewer than 7 cells or fewer than 3 distinct η or |B| (see `notes`).
    public var curvature: CurvatureTest?
    /// Anything the reader should know (skipped tests and why).
    public var notes: [String]
}

/// A bootstrap distribution summarised: mean, SD (the bootstrap SE), percentile interval.
public struct BootstrapEstimate: Codable, Sendable, Hashable {
    public var mean: Double
    public var standardError: Double
    public var percentileInterval: Interval
}

/// The seed-resampling bootstrap of the full fit.
public struct BootstrapSummary: Codable, Sendable, Hashable {
    /// Requested draws, and draws whose refit failed (fewer than 4 cells left, or singular).
    public var draws: Int
    public var failedDraws: Int
    /// Number of distinct seeds S and of distinct resamples C(2S − 1, S): with 3 seeds only 10
    /// different multisets exist, so the percentile intervals are coarse and tend to be narrow.
    public var seeds: Int
    public var distinctResamples: Double
    public var generatorSeed: UInt64
    public var a: BootstrapEstimate
    public var b: BootstrapEstimate
    public var c: BootstrapEstimate
    public var gamma: BootstrapEstimate?
    /// A caution for few seeds (fewer than 20), else nil.
    public var caution: String?
}

/// An observation that took no part in the fit.
public struct ExcludedObservation: Codable, Sendable, Hashable {
    public var eta: Double
    public var batchSize: Int
    public var seed: Int
    public var reason: ExclusionReason

    init(eta: Double, batchSize: Int, seed: Int, reason: ExclusionReason) {
        self.eta = eta; self.batchSize = batchSize; self.seed = seed; self.reason = reason
    }

    init(_ o: Observation, reason: ExclusionReason) {
        self.init(eta: o.eta, batchSize: o.batchSize, seed: o.seed, reason: reason)
    }
}

/// A cell that took no part in the fit, with the reasons of its excluded seeds.
public struct ExcludedCell: Codable, Sendable, Hashable {
    public var eta: Double
    public var batchSize: Int
    public var reasons: [ExclusionReason]
    /// All seed indices observed in this cell.
    public var excludedSeeds: [Int]
}

/// One cell as used by the full fit (for tables and plots).
public struct CellSummary: Codable, Sendable, Hashable {
    public var eta: Double
    public var batchSize: Int
    public var seeds: Int
    /// Mean of ln T over the seeds, and its variance as used for the weight (weight = 1/variance;
    /// the variance is 1, not a variance, when `ScalingLawResult.weighting` is equal-weights).
    public var meanLogT: Double
    public var varianceOfMean: Double
    /// Between-seed sample variance of ln T (nil with 1 seed) and mean block SE² (nil if none).
    public var betweenSeedVariance: Double?
    public var meanBlockSE2: Double?
    /// Fitted ln T and the residual meanLogT − fitted; nil when the full fit failed.
    public var fittedLogT: Double?
    public var residual: Double?
}

/// Why a fit could not be made.
public struct FitFailure: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        case tooFewCells = "too-few-cells"
        case etaNotVaried = "eta-not-varied"
        case batchSizeNotVaried = "batch-size-not-varied"
        case singularDesign = "singular-design"
        /// A fit on the same cells as another (`ScalingLaw.fit(_:sameCellsAs:)`) lacks a value.
        case valuesMissing = "values-missing"
    }
    public var kind: Kind
    public var message: String
    public var description: String { message }
}

/// The refit without the largest-η column and the smallest-|B| row of the cells the full fit used.
public struct RestrictedRefit: Codable, Sendable, Hashable {
    public var droppedEta: Double
    public var droppedBatchSize: Int
    public var fit: PowerLawFit?
    public var failure: FitFailure?
}

/// Everything a scaling-law fit produces for one (group, estimator).
public struct ScalingLawResult: Codable, Sendable, Hashable {
    /// The full fit; nil when `failure` says why it could not be made.
    public var fit: PowerLawFit?
    public var failure: FitFailure?
    /// The seed bootstrap; nil when `bootstrapUnavailable` says why.
    public var bootstrap: BootstrapSummary?
    public var bootstrapUnavailable: String?
    public var restricted: RestrictedRefit?
    public var weighting: WeightingRule
    /// τ̂², the pooled between-seed variance of ln T beyond the block SEs (0 when not estimable;
    /// used by the default `CellVarianceModel`). Includes any offset a seed shares by all cells.
    public var excessSeedVariance: Double
    public var cells: [CellSummary]
    public var excludedCells: [ExcludedCell]
    public var excludedObservations: [ExcludedObservation]
    public var options: FitOptions

    /// One line, e.g. `T ∝ η^0.97±0.02 |B|^-0.92±0.02, p(1,-1)=2e-3, p(a+b=0)=0.04`
    /// (docs/METHOD.md, 10).
    ///
    /// ± is the analytic standard error (not the interval half-width). `p(1,-1)` is the joint Wald
    /// test of (a, b) = the expected exponents (T ∝ η/|B| itself for (1, −1)); `p(a+b=0)` is the
    /// collapse test (T depends on η/|B| only, with any power). A test that cannot be made reads
    /// `untestable`.
    public var summaryLine: String {
        guard let fit else { return "no fit: \(failure?.message ?? "unknown reason")" }
        let e = options.expectedExponents
        func p(_ test: WaldTest?) -> String { test.map { Format.pValue($0.pValue) } ?? "untestable" }
        return "T ∝ η^\(Format.valueWithError(fit.a)) |B|^\(Format.valueWithError(fit.b)), "
            + "p(\(Format.short(e.a)),\(Format.short(e.b)))=\(p(fit.expectedExponents)), p(a+b=0)=\(p(fit.collapse))"
    }
}

/// Number formatting without Foundation.
enum Format {
    /// x rounded to `digits` decimals, e.g. fixed(-0.9812, 2) = "-0.98".
    static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(x) * scale).rounded()
        guard scaled < 9e15 else { return "\(x)" }
        let n = UInt64(scaled)
        let whole = n / UInt64(scale), frac = n % UInt64(scale)
        var fracText = String(frac)
        while fracText.count < digits { fracText = "0" + fracText }
        let sign = x < 0 && n != 0 ? "-" : ""
        return digits > 0 ? "\(sign)\(whole).\(fracText)" : "\(sign)\(whole)"
    }

    /// "1.02±0.03": decimals so that the SE shows one or two significant digits (2 to 4).
    static func valueWithError(_ e: Estimate) -> String {
        var digits = 2
        var se = e.standardError
        while se > 0 && se < 0.01 && digits < 4 { se *= 10; digits += 1 }
        return "\(fixed(e.value, digits))±\(fixed(e.standardError, digits))"
    }

    /// Shortest of a few fixed forms, for hypothesis labels (2, −1, 0.5).
    static func short(_ x: Double) -> String {
        for d in 0...3 {
            let s = fixed(x, d)
            var scale = 1.0
            for _ in 0..<d { scale *= 10 }
            if abs((x * scale).rounded() / scale - x) < 1e-12 { return s }
        }
        return fixed(x, 3)
    }

    /// p-values: two decimals down to 0.01, then one significant digit in e-notation.
    static func pValue(_ p: Double) -> String {
        if p >= 0.01 { return fixed(p, 2) }
        if p <= 0 { return "0" }
        var mantissa = p, exponent = 0
        while mantissa < 1 { mantissa *= 10; exponent -= 1 }
        if mantissa.rounded() >= 10 { mantissa /= 10; exponent += 1 }
        return "\(fixed(mantissa, 0))e\(exponent)"
    }
}

extension Estimate {
    /// The Wald test that independent estimates of one quantity (the exponent a of fits over
    /// disjoint runs, such as one per momentum) share one value: W = Σ wᵢ (xᵢ − x̄)², wᵢ = 1/seᵢ²,
    /// x̄ the weighted mean, against χ² with k − 1 degrees of freedom; or, where the standard
    /// errors were themselves estimated (the fits' reduced-χ² scaling), against F(k − 1, d) with
    /// W/(k − 1), d the smallest of the fits' residual degrees of freedom (the conservative
    /// choice; the χ² p-value is kept as the asymptotic one). Nil with fewer than two estimates or
    /// a standard error that is not positive and finite.
    public static func equality(_ estimates: [Estimate], hypothesis: String,
                                denominatorDegreesOfFreedom: Int? = nil) -> WaldTest? {
        guard estimates.count >= 2,
              estimates.allSatisfy({ $0.standardError > 0 && $0.standardError.isFinite && $0.value.isFinite })
        else { return nil }
        let weights = estimates.map { 1 / ($0.standardError * $0.standardError) }
        let mean = zip(weights, estimates).map { $0 * $1.value }.reduce(0, +) / weights.reduce(0, +)
        let w = zip(weights, estimates).map { $0 * ($1.value - mean) * ($1.value - mean) }.reduce(0, +)
        let q = estimates.count - 1
        let asymptotic = Distributions.chiSquareUpperTail(w, dof: Double(q))
        guard let d = denominatorDegreesOfFreedom, d > 0 else {
            return WaldTest(hypothesis: hypothesis, statistic: w, constraints: q, denominatorDegreesOfFreedom: nil,
                            pValue: asymptotic, asymptoticPValue: asymptotic)
        }
        let p = Distributions.fUpperTail(w / Double(q), dof1: Double(q), dof2: Double(d))
        return WaldTest(hypothesis: hypothesis, statistic: w, constraints: q, denominatorDegreesOfFreedom: d,
                        pValue: p, asymptoticPValue: asymptotic)
    }

    /// "0.98±0.01", as in `FitResult.summaryLine`.
    public var summaryText: String { Format.valueWithError(self) }
}

extension WaldTest {
    /// The p-value as the summary lines print it ("0.18", "1e-10").
    public var pValueText: String { Format.pValue(pValue) }
}
