/// Byte pixels to Float through a 256-entry table: data sets stay bytes in memory (a quarter of
/// the size of Floats; Fashion-MNIST is 55 MB instead of 220 MB) and are converted per batch.

/// dst[offset + k × rowLength + j] = lookup[pixels[rows[k] × rowLength + j]]: gathers the images
/// of a batch into one buffer.
/// pixels (count, rowLength) bytes, lookup (256), dst (rows.count, rowLength)
public func gatherPixelRows(_ pixels: [UInt8], lookup: [Float], rowLength: Int, rows: [Int], into dst: Buffer,
                            offset: Int = 0) {
    convertPixelRows(pixels, lookup: lookup, rowLength: rowLength, rows: rows, into: dst, offset: offset)
}

/// The same for the contiguous rows `range`.
public func copyPixelRows(_ pixels: [UInt8], lookup: [Float], rowLength: Int, range: Range<Int>, into dst: Buffer,
                          offset: Int = 0) {
    convertPixelRows(pixels, lookup: lookup, rowLength: rowLength, rows: range, into: dst, offset: offset)
}

/// The plain reference of the two above: one image at a time through `Array` indexing.
public func referenceGatherPixelRows(_ pixels: [UInt8], lookup: [Float], rowLength: Int, rows: [Int]) -> [Float] {
    rows.flatMap { r in pixels[(r * rowLength)..<((r + 1) * rowLength)].map { lookup[Int($0)] } }
}

@inline(__always)
private func convertPixelRows<Rows: Collection<Int>>(_ pixels: [UInt8], lookup: [Float], rowLength: Int,
                                                     rows: Rows, into dst: Buffer, offset: Int) {
    precondition(lookup.count == 256, "pixel rows need a 256-entry lookup table, got \(lookup.count)")
    precondition(offset >= 0 && offset + rows.count * rowLength <= dst.count,
                 "\(rows.count) pixel rows of \(rowLength) at \(offset) do not fit a buffer of \(dst.count)")
    pixels.withUnsafeBufferPointer { src in
        lookup.withUnsafeBufferPointer { table in
            guard let s = src.baseAddress, let t = table.baseAddress else { return }
            var out = dst.base + offset
            for r in rows {
                precondition(r >= 0 && (r + 1) * rowLength <= src.count,
                             "pixel row \(r) out of range for \(src.count / max(rowLength, 1)) rows")
                let row = s + r * rowLength
                for j in 0..<rowLength { out[j] = t[Int(row[j])] }
                out += rowLength
            }
        }
    }
}
