/// Byte pixels to Float through a 256-entry table: data sets stay bytes in memory (a quarter of
/// the size of Floats; Fashion-MNIST is 55 MB instead of 220 MB) and are converted per batch.

/// dst[offset + k × rowLength + j] = lookup[c × 256 + pixels[rows[k] × rowLength + j]], where c is
/// the channel of byte j (rows are `lookup.count / 256` channel planes): gathers the images of a
/// batch into one buffer.
/// pixels (count, rowLength) bytes, lookup (256 × channels), dst (rows.count, rowLength)
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
    let plane = rowLength / (lookup.count / 256)
    return rows.flatMap { r in
        pixels[(r * rowLength)..<((r + 1) * rowLength)].enumerated().map { j, p in lookup[(j / plane) * 256 + Int(p)] }
    }
}

@inline(__always)
private func convertPixelRows<Rows: Collection<Int>>(_ pixels: [UInt8], lookup: [Float], rowLength: Int,
                                                     rows: Rows, into dst: Buffer, offset: Int) {
    // One 256-entry table per channel; each row (image) is `channels` planes of equal length.
    let channels = lookup.count / 256
    precondition(channels > 0 && lookup.count == channels * 256 && rowLength % channels == 0,
                 "pixel rows of \(rowLength) need a lookup table of 256 entries per channel, got \(lookup.count)")
    let plane = rowLength / channels
    precondition(offset >= 0 && offset + rows.count * rowLength <= dst.count,
                 "\(rows.count) pixel rows of \(rowLength) at \(offset) do not fit a buffer of \(dst.count)")
    pixels.withUnsafeBufferPointer { src in
        lookup.withUnsafeBufferPointer { table in
            guard let s = src.baseAddress, let t0 = table.baseAddress else { return }
            var out = dst.base + offset
            for r in rows {
                precondition(r >= 0 && (r + 1) * rowLength <= src.count,
                             "pixel row \(r) out of range for \(src.count / max(rowLength, 1)) rows")
                var row = s + r * rowLength
                var t = t0
                for _ in 0..<channels {
                    for j in 0..<plane { out[j] = t[Int(row[j])] }
                    out += plane
                    row += plane
                    t += 256
                }
            }
        }
    }
}
