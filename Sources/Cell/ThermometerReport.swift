/// The temperature estimators of docs/METHOD.md, named exactly as in the reports and exports.
public enum Estimator: String, Codable, Sendable, CaseIterable {
    /// (1/(2η n_G)) Σ_i Var_k(Δ_{i,k}) · (1+m): the default.
    case diffusion
    /// ⟨‖Δ_G‖²⟩ / n_G · (1+m): Δt = one step.
    case kinetic
    /// ⟨‖Δ_G‖²⟩ / (η² n_G) · (1+m): Δt = η.
    case kineticSDE = "kinetic-sde"
    /// (1/n_G) Σ_i Var_k(θ_i).
    case configurational
}

/// One estimator's value over the whole window and its block error bar.
///
/// Every number is finite or absent (nil → JSON `null`): a JSON export never holds NaN or Inf.
public struct EstimateReport: Codable, Sendable, Equatable {
    public let estimator: Estimator
    /// Whole-window estimate (per-coordinate variances from Chan's combination of the blocks).
    public let value: Double?
    /// SE(ln T) = sd over blocks of ln T_block / √(number of blocks); nil when a block value is
    /// not positive or fewer than 2 blocks have at least 2 steps.
    public let seLogT: Double?
    /// T over each block (nil where undefined).
    public let blockValues: [Double?]

    public init(estimator: Estimator, value: Double?, seLogT: Double?, blockValues: [Double?]) {
        (self.estimator, self.value, self.seLogT, self.blockValues) = (estimator, value, seLogT, blockValues)
    }
}

/// Observations about a group's measurement; none of them is fatal. The first three are decided by
/// `FlagRules` (docs/METHOD.md, 7), from the group's stored numbers.
public enum GroupFlag: String, Codable, Sendable {
    /// The fluctuation–dissipation ratio lies outside [0, 1] by more than 2 block SE: the group's
    /// norm changed by more than noise-driven motion explains (it drifts).
    case fdrOutOfRange = "fdr-out-of-range"
    /// The calibration ratio is below 1 by more than 2 SE, or above 2 (ηλ > 1).
    case calibrationOutOfRange = "calibration-out-of-range"
    /// No calibration probe was completed, so there is no calibration ratio.
    case noCalibration = "no-calibration"
    /// At least one estimator has no value (zero variance, diverged run, too few steps).
    case undefinedEstimate = "undefined-estimate"
    /// The mean of the block `configurational` values over the window value is below a random
    /// walk's, (K/b + 1)/(K + 1): θ drifts within the window, and no correlation time describes it.
    case configurationalCorrelated = "configurational-correlated"
    /// The run diverged; no estimate is reported.
    case diverged
}

/// The four estimators over one conv filter (a contiguous slice of its layer's weights).
public struct FilterReport: Codable, Sendable, Equatable {
    public let index: Int
    public let count: Int
    public let estimates: [EstimateReport]
    /// σ̄² of this filter's coordinates (per-sample gradient variance per parameter).
    public let noiseVariance: Double?
    public let calibrationRatio: Double?
    public let fluctuationDissipationRatio: Double?

    public init(index: Int, count: Int, estimates: [EstimateReport], noiseVariance: Double?, calibrationRatio: Double?, fluctuationDissipationRatio: Double?) {
        self.index = index
        self.count = count
        self.estimates = estimates
        self.noiseVariance = noiseVariance
        self.calibrationRatio = calibrationRatio
        self.fluctuationDissipationRatio = fluctuationDissipationRatio
    }
}

/// What a parameter group and a conv filter both report: the four estimators' values.
public protocol EstimateReporting {
    var estimates: [EstimateReport] { get }
}

extension EstimateReporting {
    /// The estimate named `estimator`.
    public func estimate(_ estimator: Estimator) -> EstimateReport? {
        estimates.first { $0.estimator == estimator }
    }
}

extension FilterReport: EstimateReporting {}
extension GroupReport: EstimateReporting {}

/// One parameter group's temperatures.
public struct GroupReport: Codable, Sendable, Equatable {
    /// The group of the whole parameter vector, reported after the layers' groups.
    public static let networkName = "network"

    public let name: String
    /// n_G, the number of parameters.
    public let count: Int
    public let estimates: [EstimateReport]
    /// σ̄²_G = probe batch size × (1/n_G) Σ_i Var_probes(g_i), averaged over the calibration points.
    public let noiseVariance: Double?
    /// diffusion / (η_eff σ̄²_G / 2|B|), η_eff = η/(1−m); 1/(1 − ηλ/2) ≥ 1 for a mode of curvature λ.
    public let calibrationRatio: Double?
    /// SE(ln calibration ratio) = √(SE(ln diffusion)² + SE(ln σ̄²_G)²), the latter over the
    /// calibration points; absent in results written before it was recorded.
    public let calibrationStandardErrorOfLog: Double?
    /// ⟨θ·g_B⟩ / ((1+m)⟨‖Δ‖²⟩ / 2η); 1 in the stationary state.
    public let fluctuationDissipationRatio: Double?
    /// SE of the fluctuation–dissipation ratio from its block sums (`FlagRules.ratioStandardError`);
    /// absent in results written before it was recorded.
    public let fluctuationDissipationStandardError: Double?
    public internal(set) var flags: [GroupFlag]
    /// Per conv filter (empty when the group has none).
    public let filters: [FilterReport]
    /// Distribution of the per-weight temperatures T_i / T_G; absent when the window diverged, the
    /// group is frozen, or the result was written before it existed.
    public let weightTemperatures: WeightTemperatureHistogram?

    public init(name: String, count: Int, estimates: [EstimateReport], noiseVariance: Double?, calibrationRatio: Double?,
                calibrationStandardErrorOfLog: Double? = nil, fluctuationDissipationRatio: Double?,
                fluctuationDissipationStandardError: Double? = nil, flags: [GroupFlag], filters: [FilterReport],
                weightTemperatures: WeightTemperatureHistogram? = nil) {
        self.name = name
        self.count = count
        self.estimates = estimates
        self.noiseVariance = noiseVariance
        self.calibrationRatio = calibrationRatio
        self.calibrationStandardErrorOfLog = calibrationStandardErrorOfLog
        self.fluctuationDissipationRatio = fluctuationDissipationRatio
        self.fluctuationDissipationStandardError = fluctuationDissipationStandardError
        self.flags = flags
        self.filters = filters
        self.weightTemperatures = weightTemperatures
    }
}

/// Training loss over the window and the stationarity test.
///
/// Stationarity: the window's blocks are split into a first and a second half (⌊b/2⌋ and ⌈b/2⌉
/// blocks); the half means are the means of their block means, and the SE of their difference is
/// √(s₁²/b₁ + s₂²/b₂) with s_h the unbiased sd of the block means inside half h (Welch). Blocks of
/// ≥ 50 steps are far longer than the loss autocorrelation, so block means are nearly independent;
/// using the within-half spread keeps a steady drift from inflating its own error bar. The window
/// is `stationary` when |difference| < 2 SE (or the difference is exactly 0).
public struct LossReport: Codable, Sendable, Equatable {
    /// Mean training loss per step over the recorded window.
    public let mean: Double?
    /// Unbiased sd of the per-step loss.
    public let standardDeviation: Double?
    public let blockMeans: [Double?]
    public let firstHalfMean: Double?
    public let secondHalfMean: Double?
    /// SE of (second − first) half mean, from the block means.
    public let differenceStandardError: Double?
    /// nil when there are fewer than 4 blocks or the run diverged.
    public let stationary: Bool?

    /// The report of a window's per-step `losses` and its closed blocks' mean losses. The halves
    /// and the stationarity verdict are derived here, by `LossHalves`, and only when the run did not
    /// diverge; every stored number is finite or nil.
    public init(losses: [Double], blockMeans: [Double], diverged: Bool) {
        func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
        let n = Double(losses.count)
        mean = losses.isEmpty ? nil : finite(losses.reduce(0, +) / n)
        if let mean, losses.count >= 2 {
            standardDeviation = finite((losses.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot())
        } else {
            standardDeviation = nil
        }
        self.blockMeans = blockMeans.map(finite)
        let halves = diverged ? nil : LossHalves(blockMeans)
        firstHalfMean = halves.flatMap { finite($0.firstMean) }
        secondHalfMean = halves.flatMap { finite($0.secondMean) }
        differenceStandardError = halves.flatMap { finite($0.standardError) }
        stationary = halves?.withinTwoSE
    }
}

/// Everything the Thermometer measured over one window; Codable for the JobResult.
public struct ThermometerReport: Codable, Sendable, Equatable {
    /// Version of this report's layout; bump when a field changes meaning.
    public static let currentFormatVersion = 1

    public let formatVersion: Int
    public let config: ThermometerConfig
    /// Steps passed to `record` and used (≤ config.measureSteps).
    public let recordedSteps: Int
    /// Blocks closed (config.blocks for a complete window).
    public let blockCount: Int
    /// Calibration points completed.
    public let calibrationPointCount: Int
    /// Why the run counts as diverged, or nil.
    public let divergence: DivergenceReason?
    public let loss: LossReport
    /// The caller's groups in order, then `network` (unless the caller passed one).
    public internal(set) var groups: [GroupReport]
    /// Window-level observations: `incomplete-window`, `extra-steps-ignored`, `diverged`,
    /// `probe-non-finite-gradient`, `probe-too-few-gradients`, `calibration-incomplete`.
    public let flags: [String]


    public init(formatVersion: Int, config: ThermometerConfig, recordedSteps: Int, blockCount: Int, calibrationPointCount: Int, divergence: DivergenceReason?, loss: LossReport, groups: [GroupReport], flags: [String]) {
        self.formatVersion = formatVersion
        self.config = config
        self.recordedSteps = recordedSteps
        self.blockCount = blockCount
        self.calibrationPointCount = calibrationPointCount
        self.divergence = divergence
        self.loss = loss
        self.groups = groups
        self.flags = flags
    }
    /// The group named `name`.
    public func group(_ name: String) -> GroupReport? { groups.first { $0.name == name } }
}

