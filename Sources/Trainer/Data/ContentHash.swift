import Cell

extension IDX {
    /// The content hash of a data set: FNV-1a over unsigned-byte IDX files given as (dimensions,
    /// payload), in order: the header and payload of each, exactly the decompressed bytes of the
    /// files.
    public static func contentHash(_ arrays: [(dimensions: [Int], payload: [UInt8])]) -> String {
        var hasher = FNV1a()
        for array in arrays {
            hasher.combine(header(dimensions: array.dimensions))
            hasher.combine(array.payload)
        }
        return hasher.hex
    }
}
