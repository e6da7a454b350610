// The blocked GEMM driver (BLIS loop order): for each NC-wide column block of C and each KC-deep
// slice of k, B is packed into NR-wide strips, then for each MC-tall row block A is packed into
// MR-tall strips and the micro-kernel sweeps the tiles. All raw-pointer work of GEMM lives in the
// GEMM*.swift files; the public entry point is `gemm` in GEMM.swift.

/// Depth of one k slice: each B strip (KC×NR, 48 KiB at 256×48) serves every row tile of a block
/// from L1/L2 while the A strips (MR×KC, 8 KiB) stream from L2.
let gemmKC = 256
/// Rows of C per block: the packed A block (MC×KC, 144 KiB at 144×256) sits in L2.
let gemmMC = 144
/// Columns of C per block: the packed B block (KC×NC, 576 KiB at 256×576) sits in L2.
let gemmNC = 576

/// A GEMM operand as a raw view: element op(X)[r, c] of the logical (untransposed-op) matrix.
struct GEMMOperand {
    let base: UnsafeMutablePointer<Float>
    let ld: Int
    let transposed: Bool

    /// Element (r, c) of op(X).
    @inline(__always) subscript(r: Int, c: Int) -> Float {
        transposed ? base[c * ld + r] : base[r * ld + c]
    }

    /// op(X)ᵀ: the same memory read the other way.
    var transpose: GEMMOperand { GEMMOperand(base: base, ld: ld, transposed: !transposed) }
}

extension GEMMOperand {
    init(_ x: Matrix, _ trans: Transpose) {
        self.init(base: x.buffer.base + x.offset, ld: x.stride, transposed: trans == .transposed)
    }
}

/// Round `x` up to a multiple of `step`.
@inline(__always) func roundUp(_ x: Int, _ step: Int) -> Int { (x + step - 1) / step * step }

/// C ← β·C for an m×n block (β = 0 writes zeros without reading C).
func gemmScale(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, m: Int, n: Int, beta: Float) {
    for i in 0..<m {
        let row = c + i * ldc
        if beta == 0 {
            row.update(repeating: 0, count: n)
        } else if beta != 1 {
            for j in 0..<n { row[j] *= beta }
        }
    }
}

/// Packs op(A)[i0 ..< i0+mc, p0 ..< p0+kc] into MR-row strips: strip s holds, for each p, the
/// MR values of rows s·MR ..< s·MR+MR (zeros past row mc), so the kernel reads it linearly.
// dst (ceil(mc/MR), kc, MR)
func gemmPackA(_ a: GEMMOperand, i0: Int, mc: Int, p0: Int, kc: Int, mr: Int,
               into dst: UnsafeMutablePointer<Float>) {
    var strip = dst
    for ir in stride(from: 0, to: mc, by: mr) {
        let rows = min(mr, mc - ir)
        if rows < mr { strip.update(repeating: 0, count: kc * mr) }
        if a.transposed {
            // op(A) column p is a contiguous run of A's row p. (Copied inline: `update(from:)`
            // is a memmove call per run of 4 or 24 floats, 2 % of cifar-cnn's training time.)
            let src = a.base + p0 * a.ld + i0 + ir
            for p in 0..<kc { VectorAccess.copy(src + p * a.ld, strip + p * mr, rows) }
        } else {
            gemmPackRows(a.base + (i0 + ir) * a.ld + p0, ld: a.ld, rows: rows, kc: kc, mr: mr, into: strip)
        }
        strip += kc * mr
    }
}

/// strip[p·mr + r] = src[r·ld + p] for r < rows, p < kc: rows of a matrix stored along k, turned
/// k-major. Groups of 8 rows (then 4) and 8 values of k go through register transposes (each value
/// moves once, as in the scalar loop it replaces, so the packed strip is the same); the k % 8 tail
/// and the last rows % 4 rows move one by one. (Moved one at a time, this packing kept the blocked
/// path behind the dot path for every conv weight gradient; see `gemmPrefersDot`.)
func gemmPackRows(_ src: UnsafePointer<Float>, ld: Int, rows: Int, kc: Int, mr: Int,
                  into strip: UnsafeMutablePointer<Float>) {
    let kVectors = kc - kc % 8
    var r = 0
    while r + 8 <= rows {
        let s = src + r * ld
        for p in stride(from: 0, to: kVectors, by: 8) {
            transpose8x8(s + p, ld, strip + p * mr + r, mr)
        }
        r += 8
    }
    if r + 4 <= rows {
        let s = src + r * ld
        for p in stride(from: 0, to: kVectors, by: 8) {
            transpose4x8(s + p, ld, strip + p * mr + r, mr)
        }
        r += 4
    }
    for q in 0..<rows {
        let row = src + q * ld
        let first = q < r ? kVectors : 0   // rows done above lack only the k tail
        for p in first..<kc { strip[p * mr + q] = row[p] }
    }
}

// The shuffles of the transposes, written element by element: LLVM turns each into one AVX
// shuffle (unpcklps, unpckhps, shufps, vperm2f128), as with `evens`/`odds` in ConvKernels.swift.
@inline(__always) private func unpackLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5])
}
@inline(__always) private func unpackHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7])
}
@inline(__always) private func pairsLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5])
}
@inline(__always) private func pairsHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7])
}
@inline(__always) private func halvesLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(lowHalf: a.lowHalf, highHalf: b.lowHalf)
}
@inline(__always) private func halvesHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(lowHalf: a.highHalf, highHalf: b.highHalf)
}

/// dst[j·ldd + i] = src[i·lds + j] for i, j < 8.
@inline(__always)
func transpose8x8(_ src: UnsafePointer<Float>, _ lds: Int, _ dst: UnsafeMutablePointer<Float>, _ ldd: Int) {
    let r0 = VectorAccess.load8(src), r1 = VectorAccess.load8(src + lds)
    let r2 = VectorAccess.load8(src + 2 * lds), r3 = VectorAccess.load8(src + 3 * lds)
    let r4 = VectorAccess.load8(src + 4 * lds), r5 = VectorAccess.load8(src + 5 * lds)
    let r6 = VectorAccess.load8(src + 6 * lds), r7 = VectorAccess.load8(src + 7 * lds)
    // t: rows (0, 1), (2, 3), … interleaved; u: four rows per 128-bit half, one k per half.
    let t0 = unpackLow(r0, r1), t1 = unpackHigh(r0, r1), t2 = unpackLow(r2, r3), t3 = unpackHigh(r2, r3)
    let t4 = unpackLow(r4, r5), t5 = unpackHigh(r4, r5), t6 = unpackLow(r6, r7), t7 = unpackHigh(r6, r7)
    let u0 = pairsLow(t0, t2), u1 = pairsHigh(t0, t2), u2 = pairsLow(t1, t3), u3 = pairsHigh(t1, t3)
    let u4 = pairsLow(t4, t6), u5 = pairsHigh(t4, t6), u6 = pairsLow(t5, t7), u7 = pairsHigh(t5, t7)
    VectorAccess.store(halvesLow(u0, u4), dst)
    VectorAccess.store(halvesLow(u1, u5), dst + ldd)
    VectorAccess.store(halvesLow(u2, u6), dst + 2 * ldd)
    VectorAccess.store(halvesLow(u3, u7), dst + 3 * ldd)
    VectorAccess.store(halvesHigh(u0, u4), dst + 4 * ldd)
    VectorAccess.store(halvesHigh(u1, u5), dst + 5 * ldd)
    VectorAccess.store(halvesHigh(u2, u6), dst + 6 * ldd)
    VectorAccess.store(halvesHigh(u3, u7), dst + 7 * ldd)
}

/// dst[j·ldd + i] = src[i·lds + j] for i < 4, j < 8.
@inline(__always)
func transpose4x8(_ src: UnsafePointer<Float>, _ lds: Int, _ dst: UnsafeMutablePointer<Float>, _ ldd: Int) {
    let r0 = VectorAccess.load8(src), r1 = VectorAccess.load8(src + lds)
    let r2 = VectorAccess.load8(src + 2 * lds), r3 = VectorAccess.load8(src + 3 * lds)
    let t0 = unpackLow(r0, r1), t1 = unpackHigh(r0, r1), t2 = unpackLow(r2, r3), t3 = unpackHigh(r2, r3)
    // u0: k 0 | k 4, u1: k 1 | k 5, u2: k 2 | k 6, u3: k 3 | k 7 (four rows each).
    let u0 = pairsLow(t0, t2), u1 = pairsHigh(t0, t2), u2 = pairsLow(t1, t3), u3 = pairsHigh(t1, t3)
    if ldd == 4 {   // strips 4 wide (AVX2's A strips, the narrow kernel's B): 32 contiguous floats
        VectorAccess.store(halvesLow(u0, u1), dst)
        VectorAccess.store(halvesLow(u2, u3), dst + 8)
        VectorAccess.store(halvesHigh(u0, u1), dst + 16)
        VectorAccess.store(halvesHigh(u2, u3), dst + 24)
    } else {
        VectorAccess.store(u0.lowHalf, dst)
        VectorAccess.store(u1.lowHalf, dst + ldd)
        VectorAccess.store(u2.lowHalf, dst + 2 * ldd)
        VectorAccess.store(u3.lowHalf, dst + 3 * ldd)
        VectorAccess.store(u0.highHalf, dst + 4 * ldd)
        VectorAccess.store(u1.highHalf, dst + 5 * ldd)
        VectorAccess.store(u2.highHalf, dst + 6 * ldd)
        VectorAccess.store(u3.highHalf, dst + 7 * ldd)
    }
}

/// Packs op(B)[p0 ..< p0+kc, j0 ..< j0+nc] into NR-column strips: strip s holds, for each p,
/// the NR values of columns s·NR ..< s·NR+NR (zeros past column nc). The columns of op(B) are
/// the rows of op(B)ᵀ, so this is `gemmPackA` of the transpose.
// dst (ceil(nc/NR), kc, NR)
@inline(__always) func gemmPackB(_ b: GEMMOperand, p0: Int, kc: Int, j0: Int, nc: Int, nr: Int,
                                 into dst: UnsafeMutablePointer<Float>) {
    gemmPackA(b.transpose, i0: j0, mc: nc, p0: p0, kc: kc, mr: nr, into: dst)
}

/// The blocked SIMD GEMM with micro-kernel `kernel`; m, n, k > 0 and α ≠ 0.
func blockedGEMM(_ a: GEMMOperand, _ b: GEMMOperand, c: UnsafeMutablePointer<Float>, ldc: Int,
                 m: Int, n: Int, k: Int, alpha: Float, beta: Float, kernel: GEMMKernel) {
    let mr = kernel.mr, nr = kernel.nr
    // Equal k slices (288 = 144 + 144, not 256 + 32): a short last slice would cost a full pass
    // over C for little arithmetic.
    let slices = (k + gemmKC - 1) / gemmKC
    let kcMax = (k + slices - 1) / slices
    let mcMax = min(roundUp(m, mr), roundUp(gemmMC, mr))
    let ncMax = min(roundUp(n, nr), roundUp(gemmNC, nr))
    // B rows already hold NR contiguous floats when op(B) = B: read them in place, unless many
    // row tiles reuse each strip (then a packed, cache-friendly copy pays for itself).
    let direct = !b.transposed && (m <= 2 * mr || kcMax <= 64)
    let bCount = direct ? kcMax * nr : kcMax * ncMax
    let work = UnsafeMutablePointer<Float>.allocate(capacity: mcMax * kcMax + bCount + mr * nr + 16)
    defer { work.deallocate() }
    // 64-byte-align the packed A block; the others follow at multiples of 16 floats.
    let aligned = UnsafeMutablePointer<Float>(
        bitPattern: (Int(bitPattern: work) + 63) & ~63) ?? work
    let aPack = aligned                  // (mc/MR, kc, MR)
    let bPack = aPack + mcMax * kcMax    // (nc/NR, kc, NR), or one tail strip when direct
    let tile = bPack + bCount            // (MR, NR) scratch for edge tiles

    for jc in stride(from: 0, to: n, by: ncMax) {
        let nc = min(ncMax, n - jc)
        for pc in stride(from: 0, to: k, by: kcMax) {
            let kc = min(kcMax, k - pc)
            let betaNow = pc == 0 ? beta : 1   // later k slices add to the first one's result
            if !direct { gemmPackB(b, p0: pc, kc: kc, j0: jc, nc: nc, nr: nr, into: bPack) }
            for ic in stride(from: 0, to: m, by: mcMax) {
                let mc = min(mcMax, m - ic)
                gemmPackA(a, i0: ic, mc: mc, p0: pc, kc: kc, mr: mr, into: aPack)
                for jr in stride(from: 0, to: nc, by: nr) {
                    let cols = min(nr, nc - jr)
                    let bStrip: UnsafePointer<Float>
                    let ldb: Int
                    if !direct {
                        bStrip = UnsafePointer(bPack + (jr / nr) * kc * nr)
                        ldb = nr
                    } else if cols == nr {
                        bStrip = UnsafePointer(b.base + pc * b.ld + jc + jr)
                        ldb = b.ld
                    } else {
                        gemmPackB(b, p0: pc, kc: kc, j0: jc + jr, nc: cols, nr: nr, into: bPack)
                        bStrip = UnsafePointer(bPack)
                        ldb = nr
                    }
                    for ir in stride(from: 0, to: mc, by: mr) {
                        let rows = min(mr, mc - ir)
                        let aStrip = UnsafePointer(aPack + (ir / mr) * kc * mr)
                        let cTile = c + (ic + ir) * ldc + jc + jr
                        if rows == mr && cols == nr {
                            kernel.run(kc, aStrip, bStrip, ldb, cTile, ldc, alpha, betaNow)
                        } else {
                            // Edge tile: compute the whole register tile into scratch, keep the
                            // valid part.
                            kernel.run(kc, aStrip, bStrip, ldb, tile, nr, alpha, 0)
                            for r in 0..<rows {
                                let dst = cTile + r * ldc, src = tile + r * nr
                                if betaNow == 0 {
                                    dst.update(from: src, count: cols)
                                } else {
                                    for j in 0..<cols { dst[j] = src[j] + betaNow * dst[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
