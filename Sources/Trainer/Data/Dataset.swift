/// Fashion-MNIST's pixel statistics after scaling to [0, 1] (docs/METHOD.md).
public enum Normalization {
    public static let mean: Float = 0.2860
    public static let std: Float = 0.3530

    /// The network input for each pixel byte p: (p / 255 − mean) / std, written as that exact
    /// expression (two IEEE divisions) so every loader and machine gets bit-identical floats.
    public static let pixelValues: [Float] = (0..<256).map { (Float($0) / 255 - mean) / std }
}

/// An image classification data set held in memory, already normalised.
public struct Dataset: Sendable {
    /// `fashion-mnist/train`, `synthetic/seed=7`, ...
    public let name: String
    public let count: Int
    public let rows: Int
    public let columns: Int
    public let classes: Int
    /// `count × rows × columns` raw pixel bytes; the network sees `Normalization.pixelValues[p]`.
    /// Kept as bytes so that a worker holding Fashion-MNIST stays small (55 MB, not 220 MB).
    public let pixels: [UInt8]
    /// `count` labels in `0..<classes`.
    public let labels: [Int32]
    /// A hash of the raw bytes the set was built from; workers compare it before training.
    public let contentHash: String

    public init(name: String, count: Int, rows: Int, columns: Int, classes: Int,
                pixels: [UInt8], labels: [Int32], contentHash: String) {
        precondition(pixels.count == count * rows * columns && labels.count == count,
                     "dataset \(name): \(pixels.count) pixels and \(labels.count) labels for \(count) images")
        // Checked here, once: the release kernels index the logits by label without bounds checks.
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            preconditionFailure("dataset \(name): label \(labels[bad]) of image \(bad) is not in 0..<\(classes)")
        }
        self.name = name
        self.count = count
        self.rows = rows
        self.columns = columns
        self.classes = classes
        self.pixels = pixels
        self.labels = labels
        self.contentHash = contentHash
    }

    /// Pixels per image.
    public var imageSize: Int { rows * columns }

    /// Image `i` as the network sees it (normalised floats); for inspection and tests.
    public func image(_ i: Int) -> [Float] {
        precondition(i >= 0 && i < count, "image \(i) out of 0..<\(count) in \(name)")
        return pixels[i * imageSize..<(i + 1) * imageSize].map { Normalization.pixelValues[Int($0)] }
    }
}
