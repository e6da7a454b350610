// Winograd F(2×2, 3×3) for 3×3 convolutions of stride 1 (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016). Each 2×2 block of outputs ("tile") reads a 4×4 block of
// its input d; with the filter g (3×3),
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1],
// which is 16 products per tile and channel pair instead of 36. Over channels the 16 products
// (one per point ξ of the 4×4 transform) are 16 independent GEMMs:
//   forward   M_ξ [OC × T]  = U_ξ [OC × IC] · V_ξ [IC × T]
//   weights   dUᵀ_ξ [IC × OC] = V_ξ · dM_ξᵀ,  dW = Gᵀ dU G
//   input     dV_ξ [IC × T] = U_ξᵀ · dM_ξ,   dInput = Σ over tiles of B dV Bᵀ
// with U = G g Gᵀ, V = Bᵀ d B, dM = A dY Aᵀ. The backward passes are the exact adjoints of the
// forward one, so the gradients are those of what the forward pass computed.
//
// Transformed tensors are 16 planes ξ = 4·i + j, each a row-major [channels × T] matrix with T =
// N · tiles per image, tile t = (sample, tile row, tile column), and 8 floats of slack. The
// transforms run 8 tiles of a tile row at a time (the input's columns 2x and 2x + 1 of 16 split
// into evens and odds) and always read and write all 8: past a short row the extra lanes land on
// tiles written later (the same channel's next tile row or sample, the next channel) or in the
// plane's slack (at most 7 floats past its matrix), and reads of them stay inside the plane. The
// filter transforms run 8 filters at a time.

/// The tiles of a 3×3 valid convolution's output: 2×2 outputs each, ⌈OH/2⌉ × ⌈OW/2⌉ per image
/// (outputs past OH × OW are computed from partly zero-padded input and dropped).
public struct WinogradTiles: Sendable, Equatable {
    public let high: Int
    public let wide: Int

    public init(_ g: ConvGeometry) {
        precondition(g.kernelHeight == 3 && g.kernelWidth == 3,
                     "Winograd F(2×2, 3×3) needs a 3×3 kernel, got \(g.kernelHeight)×\(g.kernelWidth)")
        high = (g.outHeight + 1) / 2
        wide = (g.outWidth + 1) / 2
    }

    public var perImage: Int { high * wide }

    /// Distance between the planes of a transformed tensor of `channels` channels over `batch`
    /// samples: its [channels × batch·perImage] matrix and at least 8 floats of slack, rounded up
    /// to 16 floats so that every plane starts on a cache line.
    public func planeStride(channels: Int, batch: Int) -> Int { (channels * batch * perImage + 8 + 15) / 16 * 16 }

    /// Floats of a transformed tensor: 16 planes.
    public func count(channels: Int, batch: Int) -> Int { 16 * planeStride(channels: channels, batch: batch) }

    /// Groups of 8 tiles per tile row.
    var groups: Int { (wide + 7) / 8 }
}

// MARK: - Filters

/// U_ξ [OC × IC] (plane stride OC·IC) = (G g Gᵀ)_ξ for the weights W [OC][IC][3][3] at `offset`
/// of `weights`.
public func winogradFilters(_ weights: Buffer, offset: Int, outChannels oc: Int, inChannels ic: Int,
                            into u: Buffer) {
    let plane = oc * ic
    precondition(offset >= 0 && weights.count >= offset + plane * 9 && u.count >= 16 * plane,
                 "winogradFilters: buffers too small for \(oc)×\(ic) filters")
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 72 + 128) { scratch in
        let taps = scratch.baseAddress!, out = taps + 72
        var f = 0
        while f < plane {
            let count = min(8, plane - f)
            // 8 filters' 9 taps, turned tap-major: taps[q·8 + k] = tap q of filter f + k
            let g = UnsafePointer(weights.base + offset + 9 * f)
            if count < 8 { taps.update(repeating: 0, count: 72) }
            for k in 0..<count { for q in 0..<9 { taps[q * 8 + k] = g[9 * k + q] } }
            @inline(__always) func tap(_ q: Int) -> SIMD8<Float> { VectorAccess.load8(taps + 8 * q) }
            // G g, column by column (kw), then each of its 4 rows times Gᵀ
            let c0 = expand(tap(0), tap(3), tap(6)), c1 = expand(tap(1), tap(4), tap(7))
            let c2 = expand(tap(2), tap(5), tap(8))
            let rows = (expand(c0.0, c1.0, c2.0), expand(c0.1, c1.1, c2.1), expand(c0.2, c1.2, c2.2),
                        expand(c0.3, c1.3, c2.3))
            storeRow(rows.0, out)
            storeRow(rows.1, out + 32)
            storeRow(rows.2, out + 64)
            storeRow(rows.3, out + 96)
            for xi in 0..<16 { VectorAccess.copy(out + 8 * xi, u.base + xi * plane + f, count) }
            f += 8
        }
    }
}

/// The weight gradient dW = Gᵀ dU G of the filters `winogradFilters` transformed, from dUᵀ_ξ
/// [IC × OC] (plane stride OC·IC: the GEMM that makes it, V_ξ · dM_ξᵀ, ran 16 % faster than
/// dM_ξ · V_ξᵀ for cifar-cnn's 64 × 32); written to (or, with `accumulate`, added to) `gradients`
/// at `offset` as [OC][IC][3][3].
public func winogradFilterGradient(_ du: Buffer, outChannels oc: Int, inChannels ic: Int, into gradients: Buffer,
                                   offset: Int, accumulate: Bool) {
    let plane = oc * ic
    precondition(offset >= 0 && gradients.count >= offset + plane * 9 && du.count >= 16 * plane,
                 "winogradFilterGradient: buffers too small for \(oc)×\(ic) filters")
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 128 + 72) { scratch in
        let inp = scratch.baseAddress!, taps = inp + 128
        var f = 0   // position in a plane: input channel f / OC, output channel f % OC
        while f < plane {
            let count = min(8, plane - f)
            for xi in 0..<16 { VectorAccess.copy(du.base + xi * plane + f, inp + 8 * xi, count) }
            @inline(__always) func at(_ i: Int, _ j: Int) -> SIMD8<Float> { VectorAccess.load8(inp + 8 * (4 * i + j)) }
            // each row of dU folded to 3 columns, then the 4 rows folded to 3
            let r0 = fold(at(0, 0), at(0, 1), at(0, 2), at(0, 3)), r1 = fold(at(1, 0), at(1, 1), at(1, 2), at(1, 3))
            let r2 = fold(at(2, 0), at(2, 1), at(2, 2), at(2, 3)), r3 = fold(at(3, 0), at(3, 1), at(3, 2), at(3, 3))
            let k0 = fold(r0.0, r1.0, r2.0, r3.0), k1 = fold(r0.1, r1.1, r2.1, r3.1), k2 = fold(r0.2, r1.2, r2.2, r3.2)
            // tap (kh, kw) is k_kw.kh
            VectorAccess.store(k0.0, taps)
            VectorAccess.store(k1.0, taps + 8)
            VectorAccess.store(k2.0, taps + 16)
            VectorAccess.store(k0.1, taps + 24)
            VectorAccess.store(k1.1, taps + 32)
            VectorAccess.store(k2.1, taps + 40)
            VectorAccess.store(k0.2, taps + 48)
            VectorAccess.store(k1.2, taps + 56)
            VectorAccess.store(k2.2, taps + 64)
            for k in 0..<count {
                let dst = gradients.base + offset + 9 * ((f + k) % oc * ic + (f + k) / oc)
                for q in 0..<9 { dst[q] = accumulate ? dst[q] + taps[8 * q + k] : taps[8 * q + k] }
            }
            f += 8
        }
    }
}

/// (g0, g1, g2) → (g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2): G times a column of 3.
@inline(__always)
private func expand(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> Row4 {
    (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
}

/// (u0, u1, u2, u3) → (u0 + (u1 + u2)/2, (u1 − u2)/2, (u1 + u2)/2 + u3): Gᵀ times a column of 4.
@inline(__always)
private func fold(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let half = 0.5 * (b + c)
    return (a + half, 0.5 * (b - c), half + d)
}

private typealias Row4 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

@inline(__always)
private func storeRow(_ r: Row4, _ p: UnsafeMutablePointer<Float>) {
    VectorAccess.store(r.0, p)
    VectorAccess.store(r.1, p + 8)
    VectorAccess.store(r.2, p + 16)
    VectorAccess.store(r.3, p + 24)
}

/// Stores the 4 vectors of `r` at `p`, `p + stride`, `p + 2·stride`, `p + 3·stride`.
@inline(__always)
private func storeRow(_ r: Row4, _ p: UnsafeMutablePointer<Float>, stride: Int) {
    VectorAccess.store(r.0, p)
    VectorAccess.store(r.1, p + stride)
    VectorAccess.store(r.2, p + 2 * stride)
    VectorAccess.store(r.3, p + 3 * stride)
}

// MARK: - Input

/// V_ξ [IC × T] = (Bᵀ d B)_ξ for every tile of `input` (IC, N, H, W) starting at `inputOffset`.
public func winogradInput(_ input: Buffer, inputOffset: Int = 0, _ g: ConvGeometry, batch n: Int, into v: Buffer) {
    let tiles = WinogradTiles(g)
    precondition(n > 0 && inputOffset >= 0 && input.count >= inputOffset + g.channels * n * g.inputPixels
                 && v.count >= tiles.count(channels: g.channels, batch: n),
                 "winogradInput: buffers too small for batch \(n) of \(g)")
    let columns = n * tiles.perImage, plane = tiles.planeStride(channels: g.channels, batch: n)
    // One image at a time in a zero-padded copy: 2·high + 2 rows (the last tile row's 4), and room
    // for the 16-wide reads at 16c and 16c + 2 of every group c.
    let padWidth = 16 * tiles.groups + 2, padHeight = 2 * tiles.high + 2
    withUnsafeTemporaryAllocation(of: Float.self, capacity: padWidth * padHeight) { scratch in
        let pad = scratch.baseAddress!
        pad.initialize(repeating: 0, count: padWidth * padHeight)
        let src = UnsafePointer(input.base + inputOffset)
        for ic in 0..<g.channels {
            for s in 0..<n {
                let image = src + (ic * n + s) * g.inputPixels
                for y in 0..<g.height { VectorAccess.copy(image + y * g.width, pad + y * padWidth, g.width) }
                var dst = v.base + ic * columns + s * tiles.perImage
                for ty in 0..<tiles.high {
                    for c in 0..<tiles.groups {
                        let d0 = UnsafePointer(pad + 2 * ty * padWidth + 16 * c)
                        let d1 = d0 + padWidth, d2 = d1 + padWidth, d3 = d2 + padWidth
                        // Bᵀ d: the four rows combined, 16 columns from 16c and from 16c + 2 ...
                        let x0 = VectorAccess.load16(d0), x1 = VectorAccess.load16(d1)
                        let x2 = VectorAccess.load16(d2), x3 = VectorAccess.load16(d3)
                        let z0 = VectorAccess.load16(d0 + 2), z1 = VectorAccess.load16(d1 + 2)
                        let z2 = VectorAccess.load16(d2 + 2), z3 = VectorAccess.load16(d3 + 2)
                        // ... then B on the columns: (c0 − c2, c1 + c2, c2 − c1, c1 − c3)
                        let p = dst + 8 * c
                        storeRow(inputColumns(x0 - x2, z0 - z2), p, stride: plane)
                        storeRow(inputColumns(x1 + x2, z1 + z2), p + 4 * plane, stride: plane)
                        storeRow(inputColumns(x2 - x1, z2 - z1), p + 8 * plane, stride: plane)
                        storeRow(inputColumns(x1 - x3, z1 - z3), p + 12 * plane, stride: plane)
                    }
                    dst += tiles.wide
                }
            }
        }
    }
}

/// One row of Bᵀ d B for 8 tiles, from that row of Bᵀ d read at columns 2x… (`a`) and 2x + 2… (`b`).
@inline(__always)
private func inputColumns(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> Row4 {
    let c0 = evens(a), c1 = odds(a), c2 = evens(b), c3 = odds(b)
    return (c0 - c2, c1 + c2, c2 - c1, c1 - c3)
}

/// dInput (IC, N, H, W), overwritten, = Σ over tiles of B dV_tile Bᵀ: the adjoint of `winogradInput`.
public func winogradInputGradient(_ dv: Buffer, _ g: ConvGeometry, batch n: Int, into dInput: Buffer) {
    let tiles = WinogradTiles(g)
    precondition(n > 0 && dInput.count >= g.channels * n * g.inputPixels
                 && dv.count >= tiles.count(channels: g.channels, batch: n),
                 "winogradInputGradient: buffers too small for batch \(n) of \(g)")
    let columns = n * tiles.perImage, plane = tiles.planeStride(channels: g.channels, batch: n)
    let padWidth = 16 * tiles.groups + 2, padHeight = 2 * tiles.high + 2
    // Lanes past a short row hold other tiles: they are cleared before they add into real columns.
    let lastLanes = tiles.wide - 8 * (tiles.groups - 1)
    let lastMask = SIMD8<UInt32>((0..<8).map { $0 < lastLanes ? UInt32.max : 0 })
    // Per image, two zero-padded sums: `near` takes each tile's columns 2x, 2x + 1 and `far` its
    // columns 2x + 2, 2x + 3 (the next tile's first two). Kept apart, every add in memory lands
    // where an earlier add of the same width did, or on nothing pending: adding both into one
    // image would load 16 floats 2 past a store still in flight, and wait for it.
    let size = padWidth * padHeight
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * size) { scratch in
        let near = scratch.baseAddress!, far = near + size
        for ic in 0..<g.channels {
            for s in 0..<n {
                scratch.baseAddress!.initialize(repeating: 0, count: 2 * size)
                var src = UnsafePointer(dv.base + ic * columns + s * tiles.perImage)
                for ty in 0..<tiles.high {
                    for c in 0..<tiles.groups {
                        let mask = c == tiles.groups - 1 ? lastMask : SIMD8(repeating: UInt32.max)
                        let p = src + 8 * c
                        @inline(__always) func row(_ i: Int) -> Row4 {
                            let q = p + 4 * i * plane
                            return (masked(VectorAccess.load8(q), mask), masked(VectorAccess.load8(q + plane), mask),
                                    masked(VectorAccess.load8(q + 2 * plane), mask),
                                    masked(VectorAccess.load8(q + 3 * plane), mask))
                        }
                        let v0 = row(0), v1 = row(1), v2 = row(2), v3 = row(3)
                        // B dV Bᵀ: rows (v0, v1 − v2 + v3, −v0 + v1 + v2, −v3), then the same on columns
                        let at = 2 * ty * padWidth + 16 * c
                        addInputColumns(v0, near + at, far + at + 2)
                        addInputColumns((v1.0 - v2.0 + v3.0, v1.1 - v2.1 + v3.1, v1.2 - v2.2 + v3.2,
                                         v1.3 - v2.3 + v3.3), near + at + padWidth, far + at + padWidth + 2)
                        addInputColumns((v1.0 + v2.0 - v0.0, v1.1 + v2.1 - v0.1, v1.2 + v2.2 - v0.2,
                                         v1.3 + v2.3 - v0.3), near + at + 2 * padWidth, far + at + 2 * padWidth + 2)
                        addInputColumns((-v3.0, -v3.1, -v3.2, -v3.3), near + at + 3 * padWidth,
                                        far + at + 3 * padWidth + 2)
                    }
                    src += tiles.wide
                }
                let image = dInput.base + (ic * n + s) * g.inputPixels
                for y in 0..<g.height {
                    VectorAccess.sum(near + y * padWidth, far + y * padWidth, image + y * g.width, g.width)
                }
            }
        }
    }
}

/// Adds one row of B dV Bᵀ for 8 tiles, (e0, e1, e2, e3) at columns 2x … 2x + 3: (e0, e1) into
/// `near` from column 2x of the first tile, (e2, e3) into `far` from its column 2x + 2.
@inline(__always)
private func addInputColumns(_ q: Row4, _ near: UnsafeMutablePointer<Float>, _ far: UnsafeMutablePointer<Float>) {
    let e0 = q.0, e1 = q.1 - q.2 + q.3, e2 = q.1 + q.2 - q.0, e3 = -q.3
    VectorAccess.store(VectorAccess.load16(near) + interleave(e0, e1), near)
    VectorAccess.store(VectorAccess.load16(far) + interleave(e2, e3), far)
}

@inline(__always)
private func masked(_ v: SIMD8<Float>, _ mask: SIMD8<UInt32>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & mask, to: SIMD8<Float>.self)
}

// MARK: - Output

/// out (OC, N, OH, OW) = Aᵀ M_tile A for every tile, from M_ξ [OC × T].
public func winogradOutput(_ m: Buffer, channels oc: Int, _ g: ConvGeometry, batch n: Int, into out: Buffer) {
    let tiles = WinogradTiles(g)
    let (oh, ow) = (g.outHeight, g.outWidth)
    precondition(n > 0 && out.count >= oc * n * oh * ow && m.count >= tiles.count(channels: oc, batch: n),
                 "winogradOutput: buffers too small for batch \(n) of \(g)")
    let columns = n * tiles.perImage, plane = tiles.planeStride(channels: oc, batch: n)
    let rowWidth = 16 * tiles.groups
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * rowWidth) { scratch in
        let rows = scratch.baseAddress!
        for o in 0..<oc {
            for s in 0..<n {
                let image = out.base + (o * n + s) * oh * ow
                var src = UnsafePointer(m.base + o * columns + s * tiles.perImage)
                for ty in 0..<tiles.high {
                    for c in 0..<tiles.groups {
                        let p = src + 8 * c
                        @inline(__always) func row(_ i: Int) -> Row4 {
                            let q = p + 4 * i * plane
                            return (VectorAccess.load8(q), VectorAccess.load8(q + plane),
                                    VectorAccess.load8(q + 2 * plane), VectorAccess.load8(q + 3 * plane))
                        }
                        let m0 = row(0), m1 = row(1), m2 = row(2), m3 = row(3)
                        // Aᵀ M: rows (m0 + m1 + m2, m1 − m2 − m3), then the same on columns
                        let top = (m0.0 + m1.0 + m2.0, m0.1 + m1.1 + m2.1, m0.2 + m1.2 + m2.2, m0.3 + m1.3 + m2.3)
                        let bottom = (m1.0 - m2.0 - m3.0, m1.1 - m2.1 - m3.1, m1.2 - m2.2 - m3.2, m1.3 - m2.3 - m3.3)
                        VectorAccess.store(outputColumns(top), rows + 16 * c)
                        VectorAccess.store(outputColumns(bottom), rows + rowWidth + 16 * c)
                    }
                    VectorAccess.copy(rows, image + 2 * ty * ow, ow)
                    if 2 * ty + 1 < oh { VectorAccess.copy(rows + rowWidth, image + (2 * ty + 1) * ow, ow) }
                    src += tiles.wide
                }
            }
        }
    }
}

/// One output row of 8 tiles (16 columns) from that row of Aᵀ M.
@inline(__always)
private func outputColumns(_ r: Row4) -> SIMD16<Float> {
    interleave(r.0 + r.1 + r.2, r.1 - r.2 - r.3)
}

/// dM_ξ [OC × T] = (A dY_tile Aᵀ)_ξ from dOut (OC, N, OH, OW), zero past OH × OW: the adjoint of
/// `winogradOutput`.
public func winogradOutputGradient(_ dOut: Buffer, channels oc: Int, _ g: ConvGeometry, batch n: Int,
                                   into dm: Buffer) {
    let tiles = WinogradTiles(g)
    let (oh, ow) = (g.outHeight, g.outWidth)
    precondition(n > 0 && dOut.count >= oc * n * oh * ow && dm.count >= tiles.count(channels: oc, batch: n),
                 "winogradOutputGradient: buffers too small for batch \(n) of \(g)")
    let columns = n * tiles.perImage, plane = tiles.planeStride(channels: oc, batch: n)
    let padWidth = 16 * tiles.groups, padHeight = 2 * tiles.high
    withUnsafeTemporaryAllocation(of: Float.self, capacity: padWidth * padHeight) { scratch in
        let pad = scratch.baseAddress!
        pad.initialize(repeating: 0, count: padWidth * padHeight)
        let src = UnsafePointer(dOut.base)
        for o in 0..<oc {
            for s in 0..<n {
                let image = src + (o * n + s) * oh * ow
                for y in 0..<oh { VectorAccess.copy(image + y * ow, pad + y * padWidth, ow) }
                var dst = dm.base + o * columns + s * tiles.perImage
                for ty in 0..<tiles.high {
                    for c in 0..<tiles.groups {
                        let r0 = VectorAccess.load16(pad + 2 * ty * padWidth + 16 * c)
                        let r1 = VectorAccess.load16(pad + (2 * ty + 1) * padWidth + 16 * c)
                        // A dY Aᵀ: rows (y0, y0 + y1, y0 − y1, −y1), then the same on columns
                        let y00 = evens(r0), y01 = odds(r0), y10 = evens(r1), y11 = odds(r1)
                        let p = dst + 8 * c
                        storeRow(outputGradientColumns(y00, y01), p, stride: plane)
                        storeRow(outputGradientColumns(y00 + y10, y01 + y11), p + 4 * plane, stride: plane)
                        storeRow(outputGradientColumns(y00 - y10, y01 - y11), p + 8 * plane, stride: plane)
                        storeRow(outputGradientColumns(-y10, -y11), p + 12 * plane, stride: plane)
                    }
                    dst += tiles.wide
                }
            }
        }
    }
}

/// One row of A dY Aᵀ for 8 tiles from that row of A dY, (a, b) at columns 2x, 2x + 1.
@inline(__always)
private func outputGradientColumns(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> Row4 {
    (a, a + b, a - b, -b)
}

// MARK: - Helpers

/// (a0, b0, a1, b1, …, a7, b7).
@inline(__always)
func interleave(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD16<Float> {
    SIMD16(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
}
