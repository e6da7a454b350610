/// A fixed-size, zero-initialised, 64-byte-aligned array of `Float`, owned by Kernels.
///
/// Layers keep their activations, parameters and gradients in `Buffer`s and hand them to the
/// kernels by value (`Matrix`, `Span`); no raw pointer leaves this module.
public final class Buffer: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    @usableFromInline let base: UnsafeMutablePointer<Float>

    /// A zeroed buffer of `count` elements.
    public init(count: Int) {
        precondition(count >= 0, "Buffer count must be >= 0, got \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.update(from: s, count: values.count) }
        }
    }

    deinit { base.deallocate() }

    @inlinable public subscript(index: Int) -> Float {
        get {
            assert(index >= 0 && index < count, "Buffer index \(index) out of 0..<\(count)")
            return base[index]
        }
        set {
            assert(index >= 0 && index < count, "Buffer index \(index) out of 0..<\(count)")
            base[index] = newValue
        }
    }

    /// A copy of the elements as an array.
    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// A copy of `range` as an array.
    public func slice(_ range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count,
                     "slice \(range) out of 0..<\(count)")
        return Array(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { base.update(repeating: value, count: count) }

    /// Copies `values` into the buffer starting at `offset`.
    public func copy(from values: [Float], at offset: Int = 0) {
        precondition(offset >= 0 && offset + values.count <= count,
                     "copy of \(values.count) values at \(offset) overflows buffer of \(count)")
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { (base + offset).update(from: s, count: values.count) }
        }
    }

    /// Copies `length` elements from `source[sourceOffset...]` to `self[offset...]`.
    public func copy(from source: Buffer, sourceOffset: Int = 0, to offset: Int = 0, count length: Int) {
        precondition(sourceOffset >= 0 && sourceOffset + length <= source.count
                     && offset >= 0 && offset + length <= count, "copy out of bounds")
        (base + offset).update(from: source.base + sourceOffset, count: length)
    }
}

/// A row-major matrix view into a `Buffer`: element (i, j) is at `offset + i * stride + j`.
public struct Matrix: @unchecked Sendable {
    public let buffer: Buffer
    public let offset: Int
    public let rows: Int
    public let columns: Int
    /// Distance in elements between the starts of consecutive rows (≥ columns).
    public let stride: Int

    public init(_ buffer: Buffer, offset: Int = 0, rows: Int, columns: Int, stride: Int? = nil) {
        let ld = stride ?? columns
        precondition(rows >= 0 && columns >= 0 && ld >= columns && offset >= 0,
                     "bad matrix view: rows \(rows), columns \(columns), stride \(ld), offset \(offset)")
        precondition(rows == 0 || columns == 0 || offset + (rows - 1) * ld + columns <= buffer.count,
                     "matrix \(rows)x\(columns) (stride \(ld)) at \(offset) overflows buffer of \(buffer.count)")
        (self.buffer, self.offset, self.rows, self.columns, self.stride) = (buffer, offset, rows, columns, ld)
    }

    @inlinable public subscript(i: Int, j: Int) -> Float {
        get { buffer[offset + i * stride + j] }
        nonmutating set { buffer[offset + i * stride + j] = newValue }
    }
}
