import Cell

/// Fashion-MNIST's pixel statistics after scaling to [0, 1] (docs/METHOD.md): what its training
/// set's own statistics round to (`InputStatistics`), kept for reference and tests.
public enum Normalization {
    public static let mean: Float = 0.2860
    public static let std: Float = 0.3530

    /// Fashion-MNIST's network input for each pixel byte p: (p / 255 − mean) / std, the expression
    /// `Dataset.pixelLookup` uses.
    public static let pixelValues: [Float] = (0..<256).map { (Float($0) / 255 - mean) / std }
}

/// An image classification data set held in memory as bytes, with the lookup table that
/// standardises them.
public struct Dataset: Sendable {
    /// `fashion-mnist/train`, `synthetic/seed=7`, ...
    public let name: String
    public let count: Int
    /// Colour channels per image: 1 for grey images, 3 for RGB.
    public let channels: Int
    public let rows: Int
    public let columns: Int
    public let classes: Int
    /// `count × channels × rows × columns` raw pixel bytes, each image channel-major (C×H×W); the
    /// network sees channel c's byte p as `pixelLookup[c * 256 + p]`. Kept as bytes so that a
    /// worker holding Fashion-MNIST stays small (55 MB, not 220 MB), CIFAR-10 184 MB.
    public let pixels: [UInt8]
    /// `count` labels in `0..<classes`.
    public let labels: [Int32]
    /// A hash of the raw bytes the set was built from; workers compare it before training.
    public let contentHash: String
    /// The per-channel mean and standard deviation the pixels are standardised with: the
    /// training set's own (a test set or subset carries its training set's).
    public let statistics: InputStatistics
    /// `256 × channels` network inputs: entry `c * 256 + p` is `(Float(p) / 255 − mean_c) / std_c`,
    /// written as that exact expression (two IEEE divisions) so every loader and machine gets
    /// bit-identical floats.
    public let pixelLookup: [Float]

    /// A data set of `pixels` (C×H×W per image) standardised with `statistics`, or, when nil, with
    /// its own (`InputStatistics.of`): pass a training set's statistics to its test set.
    public init(name: String, count: Int, channels: Int = 1, rows: Int, columns: Int, classes: Int,
                pixels: [UInt8], labels: [Int32], contentHash: String, statistics: InputStatistics? = nil) {
        precondition(channels >= 1 && rows >= 1 && columns >= 1,
                     "dataset \(name): \(channels) channels of \(rows)×\(columns) pixels")
        precondition(pixels.count == count * channels * rows * columns && labels.count == count,
                     "dataset \(name): \(pixels.count) pixels and \(labels.count) labels for \(count) images "
                     + "of \(channels)×\(rows)×\(columns)")
        // Checked here, once: the release kernels index the logits by label without bounds checks.
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            preconditionFailure("dataset \(name): label \(labels[bad]) of image \(bad) is not in 0..<\(classes)")
        }
        let statistics = statistics ?? InputStatistics.of(pixels: pixels, channels: channels, plane: rows * columns)
        precondition(statistics.channels == channels,
                     "dataset \(name): statistics of \(statistics.channels) channels for \(channels)")
        (self.name, self.count, self.channels, self.rows, self.columns,
         self.classes, self.pixels, self.labels, self.contentHash, self.statistics)
            = (name, count, channels, rows, columns,
               classes, pixels, labels, contentHash, statistics)
        var lookup = [Float](repeating: 0, count: 256 * channels)
        for c in 0..<channels {
            let mean = statistics.floatMean(c), std = statistics.floatStd(c)
            for p in 0..<256 { lookup[c * 256 + p] = (Float(p) / 255 - mean) / std }
        }
        self.pixelLookup = lookup
    }

    /// Bytes per image: `channels × rows × columns`.
    public var imageSize: Int { channels * rows * columns }

    /// Image `i` as the network sees it (normalised floats, C×H×W); for inspection and tests.
    public func image(_ i: Int) -> [Float] {
        precondition(i >= 0 && i < count, "image \(i) out of 0..<\(count) in \(name)")
        let plane = rows * columns
        return (0..<imageSize).map { k in pixelLookup[(k / plane) * 256 + Int(pixels[i * imageSize + k])] }
    }
}

extension InputStatistics {
    /// The per-channel statistics of `pixels` (images of `channels` planes of `plane` bytes,
    /// C×H×W each) scaled to [0, 1], rounded to 4 decimals. Counted as a histogram of bytes per
    /// channel, so the sums are exact integers and do not depend on the order of the images.
    public static func of(pixels: [UInt8], channels: Int, plane: Int) -> InputStatistics {
        precondition(channels >= 1 && plane >= 1 && pixels.count % (channels * plane) == 0,
                     "\(pixels.count) pixel bytes are not whole images of \(channels) × \(plane)")
        var histogram = [Int](repeating: 0, count: 256 * channels)
        pixels.withUnsafeBufferPointer { bytes in
            histogram.withUnsafeMutableBufferPointer { counts in
                var i = 0
                while i < bytes.count {
                    for c in 0..<channels {
                        let base = c * 256
                        for k in i..<i + plane { counts[base + Int(bytes[k])] += 1 }
                        i += plane
                    }
                }
            }
        }
        return InputStatistics(histogram: histogram, channels: channels)
    }

    /// From 256 counts per channel (`histogram[c * 256 + p]`).
    public init(histogram: [Int], channels: Int) {
        precondition(histogram.count == 256 * channels)
        var means: [Double] = [], stds: [Double] = []
        for c in 0..<channels {
            var n = 0, sum = 0, sumSquares = 0
            for p in 0..<256 {
                let k = histogram[c * 256 + p]
                n += k
                sum += k * p
                sumSquares += k * p * p
            }
            guard n > 0 else { means.append(0); stds.append(1); continue }
            let mean = Double(sum) / Double(n)
            let variance = max(0, Double(sumSquares) / Double(n) - mean * mean)
            means.append(mean / 255)
            stds.append(variance.squareRoot() / 255)
        }
        self.init(exactMean: means, exactStd: stds)
    }
}
