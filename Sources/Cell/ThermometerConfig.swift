/// The settings of one measurement window (docs/METHOD.md, 3).
///
/// Momentum (docs/METHOD.md, 4): "with momentum m the estimators multiply by (1+m)", read from
/// heavy-ball SGD on a quadratic at small ηλ: Var(Δ) ≈ η²σ²/(|B|(1−m²)) while λ·Var(θ) ≈
/// ησ²/(2|B|(1−m)). So the velocity-based estimators (`diffusion`, `kinetic`, `kinetic-sde`) are
/// multiplied by (1+m), which makes them equal the position temperature η_eff σ²/2|B| with
/// η_eff = η/(1−m); `configurational` is a position variance and is not multiplied. The
/// fluctuation–dissipation ratio uses the corrected ⟨‖Δ‖²⟩·(1+m)/2η, and the calibration prediction
/// uses η_eff, so both stay ≈ 1. With m = 0 (the default) all of this is the identity.
public struct ThermometerConfig: Codable, Sendable, Equatable {
    /// SGD learning rate η.
    public var learningRate: Double
    /// Training batch size |B|.
    public var batchSize: Int
    /// Heavy-ball momentum m (0 for plain SGD).
    public var momentum: Double
    /// Number of training steps in the window, K_meas.
    public var measureSteps: Int
    /// Number of contiguous blocks the window is split into for error bars.
    public var blocks: Int
    /// Number of noise-calibration points in the window.
    public var calibrationPoints: Int

    /// A window of `measureSteps` (default `Protocol.measureSteps(lr:)`) split into `blocks` blocks.
    public init(learningRate: Double, batchSize: Int, momentum: Double = 0,
                measureSteps: Int? = nil, blocks: Int = 10, calibrationPoints: Int = 4) {
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.momentum = momentum
        // A bad η is reported by validate(), not trapped here.
        let usable = learningRate.isFinite && learningRate > 0
        self.measureSteps = measureSteps
            ?? (usable ? Protocol.measureSteps(lr: learningRate) : Protocol.minimumSteps)
        self.blocks = blocks
        self.calibrationPoints = calibrationPoints
    }

    /// Factor applied to the velocity-based estimators: 1 + m (see the type's documentation).
    public var momentumFactor: Double { 1 + momentum }

    /// η/(1 − m): the learning rate of the plain SGD with the same stationary position spread.
    public var effectiveLearningRate: Double { learningRate / (1 - momentum) }

    /// Throws when a setting cannot give a well-defined measurement, naming the value.
    public func validate() throws {
        guard learningRate.isFinite && learningRate > 0 else {
            throw ThermometerConfigError("learning rate must be a positive number, got \(learningRate)")
        }
        guard batchSize > 0 else {
            throw ThermometerConfigError("batch size must be positive, got \(batchSize)")
        }
        guard momentum.isFinite && momentum >= 0 && momentum < 1 else {
            throw ThermometerConfigError("momentum must be in [0, 1), got \(momentum)")
        }
        guard blocks >= 2 else {
            throw ThermometerConfigError("need at least 2 blocks for an error bar, got \(blocks)")
        }
        guard measureSteps >= 2 * blocks else {
            throw ThermometerConfigError(
                "measure steps \(measureSteps) too few for \(blocks) blocks of at least 2 steps; "
                + "use at least \(2 * blocks)")
        }
        guard calibrationPoints >= 0 && calibrationPoints <= measureSteps else {
            throw ThermometerConfigError(
                "calibration points must be in 0...\(measureSteps), got \(calibrationPoints)")
        }
    }
}

/// A `ThermometerConfig` that cannot be measured with; the message says which value and why.
public struct ThermometerConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
