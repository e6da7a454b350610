/// Fashion-MNIST's pixel statistics after scaling to [0, 1] (PHYSICS.md).
public enum Normalization {
    public static let mean: Float = 0.2860
    public static let std: Float = 0.3530
}

/// An image classification data set held in memory, already normalised.
public struct Dataset: Sendable {
    /// `fashion-mnist/train`, `synthetic/seed=7`, ...
    public let name: String
    public let count: Int
    public let rows: Int
    public let columns: Int
    public let classes: Int
    /// `count × rows × columns` pixels, scaled to [0, 1] then standardised.
    public let images: [Float]
    /// `count` labels in `0..<classes`.
    public let labels: [Int32]
    /// A hash of the raw bytes the set was built from; workers compare it before training.
    public let contentHash: String

    public init(name: String, count: Int, rows: Int, columns: Int, classes: Int,
                images: [Float], labels: [Int32], contentHash: String) {
        precondition(images.count == count * rows * columns && labels.count == count,
                     "dataset \(name): \(images.count) pixels and \(labels.count) labels for \(count) images")
        self.name = name
        self.count = count
        self.rows = rows
        self.columns = columns
        self.classes = classes
        self.images = images
        self.labels = labels
        self.contentHash = contentHash
    }

    /// Pixels per image.
    public var imageSize: Int { rows * columns }
}
