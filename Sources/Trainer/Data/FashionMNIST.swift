#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Fashion-MNIST data set (Zalando, 70 000 grey 28×28 images of clothing in 10 classes),
/// read from its four IDX files.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classes = 10
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// The four files in hashing order, without the optional `.gz` suffix.
    public static let fileNames = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    /// The content hash (`IDX.contentHash`) of the published files: IDX files with this hash are
    /// named `fashion-mnist` in results wherever they lie.
    public static let contentHash = "d2b704f434014dc0"

    /// Loads the 60 000 training and 10 000 test images from `directory`, where each file may be
    /// gzip-compressed (`name.gz`) or plain (`name`); pixels are scaled to [0, 1] and standardised
    /// with the training set's statistics (0.2860 and 0.3530, `Normalization`), and both sets carry
    /// the hash of all four files' decompressed bytes.
    ///
    /// Throws `DataError` when files are missing or damaged; the message says what to do.
    public static func load(directory: String = defaultDirectory) throws(DataError) -> (train: Dataset, test: Dataset) {
        try loadIDX(directory: directory, name: "fashion-mnist")
    }

    /// Loads any MNIST-like set of the four IDX files in `directory` (MNIST, KMNIST, ...), named
    /// `name/train` and `name/test` (when nil: `fashion-mnist` for Fashion-MNIST's own files,
    /// else the directory's name), with labels in 0..<10; the test set is standardised with the
    /// training set's statistics.
    static func loadIDX(directory: String, name: String?) throws(DataError) -> (train: Dataset, test: Dataset) {
        let paths = try locate(directory: directory)
        let trainImages = try IDX.read(path: paths[0], rank: 3)
        let trainLabels = try IDX.read(path: paths[1], rank: 1)
        let testImages = try IDX.read(path: paths[2], rank: 3)
        let testLabels = try IDX.read(path: paths[3], rank: 1)
        if trainImages.dimensions.dropFirst() != testImages.dimensions.dropFirst() {
            throw .shapeMismatch(trainPath: paths[0], trainShape: Array(trainImages.dimensions.dropFirst()),
                                 testPath: paths[2], testShape: Array(testImages.dimensions.dropFirst()))
        }
        let hash = IDX.contentHash([trainImages, trainLabels, testImages, testLabels].map {
            (dimensions: $0.dimensions, payload: $0.payload)
        })
        let name = name ?? (hash == contentHash ? "fashion-mnist" : DataDirectory.name(of: directory))
        let train = try Dataset(name: name + "/train", images: trainImages, labels: trainLabels,
                                classes: classes, contentHash: hash)
        let test = try Dataset(name: name + "/test", images: testImages, labels: testLabels,
                               classes: classes, contentHash: hash, statistics: train.statistics)
        return (train, test)
    }

    /// The path of each of the four files, preferring `name.gz` over `name`.
    static func locate(directory: String) throws(DataError) -> [String] {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        var paths: [String] = []
        var missing: [String] = []
        for name in fileNames {
            let candidates: [String] = [base + name + ".gz", base + name]
            if let path = candidates.first(where: { (candidate: String) in access(candidate, F_OK) == 0 }) {
                paths.append(path)
            } else {
                missing.append(name)
            }
        }
        if !missing.isEmpty { throw .dataSetMissing(directory: directory, missing: missing) }
        return paths
    }
}
