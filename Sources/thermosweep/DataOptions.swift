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

    /// Loads (train, test); errors name the file and what to do.
    func load() throws -> (train: Dataset, test: Dataset) {
        if synthetic {
            return SyntheticDataset.makeSplit(seed: syntheticSeed, trainCount: syntheticCount,
                                              testCount: max(100, syntheticCount / 6))
        }
        return try FashionMNIST.load(directory: data)
    }
}
