// How a cell is measured, as flags: one option group, so that `train` (one cell) and `sweep` (every
// cell of the grid) take the same settings under the same names.
import ArgumentParser
import Cell

/// The measurement protocol of a cell (docs/METHOD.md, 3): everything of a `CellSpec` but
/// the model, η, |B| and the seed.
struct CellProtocolOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "SGD momentum (0: plain SGD, which the theory assumes).")
    var momentum: Double = CellSettings().momentum

    @Flag(help: "Shuffle once per epoch instead of drawing batches i.i.d. with replacement.")
    var shuffle = false

    @Option(parsing: .unconditional, help: "Burn-in steps per cell (default: max(⌈10/η⌉, 500)).")
    var burnInSteps: Int?

    @Option(parsing: .unconditional, help: "Measurement window per cell in steps (default: max(⌈10/η⌉, 500)).")
    var measureSteps: Int?

    @Option(parsing: .unconditional, help: "Warm-start length in epochs (0: start from the initial weights).")
    var warmEpochs: Double = WarmStartSpec().epochs

    @Option(parsing: .unconditional, help: "Warm-start learning rate.")
    var warmLr: Double = WarmStartSpec().learningRate

    @Option(parsing: .unconditional, help: "Warm-start batch size.")
    var warmBatch: Int = WarmStartSpec().batchSize

    @Option(parsing: .unconditional, help: "Probe batches per calibration point (0: no noise calibration).")
    var calibrationProbes: Int = CellSettings().calibrationProbes

    @Option(parsing: .unconditional, help: "Batch size of the calibration probes.")
    var probeBatch: Int = CellSettings().probeBatchSize

    var warmStart: WarmStartSpec { WarmStartSpec(learningRate: warmLr, batchSize: warmBatch, epochs: warmEpochs) }

    var cell: CellSettings {
        CellSettings(momentum: momentum, batchMode: shuffle ? .shuffle : .iid, burnInSteps: burnInSteps,
                     measureSteps: measureSteps, calibrationProbes: calibrationProbes, probeBatchSize: probeBatch)
    }

    /// The option that sets `field`, for the settings of this group and the two axes.
    static func option(_ field: CellField) -> String {
        switch field {
        case .learningRate: return "--lr"
        case .batchSize: return "--batch"
        case .momentum: return "--momentum"
        case .burnInSteps: return "--burn-in-steps"
        case .measureSteps: return "--measure-steps"
        case .warmStartLearningRate: return "--warm-lr"
        case .warmStartBatchSize: return "--warm-batch"
        case .warmStartEpochs: return "--warm-epochs"
        case .calibrationProbes: return "--calibration-probes"
        case .probeBatchSize: return "--probe-batch"
        }
    }
}

extension CellSpecError {
    /// The message naming the command-line option of the setting.
    var usageError: ValidationError { ValidationError(message(naming: CellProtocolOptions.option(field))) }
}
