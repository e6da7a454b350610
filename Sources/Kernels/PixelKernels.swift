/// Byte pixels to Float through a 256-entry table: data sets stay bytes in memory (a quarter of
/// the size of Floats; Fashion-MNIST is 55 MB instead of 220 MB) and are converted per batch.

/// dst[k × rowLength ..< (k + 1) × rowLength] = lookup[pixels[rows[k] × rowLength + j]]
/// pixels (count, rowLength) bytes, lookup (256), dst (rows.count, rowLength)
public func gatherPixelRows(_ pixels: [UInt8], lookup: [Float], rowLength: Int, rows: [Int], into dst: Buffer,
                            offset: Int = 0) {
    precondition(lookup.count == 256, "gatherPixelRows needs a 256-entry lookup table, got \(lookup.count)")
    precondition(offset >= 0 && offset + rows.count * rowLength <= dst.count,
                 "gatherPixelRows: \(rows.count) rows of \(rowLength) at \(offset) do not fit \(dst.count)")
    pixels.withUnsafeBufferPointer { src in
        lookup.withUnsafeBufferPointer { table in
            guard let s = src.baseAddress, let t = table.baseAddress else { return }
            var out = dst.base + offset
            for r in rows {
                precondition(r >= 0 && (r + 1) * rowLength <= src.count, "gatherPixelRows: row \(r) out of range")
                let row = s + r * rowLength
                for j in 0..<rowLength { out[j] = t[Int(row[j])] }
                out += rowLength
            }
        }
    }
}

/// The same for the contiguous rows `range`.
public func copyPixelRows(_ pixels: [UInt8], lookup: [Float], rowLength: Int, range: Range<Int>, into dst: Buffer) {
    precondition(range.lowerBound >= 0 && range.upperBound * rowLength <= pixels.count,
                 "copyPixelRows: rows \(range) out of range")
    gatherPixelRows(pixels, lookup: lookup, rowLength: rowLength, rows: Array(range), into: dst)
}
