/// Unaligned SIMD loads and stores on `Float` pointers, shared by the non-GEMM kernels.
///
/// Rows of activations start at arbitrary offsets (24-wide image rows, 8-wide pooled rows), so
/// every access is unaligned; on AVX-512 and AVX2 unaligned loads cost the same as aligned ones.
@usableFromInline
enum VectorAccess {
    @inline(__always) @usableFromInline
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    }

    /// d[0..<count] = s[0..<count] (no overlap).
    @inline(__always) @usableFromInline
    static func copy(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 16 <= count { store(load16(s + i), d + i); i += 16 }
        if i + 8 <= count { store(load8(s + i), d + i); i += 8 }
        if i + 4 <= count { store(load4(s + i), d + i); i += 4 }
        while i < count { d[i] = s[i]; i += 1 }
    }

    /// d[0..<count] = a[0..<count] + b[0..<count] (d overlaps neither).
    @inline(__always) @usableFromInline
    static func sum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>,
                    _ count: Int) {
        var i = 0
        while i + 16 <= count { store(load16(a + i) + load16(b + i), d + i); i += 16 }
        if i + 8 <= count { store(load8(a + i) + load8(b + i), d + i); i += 8 }
        if i + 4 <= count { store(load4(a + i) + load4(b + i), d + i); i += 4 }
        while i < count { d[i] = a[i] + b[i]; i += 1 }
    }

    /// d[0..<count] += s[0..<count] (no overlap).
    @inline(__always) @usableFromInline
    static func add(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 16 <= count { store(load16(d + i) + load16(s + i), d + i); i += 16 }
        if i + 8 <= count { store(load8(d + i) + load8(s + i), d + i); i += 8 }
        if i + 4 <= count { store(load4(d + i) + load4(s + i), d + i); i += 4 }
        while i < count { d[i] += s[i]; i += 1 }
    }
}
