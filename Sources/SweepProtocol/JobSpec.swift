// What a worker needs to run one job. The keys of `JobSpec` are those of Thermometer's `CellSpec`
// (plus `dataset`, `datasetHash`, `trivialMillis`), so a worker decodes its `CellSpec` from the same
// JSON; this target mirrors the few fields rather than importing the trainer (DESIGN.md: no
// dependencies), and the coordinator, which never trains, can build specs.

/// The kind of a job on the wire.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    /// Trains a seed's shared starting checkpoint; its RESULT carries the checkpoint.
    case warmStart = "warm-start"
    /// Measures one cell from its seed's checkpoint (sent with the JOB).
    case measure
    /// Does no training: waits `trivialMillis` with heartbeats; for tests of the machinery.
    case trivial
}

/// Warm-start settings; the keys of Trainer's `WarmStartSpec`.
public struct WarmStartSettings: Codable, Sendable, Hashable {
    public var learningRate: Double
    public var batchSize: Int
    /// Epochs of the training set; 0 starts the cells from the initial weights.
    public var epochs: Double

    public init(learningRate: Double = 0.05, batchSize: Int = 32, epochs: Double = 3) {
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.epochs = epochs
    }

    enum CodingKeys: String, CodingKey { case learningRate, batchSize, epochs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(CodingKeys.self)
        learningRate = try c.field(Double.self, forKey: .learningRate)
        batchSize = try c.field(Int.self, forKey: .batchSize)
        epochs = try c.field(Double.self, forKey: .epochs)
    }

    func validate(_ prefix: String) throws {
        try Check.double(learningRate, prefix + "learningRate", 1e-9...10)
        try Check.int(batchSize, prefix + "batchSize", 1...GridLimits.maxBatchSize)
        try Check.double(epochs, prefix + "epochs", 0...1_000)
    }

    /// SGD steps over a training set of `trainCount` images (Trainer's `WarmStartSpec.steps`).
    public func steps(trainCount: Int) -> Int {
        Int((epochs * Double(trainCount) / Double(batchSize)).rounded(.up))
    }
}

/// Which data set a sweep trains on.
public struct DatasetSelection: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case fashionMNIST = "fashion-mnist"
        case synthetic
    }

    public var kind: Kind
    /// Folder of the IDX files (fashion-mnist only), as the user gave it.
    public var directory: String?
    /// Seed and training-image count of the synthetic set (synthetic only).
    public var seed: UInt64?
    public var count: Int?

    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public static func fashionMNIST(directory: String = defaultDirectory) -> DatasetSelection {
        DatasetSelection(kind: .fashionMNIST, directory: directory, seed: nil, count: nil)
    }

    public static func synthetic(seed: UInt64 = 1, count: Int = 12_000) -> DatasetSelection {
        DatasetSelection(kind: .synthetic, directory: nil, seed: seed, count: count)
    }

    /// The name workers offer in READY: `fashion-mnist` or `synthetic/seed=1/count=12000`.
    public var name: String {
        switch kind {
        case .fashionMNIST: return "fashion-mnist"
        case .synthetic: return "synthetic/seed=\(seed ?? 0)/count=\(count ?? 0)"
        }
    }

    /// Training images: 60,000 for Fashion-MNIST, `count` for the synthetic set.
    public var trainCount: Int {
        switch kind {
        case .fashionMNIST: return 60_000
        case .synthetic: return count ?? 0
        }
    }

    enum CodingKeys: String, CodingKey { case kind, directory, seed, count }

    public init(kind: Kind, directory: String?, seed: UInt64?, count: Int?) {
        self.kind = kind
        self.directory = directory
        self.seed = seed
        self.count = count
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(CodingKeys.self)
        kind = try c.field(Kind.self, forKey: .kind)
        directory = try c.optionalField(String.self, forKey: .directory)
        seed = try c.optionalField(UInt64.self, forKey: .seed)
        count = try c.optionalField(Int.self, forKey: .count)
    }

    func validate(_ prefix: String) throws {
        switch kind {
        case .fashionMNIST:
            guard let directory else { throw Check.fail(prefix + "directory", "is required for fashion-mnist") }
            try Check.string(directory, prefix + "directory", maxLength: 4096)
            try Check.require(seed == nil, prefix + "seed", "applies only to the synthetic set")
            try Check.require(count == nil, prefix + "count", "applies only to the synthetic set")
        case .synthetic:
            try Check.require(directory == nil, prefix + "directory", "applies only to fashion-mnist")
            try Check.require(seed != nil, prefix + "seed", "is required for the synthetic set")
            guard let count else { throw Check.fail(prefix + "count", "is required for the synthetic set") }
            try Check.int(count, prefix + "count", 100...1_000_000)
        }
    }
}

/// Everything a worker needs to run one job; a pure function of the grid spec and the job.
public struct JobSpec: Codable, Sendable, Hashable {
    /// `lenet-8-16`, `lenet-4-8` or `cnn-32-64` (Trainer's `ModelKind` raw values).
    public var model: String
    /// Training seed: gridSeed + seed index.
    public var seed: UInt64
    /// The cell's η and |B|; nil for a warm-start job.
    public var learningRate: Double?
    public var batchSize: Int?
    public var momentum: Double
    /// `iid` or `shuffle` (Trainer's `BatchSampler.Mode`).
    public var batchMode: String
    /// nil: max(⌈10/η⌉, 500).
    public var burnInSteps: Int?
    public var measureSteps: Int?
    public var warmStart: WarmStartSettings
    public var calibrationProbes: Int
    public var probeBatchSize: Int
    public var dataset: DatasetSelection
    /// The training set's content hash the job needs; nil accepts any (trivial jobs, tests).
    public var datasetHash: String?
    /// How long a trivial job takes; nil for others.
    public var trivialMillis: Int?

    public init(model: String, seed: UInt64, learningRate: Double?, batchSize: Int?, momentum: Double = 0,
                batchMode: String = "iid", burnInSteps: Int? = nil, measureSteps: Int? = nil,
                warmStart: WarmStartSettings = WarmStartSettings(), calibrationProbes: Int = 16,
                probeBatchSize: Int = 32, dataset: DatasetSelection, datasetHash: String? = nil,
                trivialMillis: Int? = nil) {
        self.model = model
        self.seed = seed
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.momentum = momentum
        self.batchMode = batchMode
        self.burnInSteps = burnInSteps
        self.measureSteps = measureSteps
        self.warmStart = warmStart
        self.calibrationProbes = calibrationProbes
        self.probeBatchSize = probeBatchSize
        self.dataset = dataset
        self.datasetHash = datasetHash
        self.trivialMillis = trivialMillis
    }

    enum CodingKeys: String, CodingKey {
        case model, seed, learningRate, batchSize, momentum, batchMode, burnInSteps, measureSteps, warmStart,
             calibrationProbes, probeBatchSize, dataset, datasetHash, trivialMillis
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(CodingKeys.self)
        model = try c.field(String.self, forKey: .model)
        seed = try c.field(UInt64.self, forKey: .seed)
        learningRate = try c.optionalField(Double.self, forKey: .learningRate)
        batchSize = try c.optionalField(Int.self, forKey: .batchSize)
        momentum = try c.field(Double.self, forKey: .momentum)
        batchMode = try c.field(String.self, forKey: .batchMode)
        burnInSteps = try c.optionalField(Int.self, forKey: .burnInSteps)
        measureSteps = try c.optionalField(Int.self, forKey: .measureSteps)
        warmStart = try c.field(WarmStartSettings.self, forKey: .warmStart)
        calibrationProbes = try c.field(Int.self, forKey: .calibrationProbes)
        probeBatchSize = try c.field(Int.self, forKey: .probeBatchSize)
        dataset = try c.field(DatasetSelection.self, forKey: .dataset)
        datasetHash = try c.optionalField(String.self, forKey: .datasetHash)
        trivialMillis = try c.optionalField(Int.self, forKey: .trivialMillis)
    }

    /// Checks every field; `kind` says which of the optional ones must be present.
    func validate(kind: JobKind, _ prefix: String = "spec.") throws {
        try Check.require(GridLimits.knownModels.contains(model), prefix + "model",
                          "unknown model '\(model.prefix(40))'; known: \(GridLimits.knownModels.joined(separator: ", "))")
        switch kind {
        case .warmStart:
            try Check.require(learningRate == nil, prefix + "learningRate", "a warm-start job has no cell η")
            try Check.require(batchSize == nil, prefix + "batchSize", "a warm-start job has no cell |B|")
        case .measure, .trivial:
            guard let learningRate else { throw Check.fail(prefix + "learningRate", "is required for a \(kind.rawValue) job") }
            guard let batchSize else { throw Check.fail(prefix + "batchSize", "is required for a \(kind.rawValue) job") }
            try Check.double(learningRate, prefix + "learningRate", 1e-9...10)
            try Check.int(batchSize, prefix + "batchSize", 1...GridLimits.maxBatchSize)
        }
        try Check.require((kind == .trivial) == (trivialMillis != nil), prefix + "trivialMillis",
                          kind == .trivial ? "is required for a trivial job" : "applies only to trivial jobs")
        if let trivialMillis { try Check.int(trivialMillis, prefix + "trivialMillis", 0...3_600_000) }
        try Check.double(momentum, prefix + "momentum", 0...0.999_999)
        try Check.require(GridLimits.batchModes.contains(batchMode), prefix + "batchMode",
                          "'\(batchMode.prefix(40))' is not one of \(GridLimits.batchModes.joined(separator: ", "))")
        if let burnInSteps { try Check.int(burnInSteps, prefix + "burnInSteps", 0...GridLimits.maxSteps) }
        if let measureSteps { try Check.int(measureSteps, prefix + "measureSteps", 10...GridLimits.maxSteps) }
        try warmStart.validate(prefix + "warmStart.")
        try Check.require(calibrationProbes == 0 || (2...1_024).contains(calibrationProbes), prefix + "calibrationProbes",
                          "\(calibrationProbes) is neither 0 (off) nor in 2...1024")
        try Check.int(probeBatchSize, prefix + "probeBatchSize", 1...GridLimits.maxBatchSize)
        try dataset.validate(prefix + "dataset.")
        if let datasetHash { try Check.hash(datasetHash, prefix + "datasetHash") }
    }
}
