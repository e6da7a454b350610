import Cell
import ArgumentParser
import Trainer

/// Where training data comes from: Fashion-MNIST files, or the seeded synthetic set.
struct DataOptions: ParsableArguments {
    @Option(help: "Folder with the Fashion-MNIST IDX files (.gz or plain).")
    var data: String = "/usr/share/datasets/fashion-mnist"

    @Flag(help: "Use the seeded synthetic data set instead (no files needed).")
    var synthetic = false

    @Option(help: "Training images in the synthetic set.")
    var syntheticCount = 12_000

    @Option(help: "Seed of the synthetic set.")
    var syntheticSeed: UInt64 = 1

    func validate() throws {
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
            sets = try FashionMNIST.load(directory: data)
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
