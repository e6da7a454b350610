// The cell contract: what one grid cell is and how it is measured. `train`, `sweep`, the
// coordinator and the worker all build these types and all check them with the one `validate()`
// below, so a value that one of them accepts every other accepts too.

/// How a cell draws its training batches.
public enum BatchMode: String, CaseIterable, Codable, Sendable {
    /// Uniform with replacement.
    case iid
    /// A new random permutation per epoch, without replacement within it.
    case shuffle
}

extension BatchMode: JSONWritable {}

/// The warm start that every cell of a seed begins from (docs/METHOD.md, 3).
public struct WarmStartSpec: Codable, Sendable, Hashable {
    public var learningRate: Double
    public var batchSize: Int
    /// Length in epochs of the training set; 0 starts the cells from the initial weights.
    public var epochs: Double

    public init(learningRate: Double = 0.05, batchSize: Int = 32, epochs: Double = 3) {
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.epochs = epochs
    }

    /// SGD steps for a training set of `trainCount` images.
    public func steps(trainCount: Int) -> Int {
        Int((epochs * Double(trainCount) / Double(batchSize)).rounded(.up))
    }
}


/// One warm-start run: the seed's shared starting checkpoint of a model.
public struct WarmStart: Codable, Sendable, Hashable {
    public var model: ModelKind
    public var seed: UInt64
    public var spec: WarmStartSpec

    /// Samples it trains on a training set of `trainCount` images (the dispatch cost).
    public func cost(trainCount: Int) -> Int { spec.batchSize * spec.steps(trainCount: trainCount) }

    /// Throws the first value out of range, naming it and the accepted range.
    public func validate() throws(CellSpecError) {
        try CellLimits.check(.warmStartLearningRate, spec.learningRate)
        try CellLimits.check(.warmStartBatchSize, spec.batchSize)
        try CellLimits.check(.warmStartEpochs, spec.epochs)
    }
}


/// The settings that every cell of a grid shares: a `CellSpec`'s fields other than the model, the
/// axes, the seed and the warm start (the grid spec stores them as its `cell`).
public struct CellSettings: Codable, Sendable, Hashable {
    public var momentum: Double
    public var batchMode: BatchMode
    /// nil: max(⌈10/η⌉, 500).
    public var burnInSteps: Int?
    /// nil: max(⌈10/η⌉, 500).
    public var measureSteps: Int?
    public var calibrationProbes: Int
    public var probeBatchSize: Int

    public init(momentum: Double = 0, batchMode: BatchMode = .iid, burnInSteps: Int? = nil, measureSteps: Int? = nil,
                calibrationProbes: Int = 16, probeBatchSize: Int = 32) {
        (self.momentum, self.batchMode, self.burnInSteps,
         self.measureSteps, self.calibrationProbes, self.probeBatchSize)
            = (momentum, batchMode, burnInSteps,
               measureSteps, calibrationProbes, probeBatchSize)
    }
}

/// One grid cell (η, |B|, seed) and how it is measured. A cell's result is a pure function of its
/// spec and its data: every random draw comes from a stream derived from `seed` and the cell.
public struct CellSpec: Codable, Sendable, Hashable {
    public var model: ModelKind
    public var learningRate: Double
    public var batchSize: Int
    public var seed: UInt64
    public var momentum: Double
    public var batchMode: BatchMode
    /// nil: the protocol's max(⌈10/η⌉, 500).
    public var burnInSteps: Int?
    /// nil: the protocol's max(⌈10/η⌉, 500).
    public var measureSteps: Int?
    public var warmStart: WarmStartSpec
    /// Probe batches per calibration point (0 turns noise calibration off).
    public var calibrationProbes: Int
    public var probeBatchSize: Int

    /// The settings' defaults are `CellSettings()`'s.
    public init(model: ModelKind = .lenet816, learningRate: Double, batchSize: Int, seed: UInt64,
                momentum: Double = CellSettings().momentum, batchMode: BatchMode = CellSettings().batchMode,
                burnInSteps: Int? = nil, measureSteps: Int? = nil, warmStart: WarmStartSpec = WarmStartSpec(),
                calibrationProbes: Int = CellSettings().calibrationProbes,
                probeBatchSize: Int = CellSettings().probeBatchSize) {
        self.model = model
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.seed = seed
        self.momentum = momentum
        self.batchMode = batchMode
        self.burnInSteps = burnInSteps
        self.measureSteps = measureSteps
        self.warmStart = warmStart
        self.calibrationProbes = calibrationProbes
        self.probeBatchSize = probeBatchSize
    }

    /// The cell (η, |B|, seed) of `model` that begins from `warmStart` and is measured with `settings`.
    public init(model: ModelKind, learningRate: Double, batchSize: Int, seed: UInt64, warmStart: WarmStartSpec,
                settings: CellSettings) {
        self.init(model: model, learningRate: learningRate, batchSize: batchSize, seed: seed,
                  momentum: settings.momentum, batchMode: settings.batchMode, burnInSteps: settings.burnInSteps,
                  measureSteps: settings.measureSteps, warmStart: warmStart,
                  calibrationProbes: settings.calibrationProbes, probeBatchSize: settings.probeBatchSize)
    }

    public var resolvedBurnInSteps: Int { burnInSteps ?? Protocol.burnInSteps(lr: learningRate) }
    public var resolvedMeasureSteps: Int { measureSteps ?? Protocol.measureSteps(lr: learningRate) }

    /// The warm start this cell begins from.
    public var warmStartRun: WarmStart { WarmStart(model: model, seed: seed, spec: warmStart) }

    /// Samples the cell trains, ≈ |B| × (K_burn + K_meas) + 4 calibration points × probes × probe
    /// batch: the dispatch priority and the ETA unit. Evaluation (the same for every cell) is left
    /// out. The spec must be valid.
    public var cost: Int {
        let calibration = calibrationProbes > 0 ? Protocol.calibrationPoints * calibrationProbes * probeBatchSize : 0
        return batchSize * (resolvedBurnInSteps + resolvedMeasureSteps) + calibration
    }

    /// Throws the first value out of range, naming it and the accepted range. The trainer, the
    /// thermometer and every command accept exactly the specs that pass.
    public func validate() throws(CellSpecError) {
        try CellLimits.check(.learningRate, learningRate)
        try CellLimits.check(.batchSize, batchSize)
        try CellLimits.check(.momentum, momentum)
        if let burnInSteps { try CellLimits.check(.burnInSteps, burnInSteps) }
        if let measureSteps { try CellLimits.check(.measureSteps, measureSteps) }
        try warmStartRun.validate()
        try CellLimits.check(.calibrationProbes, calibrationProbes)
        try CellLimits.check(.probeBatchSize, probeBatchSize)
    }
}


/// A setting of a cell that `validate()` can refuse; commands map each to their option name.
public enum CellField: String, CaseIterable, Sendable {
    case learningRate = "learning rate"
    case batchSize = "batch size"
    case momentum
    case burnInSteps = "burn-in steps"
    case measureSteps = "measurement window steps"
    case warmStartLearningRate = "warm-start learning rate"
    case warmStartBatchSize = "warm-start batch size"
    case warmStartEpochs = "warm-start epochs"
    case calibrationProbes = "calibration probes"
    case probeBatchSize = "probe batch size"

    /// The field's key path in a `CellSpec`'s JSON: `learningRate`, `warmStart.epochs`.
    public var keyPath: String {
        switch self {
        case .learningRate: return "learningRate"
        case .batchSize: return "batchSize"
        case .momentum: return "momentum"
        case .burnInSteps: return "burnInSteps"
        case .measureSteps: return "measureSteps"
        case .warmStartLearningRate: return "warmStart.learningRate"
        case .warmStartBatchSize: return "warmStart.batchSize"
        case .warmStartEpochs: return "warmStart.epochs"
        case .calibrationProbes: return "calibrationProbes"
        case .probeBatchSize: return "probeBatchSize"
        }
    }
}

/// A cell setting out of range: names the setting, the value and what to give instead.
public struct CellSpecError: Error, Equatable, CustomStringConvertible, Sendable {
    public let field: CellField
    /// The offending value as the user wrote it.
    public let value: String
    /// What is accepted, e.g. `a number in [1e-06, 10]` or `20 to 10000000 (10 blocks of 2 steps)`.
    public let allowed: String

    /// `learning rate 5e-07 is out of range: give a number in [1e-06, 10].`
    public var description: String { message(naming: field.rawValue) }

    /// The same message naming the setting as `name` (a command's option, e.g. `--lr`).
    public func message(naming name: String) -> String {
        "\(name) \(value) is out of range: give \(allowed)."
    }
}

/// The accepted range of every cell setting: the one place these limits are written.
public enum CellLimits {
    /// Largest batch size; a batch is one GEMM column block, so this bounds memory.
    public static let maxBatchSize = 4096
    /// Longest burn-in or window (the window keeps one loss per step).
    public static let maxSteps = 10_000_000
    /// Smallest η: the protocol's ⌈10/η⌉ steps stay within `maxSteps`.
    public static let minimumLearningRate = Protocol.sdeTime / Double(maxSteps)
    public static let maximumLearningRate = 10.0
    /// Shortest window: the Thermometer's 10 blocks of at least 2 steps each.
    public static let minimumMeasureSteps = Protocol.blocks * 2
    public static let maxWarmStartEpochs = 1_000.0
    /// Probe batches per calibration point: 0 (off) or 2 to this.
    public static let maxCalibrationProbes = 1_024

    /// Whether `value` of `field` is accepted.
    public static func accepts(_ field: CellField, _ value: Double) -> Bool {
        guard value.isFinite else { return false }
        switch field {
        case .learningRate, .warmStartLearningRate:
            return value >= minimumLearningRate && value <= maximumLearningRate
        // SGD runs in Float32: a value that rounds to 1 there would trap in SGDConfig.
        case .momentum: return value >= 0 && Float(value) < 1
        case .warmStartEpochs: return value >= 0 && value <= maxWarmStartEpochs
        case .batchSize, .warmStartBatchSize, .probeBatchSize, .burnInSteps, .measureSteps, .calibrationProbes:
            guard let integer = Int(exactly: value) else { return false }
            return accepts(field, integer)
        }
    }

    /// Whether `value` of the integer setting `field` is accepted.
    public static func accepts(_ field: CellField, _ value: Int) -> Bool {
        switch field {
        case .batchSize, .warmStartBatchSize, .probeBatchSize: return (1...maxBatchSize).contains(value)
        case .burnInSteps: return (0...maxSteps).contains(value)
        case .measureSteps: return (minimumMeasureSteps...maxSteps).contains(value)
        case .calibrationProbes: return value == 0 || (2...maxCalibrationProbes).contains(value)
        case .learningRate, .warmStartLearningRate, .momentum, .warmStartEpochs: return accepts(field, Double(value))
        }
    }

    /// The accepted values of `field` in words.
    public static func allowed(_ field: CellField) -> String {
        switch field {
        case .learningRate, .warmStartLearningRate:
            return "a number in [\(minimumLearningRate), \(plain(maximumLearningRate))]"
        case .momentum: return "a number in [0, 1) that stays below 1 in Float32"
        case .warmStartEpochs: return "0 to \(plain(maxWarmStartEpochs))"
        case .batchSize, .warmStartBatchSize, .probeBatchSize: return "1 to \(maxBatchSize)"
        case .burnInSteps: return "0 to \(maxSteps)"
        case .measureSteps:
            return "\(minimumMeasureSteps) to \(maxSteps) (\(Protocol.blocks) blocks of at least 2 steps)"
        case .calibrationProbes: return "0 (off) or 2 to \(maxCalibrationProbes)"
        }
    }

    /// `10` rather than `10.0` for a whole number.
    private static func plain(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? "\(Int(x))" : "\(x)"
    }

    static func check(_ field: CellField, _ value: Double) throws(CellSpecError) {
        if !accepts(field, value) { throw CellSpecError(field: field, value: "\(value)", allowed: allowed(field)) }
    }

    static func check(_ field: CellField, _ value: Int) throws(CellSpecError) {
        if !accepts(field, value) { throw CellSpecError(field: field, value: "\(value)", allowed: allowed(field)) }
    }
}
