import Cell
import ArgumentParser
import Trainer

/// Where training data comes from: a folder of data files (IDX, CIFAR-10 binary, NumPy), or the
/// seeded synthetic set.
struct DataOptions: ParsableArguments {
    @Option(help: "Folder with the data set: IDX files like Fashion-MNIST's (.gz or plain), CIFAR-10 binary batches, or NumPy train_x.npy, train_y.npy, test_x.npy, test_y.npy.")
    var data: String = "/usr/share/datasets/fashion-mnist"

    @Option(help: "Format of the files in --data: \(DataFormat.names) (default: recognised by their names).")
    var dataFormat: String?

    @Flag(help: "Use the seeded synthetic data set instead (no files needed).")
    var synthetic = false

    @Option(help: "Training images in the synthetic set.")
    var syntheticCount = 12_000

    @Option(help: "Seed of the synthetic set.")
    var syntheticSeed: UInt64 = 1

    /// The format asked for with --data-format, if any.
    var format: DataFormat? { dataFormat.flatMap(DataFormat.init(rawValue:)) }

    func validate() throws {
        if let dataFormat, DataFormat(rawValue: dataFormat) == nil {
            throw ValidationError("--data-format '\(dataFormat)' is not a format: give one of \(DataFormat.names).")
        }
        if dataFormat != nil && synthetic {
            throw ValidationError("--data-format applies to --data files, not to --synthetic: give one of the two.")
        }
        guard syntheticCount >= 100 && syntheticCount <= 1_000_000 else {
            throw ValidationError("--synthetic-count \(syntheticCount) is out of range: give 100 to 1000000 images.")
        }
    }

    /// Loads (train, test) and, when `model` is given, refuses a layer list that does not fit their
    /// images (naming the layer and the shapes) with a usage error; other errors name the file and
    /// what to do.
    func load(for model: ModelKind?) throws -> (train: Dataset, test: Dataset) {
        let sets: (train: Dataset, test: Dataset)
        if synthetic {
            sets = SyntheticDataset.makeSplit(seed: syntheticSeed, trainCount: syntheticCount,
                                              testCount: max(100, syntheticCount / 6))
        } else {
            sets = try DataDirectory.load(directory: data, format: format)
        }
        // Other IDX files load too; refuse a shape the network cannot read here, not in the trainer.
        if let model {
            for set in [sets.train, sets.test] {
                do throws(ModelError) {
                    try model.validate(channels: set.channels, height: set.rows, width: set.columns,
                                       classes: sets.train.classes)
                } catch {
                    throw ValidationError("\(error) (data set \(set.name): \(set.channels)×\(set.rows)×\(set.columns) "
                                          + "images of \(set.classes) classes)")
                }
            }
        }
        return sets
    }
}
