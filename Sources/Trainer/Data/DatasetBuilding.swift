import Cell
extension Dataset {
    /// A data set from an images IDX array `(count, rows, columns)` and a labels IDX array
    /// `(count)`, checking that the counts agree and every label is below `classes`; standardised
    /// with `statistics` (a training set's, for its test set) or, when nil, its own.
    init(name: String, images: IDXArray, labels: IDXArray, classes: Int, contentHash: String,
         statistics: InputStatistics? = nil) throws(DataError) {
        precondition(images.dimensions.count == 3 && labels.dimensions.count == 1)
        let count = images.dimensions[0]
        if labels.dimensions[0] != count {
            throw .countMismatch(imagesPath: images.path, images: count, labelsPath: labels.path,
                                 labels: labels.dimensions[0])
        }
        if let bad = labels.payload.firstIndex(where: { Int($0) >= classes }) {
            throw .labelOutOfRange(path: labels.path, index: bad, value: Int(labels.payload[bad]), classes: classes)
        }
        self.init(name: name, count: count, rows: images.dimensions[1], columns: images.dimensions[2],
                  classes: classes, pixels: images.payload,
                  labels: labels.payload.map { Int32($0) }, contentHash: contentHash, statistics: statistics)
    }

    /// The images `range` of this set, in order; its hash also covers the range, so a subset
    /// never passes for the whole set. It keeps this set's statistics.
    public func subset(_ range: Range<Int>) -> Dataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count,
                     "subset \(range) of dataset \(name) with \(count) images")
        var hasher = FNV1a()
        hasher.combine(Array(contentHash.utf8))
        hasher.combine(Array("[\(range.lowerBound)..<\(range.upperBound)]".utf8))
        return Dataset(name: "\(name)[\(range.lowerBound)..<\(range.upperBound)]", count: range.count,
                       channels: channels, rows: rows, columns: columns, classes: classes,
                       pixels: Array(pixels[range.lowerBound * imageSize..<range.upperBound * imageSize]),
                       labels: Array(labels[range]), contentHash: hasher.hex, statistics: statistics)
    }
}
