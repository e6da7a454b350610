/// Loss and accuracy of the network on a whole data set.
public struct Evaluation: Codable, Sendable, Equatable {
    /// Mean cross-entropy; nil when it is not finite.
    public let loss: Double?
    public let accuracy: Double

    public init(loss: Double, accuracy: Double) {
        self.loss = loss.isFinite ? loss : nil
        self.accuracy = accuracy
    }
}

/// Everything one cell produces: the record a sweep job returns (format versioned).
public struct CellResult: Codable, Sendable {
    /// Version of this record's JSON shape.
    public static let currentFormat = "thermosweep-cell/1"
    public private(set) var format = Self.currentFormat
    public let spec: CellSpec
    public let dataset: String
    public let datasetHash: String
    public let parameterCount: Int
    public let burnInSteps: Int
    public let measureSteps: Int
    /// Why the cell counts as diverged (excluded from fits, never imputed), or nil.
    public let divergence: DivergenceReason?
    public internal(set) var thermometer: ThermometerReport
    public let train: Evaluation
    public let test: Evaluation
    /// Training samples per second over burn-in and window (calibration and evaluation excluded).
    /// This and `wallSeconds` are the only fields that differ between two runs of the same spec.
    public let samplesPerSecond: Double
    public let wallSeconds: Double
    /// The first conv layer's final weights and per-weight temperatures; absent for a model
    /// without conv layers, weights that are not finite, or a result written before it existed.
    public let firstLayerFilters: FirstLayerFilters?
    /// The per-channel mean and standard deviation the inputs were standardised with (the training
    /// set's, rounded to 4 decimals); absent in a result written before it was recorded.
    public let inputStatistics: InputStatistics?

    public init(spec: CellSpec, dataset: String, datasetHash: String, parameterCount: Int, burnInSteps: Int,
                measureSteps: Int, divergence: DivergenceReason?, thermometer: ThermometerReport, train: Evaluation,
                test: Evaluation, samplesPerSecond: Double, wallSeconds: Double,
                firstLayerFilters: FirstLayerFilters? = nil, inputStatistics: InputStatistics? = nil) {
        self.spec = spec
        self.dataset = dataset
        self.datasetHash = datasetHash
        self.parameterCount = parameterCount
        self.burnInSteps = burnInSteps
        self.measureSteps = measureSteps
        self.divergence = divergence
        self.thermometer = thermometer
        self.train = train
        self.test = test
        self.samplesPerSecond = samplesPerSecond
        self.wallSeconds = wallSeconds
        self.firstLayerFilters = firstLayerFilters
        self.inputStatistics = inputStatistics
    }

    public var diverged: Bool { divergence != nil }
}
