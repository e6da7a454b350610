// How a cell is measured, as flags: one option group, so that `train` (one cell) and `sweep` (every
// cell of the grid) take the same settings under the same names.
import ArgumentParser
import Cell
import Foundation
import SweepProtocol

/// The measurement protocol of a cell (docs/METHOD.md, 3): everything of a `CellSpec` but
/// the model, η, |B| and the seed.
struct CellProtocolOptions: ParsableArguments {
    @Option(parsing: .unconditional,
            help: "SGD momentum (0: plain SGD, which the theory assumes); `sweep` also takes a list 0,0.5,0.9 (an axis of the grid).")
    var momentum = "0"

    @Option(parsing: .unconditional,
            help: "How batches are drawn: iid (uniform with replacement) or shuffle (a new permutation per epoch); `sweep` also takes iid,shuffle (an axis of the grid).")
    var batchMode: String?

    @Flag(help: "Shuffle once per epoch instead of drawing batches i.i.d. with replacement (--batch-mode shuffle).")
    var shuffle = false

    @Option(parsing: .unconditional, help: "Burn-in steps per cell (default: max(⌈10/η⌉, 500)).")
    var burnInSteps: Int?

    @Option(parsing: .unconditional, help: "Measurement window per cell in steps (default: max(⌈10/η⌉, 500)).")
    var measureSteps: Int?

    @Option(parsing: .unconditional,
            help: "Warm-start length in epochs (0: start from the initial weights; default: \(WarmStartSpec().epochs)).")
    var warmEpochs: Double?

    @Option(parsing: .unconditional, help: "Warm-start learning rate (default: \(WarmStartSpec().learningRate)).")
    var warmLr: Double?

    @Option(parsing: .unconditional, help: "Warm-start batch size (default: \(WarmStartSpec().batchSize)).")
    var warmBatch: Int?

    @Option(parsing: .unconditional, help: "Probe batches per calibration point (0: no noise calibration).")
    var calibrationProbes: Int = CellSettings().calibrationProbes

    @Option(parsing: .unconditional, help: "Batch size of the calibration probes.")
    var probeBatch: Int = CellSettings().probeBatchSize

    // The names `train` used before it shared this group with `sweep`: still accepted, hidden from
    // the help, and each use prints one line naming its replacement (`deprecations`).
    @Option(name: .customLong("burn-in"), parsing: .unconditional, help: .hidden)
    var oldBurnIn: Int?

    @Option(name: .customLong("measure"), parsing: .unconditional, help: .hidden)
    var oldMeasure: Int?

    @Option(name: .customLong("warm-start-epochs"), parsing: .unconditional, help: .hidden)
    var oldWarmStartEpochs: Double?

    @Option(name: .customLong("warm-start-lr"), parsing: .unconditional, help: .hidden)
    var oldWarmStartLr: Double?

    @Option(name: .customLong("warm-start-batch"), parsing: .unconditional, help: .hidden)
    var oldWarmStartBatch: Int?

    /// The old names (without dashes) with their current ones, and whether each of the two was given.
    static let renamed: [(old: String, new: String, given: @Sendable (CellProtocolOptions) -> (old: Bool, new: Bool))] = [
        ("burn-in", "burn-in-steps", { ($0.oldBurnIn != nil, $0.burnInSteps != nil) }),
        ("measure", "measure-steps", { ($0.oldMeasure != nil, $0.measureSteps != nil) }),
        ("warm-start-epochs", "warm-epochs", { ($0.oldWarmStartEpochs != nil, $0.warmEpochs != nil) }),
        ("warm-start-lr", "warm-lr", { ($0.oldWarmStartLr != nil, $0.warmLr != nil) }),
        ("warm-start-batch", "warm-batch", { ($0.oldWarmStartBatch != nil, $0.warmBatch != nil) }),
    ]

    /// Each old name given, with the current one: (old, new).
    var deprecatedNamesUsed: [(old: String, new: String)] {
        Self.renamed.filter { $0.given(self).old }.map { ("--" + $0.old, "--" + $0.new) }
    }

    /// The `--momentum` values, in the order given (the axis syntax of `--lr`; each value's range
    /// is the cell contract's, checked with the cell).
    func momenta() throws -> [Double] {
        do throws(GridSpecError) { return try GridAxis.momenta(momentum) } catch {
            throw ValidationError(error.description)
        }
    }

    /// The `--batch-mode` values in the order given (`--shuffle`: shuffle; neither: iid).
    func batchModes() throws -> [BatchMode] {
        guard let batchMode else { return [shuffle ? .shuffle : .iid] }
        if shuffle {
            throw ValidationError("--shuffle is --batch-mode shuffle: give --batch-mode '\(batchMode)' alone.")
        }
        do throws(GridSpecError) { return try GridAxis.batchModes(batchMode) } catch {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        _ = try momenta()
        _ = try batchModes()
        if let twice = Self.renamed.first(where: { $0.given(self).old && $0.given(self).new }) {
            throw ValidationError("--\(twice.old) is the old name of --\(twice.new): give --\(twice.new) once.")
        }
        for (old, new) in deprecatedNamesUsed {
            FileHandle.standardError.write(Data("warning: \(old) is deprecated; use \(new) (same meaning).\n".utf8))
        }
    }

    var warmStart: WarmStartSpec {
        let defaults = WarmStartSpec()
        return WarmStartSpec(learningRate: warmLr ?? oldWarmStartLr ?? defaults.learningRate,
                             batchSize: warmBatch ?? oldWarmStartBatch ?? defaults.batchSize,
                             epochs: warmEpochs ?? oldWarmStartEpochs ?? defaults.epochs)
    }

    /// The settings of one cell: the first `--momentum` and `--batch-mode` values (`sweep` sets
    /// the axes itself).
    var cell: CellSettings {
        CellSettings(momentum: (try? momenta())?.first ?? CellSettings().momentum,
                     batchMode: (try? batchModes())?.first ?? CellSettings().batchMode, burnInSteps: burnInSteps ?? oldBurnIn,
                     measureSteps: measureSteps ?? oldMeasure, calibrationProbes: calibrationProbes,
                     probeBatchSize: probeBatch)
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
