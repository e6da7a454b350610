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
            // op(A) column p is a contiguous run of A's row p.
            for p in 0..<kc {
                (strip + p * mr).update(from: a.base + (p0 + p) * a.ld + i0 + ir, count: rows)
            }
        } else {
            for r in 0..<rows {
                let src = a.base + (i0 + ir + r) * a.ld + p0
                for p in 0..<kc { strip[p * mr + r] = src[p] }
            }
        }
        strip += kc * mr
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
