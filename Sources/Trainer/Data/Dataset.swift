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
    /// Channels per image (1 for grey, 3 for RGB).
    public let channels: Int
    public let rows: Int
    public let columns: Int
    public let classes: Int
    /// `count × channels × rows × columns` raw pixel bytes, each image channel-major (C×H×W); the
    /// network sees `pixelLookup[c × 256 + p]` for byte p of channel c.
    /// Kept as bytes so that a worker holding Fashion-MNIST stays small (55 MB, not 220 MB).
    public let pixels: [UInt8]
    /// `count` labels in `0..<classes`.
    public let labels: [Int32]
    /// A hash of the raw bytes the set was built from; workers compare it before training.
    public let contentHash: String

    public init(name: String, count: Int, channels: Int = 1, rows: Int, columns: Int, classes: Int,
                pixels: [UInt8], labels: [Int32], contentHash: String) {
        precondition(channels > 0, "dataset \(name): \(channels) channels")
        precondition(pixels.count == count * channels * rows * columns && labels.count == count,
                     "dataset \(name): \(pixels.count) pixels and \(labels.count) labels for \(count) images")
        // Checked here, once: the release kernels index the logits by label without bounds checks.
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            preconditionFailure("dataset \(name): label \(labels[bad]) of image \(bad) is not in 0..<\(classes)")
        }
        self.name = name
        self.count = count
        self.channels = channels
        self.rows = rows
        self.columns = columns
        self.classes = classes
        self.pixels = pixels
        self.labels = labels
        self.contentHash = contentHash
    }

    /// Bytes per image (channels × rows × columns).
    public var imageSize: Int { channels * rows * columns }

    /// The network input for byte p of channel c is `pixelLookup[c * 256 + p]` (256 × channels entries).
    public var pixelLookup: [Float] {
        channels == 1 ? Normalization.pixelValues
            : Array((0..<channels).map { _ in Normalization.pixelValues }.joined())
    }

    /// Image `i` as the network sees it (normalised floats); for inspection and tests.
    public func image(_ i: Int) -> [Float] {
        precondition(i >= 0 && i < count, "image \(i) out of 0..<\(count) in \(name)")
        let lookup = pixelLookup, plane = rows * columns
        return pixels[i * imageSize..<(i + 1) * imageSize].enumerated().map { k, p in
            lookup[(k / plane) * 256 + Int(p)]
        }
    }
}
