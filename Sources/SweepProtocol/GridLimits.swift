/// Limits and vocabularies of a grid spec (mirrors Trainer and Thermometer, which this target
/// cannot import).
public enum GridLimits {
    /// Trainer's `ModelKind` raw values.
    public static let knownModels = ["lenet-8-16", "lenet-4-8", "cnn-32-64"]
    /// Trainer's `BatchSampler.Mode` raw values.
    public static let batchModes = ["iid", "shuffle"]
    /// Trainer's `CellSpec.maxBatchSize`: a batch is one GEMM column block.
    public static let maxBatchSize = 4096
    /// Most jobs one grid may have; far above any useful sweep, small enough for one journal.
    public static let maxJobs = 100_000
    /// Most values one axis may have.
    public static let maxAxisValues = 1_000
    /// Largest burn-in or window override.
    public static let maxSteps = 100_000_000
}
