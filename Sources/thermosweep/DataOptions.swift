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

    /// Loads (train, test) for `model`; errors name the file and what to do.
    func load(for model: ModelKind) throws -> (train: Dataset, test: Dataset) {
        if synthetic {
            return SyntheticDataset.makeSplit(seed: syntheticSeed, trainCount: syntheticCount,
                                              testCount: max(100, syntheticCount / 6))
        }
        let sets = try FashionMNIST.load(directory: data)
        // Other IDX files load too; refuse a shape the network cannot read here, not in the trainer.
        let arch = model.architecture
        for set in [sets.train, sets.test]
        where set.rows != arch.inputHeight || set.columns != arch.inputWidth || set.classes > arch.classes {
            throw ValidationError("\(data) holds \(set.rows)×\(set.columns) images of \(set.classes) classes "
                                  + "(\(set.name)); \(model.rawValue) needs \(arch.inputHeight)×\(arch.inputWidth) "
                                  + "images of at most \(arch.classes) classes.")
        }
        return sets
    }
}
