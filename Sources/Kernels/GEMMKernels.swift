// GEMM micro-kernels: one register tile of C each, accumulated over a packed strip of A and a
// strip of B. The bodies are spelled out (one variable per accumulator) because that is what
// keeps every accumulator in a vector register; loops over an array of accumulators spill.
// They were generated from (rows, vectors per row, vector width) and are kept as plain code.

#if TS_AVX512
/// The SIMD type of one accumulator: a full AVX-512 register (32 of them).
typealias GEMMVector = SIMD16<Float>
#else
/// The SIMD type of one accumulator: one AVX register (16 of them), two SSE registers otherwise.
typealias GEMMVector = SIMD8<Float>
#endif

/// One vector of floats from `p`, which need not be aligned.
@inline(__always)
func gemmLoad(_ p: UnsafePointer<Float>) -> GEMMVector {
    UnsafeRawPointer(p).loadUnaligned(as: GEMMVector.self)
}

/// acc ← acc + a·b, fused only where the target has FMA (otherwise it would be a libm call per lane).
@inline(__always)
func gemmFMA(_ acc: inout GEMMVector, _ a: GEMMVector, _ b: GEMMVector) {
#if TS_FMA
    acc.addProduct(a, b)
#else
    acc += a * b
#endif
}

/// The sum of the lanes of `v` as a tree of vector adds. (`SIMD.sum()` adds the lanes one by one,
/// in order, through a call: a chain of 16 dependent adds for each of a dot tile's 24 sums.)
@inline(__always)
func gemmHorizontalSum(_ v: GEMMVector) -> Float {
#if TS_AVX512
    let half = v.lowHalf + v.highHalf
#else
    let half = v
#endif
    let quarter = half.lowHalf + half.highHalf
    let pair = quarter.lowHalf + quarter.highHalf
    return pair[0] + pair[1]
}

/// c ← α·v + β·c for one vector of C; β = 0 never reads C, so NaN there is overwritten.
@inline(__always)
func gemmUpdate(_ c: UnsafeMutablePointer<Float>, _ v: GEMMVector, _ alpha: Float, _ beta: Float) {
    let raw = UnsafeMutableRawPointer(c)
    if beta == 0 && alpha == 1 {
        // The common case; with k = 4 or 8 (input gradients) a multiply here would cost 10–25%.
        raw.storeBytes(of: v, as: GEMMVector.self)
    } else if beta == 0 {
        raw.storeBytes(of: alpha * v, as: GEMMVector.self)
    } else {
        let old = raw.loadUnaligned(as: GEMMVector.self)
        raw.storeBytes(of: alpha * v + beta * old, as: GEMMVector.self)
    }
}

/// A micro-kernel and its register tile: C[mr×nr] ← α·A[mr×kc]·B[kc×nr] + β·C.
struct GEMMKernel: Sendable {
    /// Rows of the C tile (A is packed `mr` floats per k step).
    let mr: Int
    /// Columns of the C tile (B is read `nr` contiguous floats per k step).
    let nr: Int
    /// Time per multiply-add relative to the preferred kernel, for choosing between kernels.
    let relativeCost: Double
    /// (kc, packed A, B, ldb, C, ldc, α, β).
    let run: @Sendable (Int, UnsafePointer<Float>, UnsafePointer<Float>, Int,
              UnsafeMutablePointer<Float>, Int, Float, Float) -> Void
}

#if TS_AVX512
// 24 accumulators + 3 B vectors + 1 broadcast = 28 of the 32 zmm registers.
let gemmKernelWide = GEMMKernel(mr: 8, nr: 48, relativeCost: 1, run: gemmKernel8x48)
// The same register budget, shaped for C with 32 or fewer columns.
let gemmKernelTall = GEMMKernel(mr: 12, nr: 32, relativeCost: 1.1, run: gemmKernel12x32)
// The same register budget, shaped for C with few rows (conv layers with 4 output channels).
let gemmKernelFlat = GEMMKernel(mr: 4, nr: 96, relativeCost: 1.1, run: gemmKernel4x96)
// The same register budget, for C with few columns (dense layers at batch 8).
let gemmKernelNarrow = GEMMKernel(mr: 48, nr: 8, relativeCost: 1.2, run: gemmKernel48x8)
#else
// 12 accumulators + 3 B vectors + 1 broadcast = the 16 ymm registers. Few broadcasts per FMA
// matter on Zen 4: a 6×16 tile (6 broadcasts per 12 FMAs) ran at ≈ 40 GFLOP/s at 512³, this
// one at ≈ 90, so it is the only one here even where 6×16 would pad less.
let gemmKernelWide = GEMMKernel(mr: 4, nr: 24, relativeCost: 1, run: gemmKernel4x24)
let gemmKernelTall = gemmKernelWide
let gemmKernelFlat = gemmKernelWide
// 12 accumulators down 24 rows of 4 columns, for C with few columns (dense layers at batch 8).
let gemmKernelNarrow = GEMMKernel(mr: 24, nr: 4, relativeCost: 1.2, run: gemmKernel24x4)
#endif

/// The kernels `gemm` chooses from, preferred first when they waste the same padding.
let gemmKernels = [gemmKernelWide, gemmKernelTall, gemmKernelFlat, gemmKernelNarrow]

#if TS_AVX512
/// C[8×48] ← α·Σₚ a[p]⊗b[p] + β·C over `kc` steps: `a` packed 8 floats per step,
/// `b` 48 contiguous floats per step, `ldb` apart (packed panel or the matrix itself).
@inline(never)
func gemmKernel8x48(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    var c0_0 = GEMMVector(); var c0_1 = GEMMVector(); var c0_2 = GEMMVector()
    var c1_0 = GEMMVector(); var c1_1 = GEMMVector(); var c1_2 = GEMMVector()
    var c2_0 = GEMMVector(); var c2_1 = GEMMVector(); var c2_2 = GEMMVector()
    var c3_0 = GEMMVector(); var c3_1 = GEMMVector(); var c3_2 = GEMMVector()
    var c4_0 = GEMMVector(); var c4_1 = GEMMVector(); var c4_2 = GEMMVector()
    var c5_0 = GEMMVector(); var c5_1 = GEMMVector(); var c5_2 = GEMMVector()
    var c6_0 = GEMMVector(); var c6_1 = GEMMVector(); var c6_2 = GEMMVector()
    var c7_0 = GEMMVector(); var c7_1 = GEMMVector(); var c7_2 = GEMMVector()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = gemmLoad(pb + 0)
        let b1 = gemmLoad(pb + 16)
        let b2 = gemmLoad(pb + 32)
        let a0 = GEMMVector(repeating: pa[0])
        gemmFMA(&c0_0, a0, b0); gemmFMA(&c0_1, a0, b1); gemmFMA(&c0_2, a0, b2)
        let a1 = GEMMVector(repeating: pa[1])
        gemmFMA(&c1_0, a1, b0); gemmFMA(&c1_1, a1, b1); gemmFMA(&c1_2, a1, b2)
        let a2 = GEMMVector(repeating: pa[2])
        gemmFMA(&c2_0, a2, b0); gemmFMA(&c2_1, a2, b1); gemmFMA(&c2_2, a2, b2)
        let a3 = GEMMVector(repeating: pa[3])
        gemmFMA(&c3_0, a3, b0); gemmFMA(&c3_1, a3, b1); gemmFMA(&c3_2, a3, b2)
        let a4 = GEMMVector(repeating: pa[4])
        gemmFMA(&c4_0, a4, b0); gemmFMA(&c4_1, a4, b1); gemmFMA(&c4_2, a4, b2)
        let a5 = GEMMVector(repeating: pa[5])
        gemmFMA(&c5_0, a5, b0); gemmFMA(&c5_1, a5, b1); gemmFMA(&c5_2, a5, b2)
        let a6 = GEMMVector(repeating: pa[6])
        gemmFMA(&c6_0, a6, b0); gemmFMA(&c6_1, a6, b1); gemmFMA(&c6_2, a6, b2)
        let a7 = GEMMVector(repeating: pa[7])
        gemmFMA(&c7_0, a7, b0); gemmFMA(&c7_1, a7, b1); gemmFMA(&c7_2, a7, b2)
        pa += 8
        pb += ldb
    }
    gemmUpdate(c + 0 * ldc + 0, c0_0, alpha, beta)
    gemmUpdate(c + 0 * ldc + 16, c0_1, alpha, beta)
    gemmUpdate(c + 0 * ldc + 32, c0_2, alpha, beta)
    gemmUpdate(c + 1 * ldc + 0, c1_0, alpha, beta)
    gemmUpdate(c + 1 * ldc + 16, c1_1, alpha, beta)
    gemmUpdate(c + 1 * ldc + 32, c1_2, alpha, beta)
    gemmUpdate(c + 2 * ldc + 0, c2_0, alpha, beta)
    gemmUpdate(c + 2 * ldc + 16, c2_1, alpha, beta)
    gemmUpdate(c + 2 * ldc + 32, c2_2, alpha, beta)
    gemmUpdate(c + 3 * ldc + 0, c3_0, alpha, beta)
    gemmUpdate(c + 3 * ldc + 16, c3_1, alpha, beta)
    gemmUpdate(c + 3 * ldc + 32, c3_2, alpha, beta)
    gemmUpdate(c + 4 * ldc + 0, c4_0, alpha, beta)
    gemmUpdate(c + 4 * ldc + 16, c4_1, alpha, beta)
    gemmUpdate(c + 4 * ldc + 32, c4_2, alpha, beta)
    gemmUpdate(c + 5 * ldc + 0, c5_0, alpha, beta)
    gemmUpdate(c + 5 * ldc + 16, c5_1, alpha, beta)
    gemmUpdate(c + 5 * ldc + 32, c5_2, alpha, beta)
    gemmUpdate(c + 6 * ldc + 0, c6_0, alpha, beta)
    gemmUpdate(c + 6 * ldc + 16, c6_1, alpha, beta)
    gemmUpdate(c + 6 * ldc + 32, c6_2, alpha, beta)
    gemmUpdate(c + 7 * ldc + 0, c7_0, alpha, beta)
    gemmUpdate(c + 7 * ldc + 16, c7_1, alpha, beta)
    gemmUpdate(c + 7 * ldc + 32, c7_2, alpha, beta)
}

/// C[12×32] ← α·Σₚ a[p]⊗b[p] + β·C over `kc` steps: `a` packed 12 floats per step,
/// `b` 32 contiguous floats per step, `ldb` apart (packed panel or the matrix itself).
@inline(never)
func gemmKernel12x32(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    var c0_0 = GEMMVector(); var c0_1 = GEMMVector()
    var c1_0 = GEMMVector(); var c1_1 = GEMMVector()
    var c2_0 = GEMMVector(); var c2_1 = GEMMVector()
    var c3_0 = GEMMVector(); var c3_1 = GEMMVector()
    var c4_0 = GEMMVector(); var c4_1 = GEMMVector()
    var c5_0 = GEMMVector(); var c5_1 = GEMMVector()
    var c6_0 = GEMMVector(); var c6_1 = GEMMVector()
    var c7_0 = GEMMVector(); var c7_1 = GEMMVector()
    var c8_0 = GEMMVector(); var c8_1 = GEMMVector()
    var c9_0 = GEMMVector(); var c9_1 = GEMMVector()
    var c10_0 = GEMMVector(); var c10_1 = GEMMVector()
    var c11_0 = GEMMVector(); var c11_1 = GEMMVector()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = gemmLoad(pb + 0)
        let b1 = gemmLoad(pb + 16)
        let a0 = GEMMVector(repeating: pa[0])
        gemmFMA(&c0_0, a0, b0); gemmFMA(&c0_1, a0, b1)
        let a1 = GEMMVector(repeating: pa[1])
        gemmFMA(&c1_0, a1, b0); gemmFMA(&c1_1, a1, b1)
        let a2 = GEMMVector(repeating: pa[2])
        gemmFMA(&c2_0, a2, b0); gemmFMA(&c2_1, a2, b1)
        let a3 = GEMMVector(repeating: pa[3])
        gemmFMA(&c3_0, a3, b0); gemmFMA(&c3_1, a3, b1)
        let a4 = GEMMVector(repeating: pa[4])
        gemmFMA(&c4_0, a4, b0); gemmFMA(&c4_1, a4, b1)
        let a5 = GEMMVector(repeating: pa[5])
        gemmFMA(&c5_0, a5, b0); gemmFMA(&c5_1, a5, b1)
        let a6 = GEMMVector(repeating: pa[6])
        gemmFMA(&c6_0, a6, b0); gemmFMA(&c6_1, a6, b1)
        let a7 = GEMMVector(repeating: pa[7])
        gemmFMA(&c7_0, a7, b0); gemmFMA(&c7_1, a7, b1)
        let a8 = GEMMVector(repeating: pa[8])
        gemmFMA(&c8_0, a8, b0); gemmFMA(&c8_1, a8, b1)
        let a9 = GEMMVector(repeating: pa[9])
        gemmFMA(&c9_0, a9, b0); gemmFMA(&c9_1, a9, b1)
        let a10 = GEMMVector(repeating: pa[10])
        gemmFMA(&c10_0, a10, b0); gemmFMA(&c10_1, a10, b1)
        let a11 = GEMMVector(repeating: pa[11])
        gemmFMA(&c11_0, a11, b0); gemmFMA(&c11_1, a11, b1)
        pa += 12
        pb += ldb
    }
    gemmUpdate(c + 0 * ldc + 0, c0_0, alpha, beta)
    gemmUpdate(c + 0 * ldc + 16, c0_1, alpha, beta)
    gemmUpdate(c + 1 * ldc + 0, c1_0, alpha, beta)
    gemmUpdate(c + 1 * ldc + 16, c1_1, alpha, beta)
    gemmUpdate(c + 2 * ldc + 0, c2_0, alpha, beta)
    gemmUpdate(c + 2 * ldc + 16, c2_1, alpha, beta)
    gemmUpdate(c + 3 * ldc + 0, c3_0, alpha, beta)
    gemmUpdate(c + 3 * ldc + 16, c3_1, alpha, beta)
    gemmUpdate(c + 4 * ldc + 0, c4_0, alpha, beta)
    gemmUpdate(c + 4 * ldc + 16, c4_1, alpha, beta)
    gemmUpdate(c + 5 * ldc + 0, c5_0, alpha, beta)
    gemmUpdate(c + 5 * ldc + 16, c5_1, alpha, beta)
    gemmUpdate(c + 6 * ldc + 0, c6_0, alpha, beta)
    gemmUpdate(c + 6 * ldc + 16, c6_1, alpha, beta)
    gemmUpdate(c + 7 * ldc + 0, c7_0, alpha, beta)
    gemmUpdate(c + 7 * ldc + 16, c7_1, alpha, beta)
    gemmUpdate(c + 8 * ldc + 0, c8_0, alpha, beta)
    gemmUpdate(c + 8 * ldc + 16, c8_1, alpha, beta)
    gemmUpdate(c + 9 * ldc + 0, c9_0, alpha, beta)
    gemmUpdate(c + 9 * ldc + 16, c9_1, alpha, beta)
    gemmUpdate(c + 10 * ldc + 0, c10_0, alpha, beta)
    gemmUpdate(c + 10 * ldc + 16, c10_1, alpha, beta)
    gemmUpdate(c + 11 * ldc + 0, c11_0, alpha, beta)
    gemmUpdate(c + 11 * ldc + 16, c11_1, alpha, beta)
}

/// C[4×96] ← α·Σₚ a[p]⊗b[p] + β·C over `kc` steps: `a` packed 4 floats per step,
/// `b` 96 contiguous floats per step, `ldb` apart (packed panel or the matrix itself).
@inline(never)
func gemmKernel4x96(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    var c0_0 = GEMMVector(); var c0_1 = GEMMVector(); var c0_2 = GEMMVector()
    var c0_3 = GEMMVector(); var c0_4 = GEMMVector(); var c0_5 = GEMMVector()
    var c1_0 = GEMMVector(); var c1_1 = GEMMVector(); var c1_2 = GEMMVector()
    var c1_3 = GEMMVector(); var c1_4 = GEMMVector(); var c1_5 = GEMMVector()
    var c2_0 = GEMMVector(); var c2_1 = GEMMVector(); var c2_2 = GEMMVector()
    var c2_3 = GEMMVector(); var c2_4 = GEMMVector(); var c2_5 = GEMMVector()
    var c3_0 = GEMMVector(); var c3_1 = GEMMVector(); var c3_2 = GEMMVector()
    var c3_3 = GEMMVector(); var c3_4 = GEMMVector(); var c3_5 = GEMMVector()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = gemmLoad(pb + 0)
        let b1 = gemmLoad(pb + 16)
        let b2 = gemmLoad(pb + 32)
        let b3 = gemmLoad(pb + 48)
        let b4 = gemmLoad(pb + 64)
        let b5 = gemmLoad(pb + 80)
        let a0 = GEMMVector(repeating: pa[0])
        gemmFMA(&c0_0, a0, b0); gemmFMA(&c0_1, a0, b1); gemmFMA(&c0_2, a0, b2)
        gemmFMA(&c0_3, a0, b3); gemmFMA(&c0_4, a0, b4); gemmFMA(&c0_5, a0, b5)
        let a1 = GEMMVector(repeating: pa[1])
        gemmFMA(&c1_0, a1, b0); gemmFMA(&c1_1, a1, b1); gemmFMA(&c1_2, a1, b2)
        gemmFMA(&c1_3, a1, b3); gemmFMA(&c1_4, a1, b4); gemmFMA(&c1_5, a1, b5)
        let a2 = GEMMVector(repeating: pa[2])
        gemmFMA(&c2_0, a2, b0); gemmFMA(&c2_1, a2, b1); gemmFMA(&c2_2, a2, b2)
        gemmFMA(&c2_3, a2, b3); gemmFMA(&c2_4, a2, b4); gemmFMA(&c2_5, a2, b5)
        let a3 = GEMMVector(repeating: pa[3])
        gemmFMA(&c3_0, a3, b0); gemmFMA(&c3_1, a3, b1); gemmFMA(&c3_2, a3, b2)
        gemmFMA(&c3_3, a3, b3); gemmFMA(&c3_4, a3, b4); gemmFMA(&c3_5, a3, b5)
        pa += 4
        pb += ldb
    }
    gemmUpdate(c + 0 * ldc + 0, c0_0, alpha, beta)
    gemmUpdate(c + 0 * ldc + 16, c0_1, alpha, beta)
    gemmUpdate(c + 0 * ldc + 32, c0_2, alpha, beta)
    gemmUpdate(c + 0 * ldc + 48, c0_3, alpha, beta)
    gemmUpdate(c + 0 * ldc + 64, c0_4, alpha, beta)
    gemmUpdate(c + 0 * ldc + 80, c0_5, alpha, beta)
    gemmUpdate(c + 1 * ldc + 0, c1_0, alpha, beta)
    gemmUpdate(c + 1 * ldc + 16, c1_1, alpha, beta)
    gemmUpdate(c + 1 * ldc + 32, c1_2, alpha, beta)
    gemmUpdate(c + 1 * ldc + 48, c1_3, alpha, beta)
    gemmUpdate(c + 1 * ldc + 64, c1_4, alpha, beta)
    gemmUpdate(c + 1 * ldc + 80, c1_5, alpha, beta)
    gemmUpdate(c + 2 * ldc + 0, c2_0, alpha, beta)
    gemmUpdate(c + 2 * ldc + 16, c2_1, alpha, beta)
    gemmUpdate(c + 2 * ldc + 32, c2_2, alpha, beta)
    gemmUpdate(c + 2 * ldc + 48, c2_3, alpha, beta)
    gemmUpdate(c + 2 * ldc + 64, c2_4, alpha, beta)
    gemmUpdate(c + 2 * ldc + 80, c2_5, alpha, beta)
    gemmUpdate(c + 3 * ldc + 0, c3_0, alpha, beta)
    gemmUpdate(c + 3 * ldc + 16, c3_1, alpha, beta)
    gemmUpdate(c + 3 * ldc + 32, c3_2, alpha, beta)
    gemmUpdate(c + 3 * ldc + 48, c3_3, alpha, beta)
    gemmUpdate(c + 3 * ldc + 64, c3_4, alpha, beta)
    gemmUpdate(c + 3 * ldc + 80, c3_5, alpha, beta)
}

/// C[48×8] ← α·Σₚ a[p]⊗b[p] + β·C over `kc` steps, for C with few columns: the
/// accumulators run down the columns (48 packed floats of `a` per step), each b[p] value is
/// broadcast, and the tile goes out through a column-major scratch at the end.
@inline(never)
func gemmKernel48x8(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    var c0_0 = GEMMVector(); var c1_0 = GEMMVector(); var c2_0 = GEMMVector()
    var c0_1 = GEMMVector(); var c1_1 = GEMMVector(); var c2_1 = GEMMVector()
    var c0_2 = GEMMVector(); var c1_2 = GEMMVector(); var c2_2 = GEMMVector()
    var c0_3 = GEMMVector(); var c1_3 = GEMMVector(); var c2_3 = GEMMVector()
    var c0_4 = GEMMVector(); var c1_4 = GEMMVector(); var c2_4 = GEMMVector()
    var c0_5 = GEMMVector(); var c1_5 = GEMMVector(); var c2_5 = GEMMVector()
    var c0_6 = GEMMVector(); var c1_6 = GEMMVector(); var c2_6 = GEMMVector()
    var c0_7 = GEMMVector(); var c1_7 = GEMMVector(); var c2_7 = GEMMVector()
    var pa = a, pb = b
    for _ in 0..<kc {
        let a0 = gemmLoad(pa + 0)
        let a1 = gemmLoad(pa + 16)
        let a2 = gemmLoad(pa + 32)
        let b0 = GEMMVector(repeating: pb[0])
        gemmFMA(&c0_0, a0, b0); gemmFMA(&c1_0, a1, b0); gemmFMA(&c2_0, a2, b0)
        let b1 = GEMMVector(repeating: pb[1])
        gemmFMA(&c0_1, a0, b1); gemmFMA(&c1_1, a1, b1); gemmFMA(&c2_1, a2, b1)
        let b2 = GEMMVector(repeating: pb[2])
        gemmFMA(&c0_2, a0, b2); gemmFMA(&c1_2, a1, b2); gemmFMA(&c2_2, a2, b2)
        let b3 = GEMMVector(repeating: pb[3])
        gemmFMA(&c0_3, a0, b3); gemmFMA(&c1_3, a1, b3); gemmFMA(&c2_3, a2, b3)
        let b4 = GEMMVector(repeating: pb[4])
        gemmFMA(&c0_4, a0, b4); gemmFMA(&c1_4, a1, b4); gemmFMA(&c2_4, a2, b4)
        let b5 = GEMMVector(repeating: pb[5])
        gemmFMA(&c0_5, a0, b5); gemmFMA(&c1_5, a1, b5); gemmFMA(&c2_5, a2, b5)
        let b6 = GEMMVector(repeating: pb[6])
        gemmFMA(&c0_6, a0, b6); gemmFMA(&c1_6, a1, b6); gemmFMA(&c2_6, a2, b6)
        let b7 = GEMMVector(repeating: pb[7])
        gemmFMA(&c0_7, a0, b7); gemmFMA(&c1_7, a1, b7); gemmFMA(&c2_7, a2, b7)
        pa += 48
        pb += ldb
    }
    // scratch (8, 48): column j of the tile
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 384) { scratch in
        guard let t = scratch.baseAddress else { return }
        let raw = UnsafeMutableRawPointer(t)
        raw.storeBytes(of: c0_0, toByteOffset: 0, as: GEMMVector.self)
        raw.storeBytes(of: c1_0, toByteOffset: 64, as: GEMMVector.self)
        raw.storeBytes(of: c2_0, toByteOffset: 128, as: GEMMVector.self)
        raw.storeBytes(of: c0_1, toByteOffset: 192, as: GEMMVector.self)
        raw.storeBytes(of: c1_1, toByteOffset: 256, as: GEMMVector.self)
        raw.storeBytes(of: c2_1, toByteOffset: 320, as: GEMMVector.self)
        raw.storeBytes(of: c0_2, toByteOffset: 384, as: GEMMVector.self)
        raw.storeBytes(of: c1_2, toByteOffset: 448, as: GEMMVector.self)
        raw.storeBytes(of: c2_2, toByteOffset: 512, as: GEMMVector.self)
        raw.storeBytes(of: c0_3, toByteOffset: 576, as: GEMMVector.self)
        raw.storeBytes(of: c1_3, toByteOffset: 640, as: GEMMVector.self)
        raw.storeBytes(of: c2_3, toByteOffset: 704, as: GEMMVector.self)
        raw.storeBytes(of: c0_4, toByteOffset: 768, as: GEMMVector.self)
        raw.storeBytes(of: c1_4, toByteOffset: 832, as: GEMMVector.self)
        raw.storeBytes(of: c2_4, toByteOffset: 896, as: GEMMVector.self)
        raw.storeBytes(of: c0_5, toByteOffset: 960, as: GEMMVector.self)
        raw.storeBytes(of: c1_5, toByteOffset: 1024, as: GEMMVector.self)
        raw.storeBytes(of: c2_5, toByteOffset: 1088, as: GEMMVector.self)
        raw.storeBytes(of: c0_6, toByteOffset: 1152, as: GEMMVector.self)
        raw.storeBytes(of: c1_6, toByteOffset: 1216, as: GEMMVector.self)
        raw.storeBytes(of: c2_6, toByteOffset: 1280, as: GEMMVector.self)
        raw.storeBytes(of: c0_7, toByteOffset: 1344, as: GEMMVector.self)
        raw.storeBytes(of: c1_7, toByteOffset: 1408, as: GEMMVector.self)
        raw.storeBytes(of: c2_7, toByteOffset: 1472, as: GEMMVector.self)
        for r in 0..<48 {
            let row = c + r * ldc
            for j in 0..<8 {
                let value = alpha * t[j * 48 + r]
                row[j] = beta == 0 ? value : value + beta * row[j]
            }
        }
    }
}

#else

// The AVX-512 kernels again for the 16 AVX registers: 4×24 is 4×96 and 24×4 is 48×8 at a smaller
// tile. They are copies on purpose: register tiles unrolled by hand, because the compiler does not
// keep a generic (rows × vectors) tile in registers (see the top of this file).

/// C[4×24] ← α·Σₚ a[p]⊗b[p] + β·C over `kc` steps: `a` packed 4 floats per step,
/// `b` 24 contiguous floats per step, `ldb` apart (packed panel or the matrix itself).
@inline(never)
func gemmKernel4x24(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    var c0_0 = GEMMVector(); var c0_1 = GEMMVector(); var c0_2 = GEMMVector()
    var c1_0 = GEMMVector(); var c1_1 = GEMMVector(); var c1_2 = GEMMVector()
    var c2_0 = GEMMVector(); var c2_1 = GEMMVector(); var c2_2 = GEMMVector()
    var c3_0 = GEMMVector(); var c3_1 = GEMMVector(); var c3_2 = GEMMVector()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = gemmLoad(pb + 0)
        let b1 = gemmLoad(pb + 8)
        let b2 = gemmLoad(pb + 16)
        let a0 = GEMMVector(repeating: pa[0])
        gemmFMA(&c0_0, a0, b0); gemmFMA(&c0_1, a0, b1); gemmFMA(&c0_2, a0, b2)
        let a1 = GEMMVector(repeating: pa[1])
        gemmFMA(&c1_0, a1, b0); gemmFMA(&c1_1, a1, b1); gemmFMA(&c1_2, a1, b2)
        let a2 = GEMMVector(repeating: pa[2])
        gemmFMA(&c2_0, a2, b0); gemmFMA(&c2_1, a2, b1); gemmFMA(&c2_2, a2, b2)
        let a3 = GEMMVector(repeating: pa[3])
        gemmFMA(&c3_0, a3, b0); gemmFMA(&c3_1, a3, b1); gemmFMA(&c3_2, a3, b2)
        pa += 4
        pb += ldb
    }
    gemmUpdate(c + 0 * ldc + 0, c0_0, alpha, beta)
    gemmUpdate(c + 0 * ldc + 8, c0_1, alpha, beta)
    gemmUpdate(c + 0 * ldc + 16, c0_2, alpha, beta)
    gemmUpdate(c + 1 * ldc + 0, c1_0, alpha, beta)
    gemmUpdate(c + 1 * ldc + 8, c1_1, alpha, beta)
    gemmUpdate(c + 1 * ldc + 16, c1_2, alpha, beta)
    gemmUpdate(c + 2 * ldc + 0, c2_0, alpha, beta)
    gemmUpdate(c + 2 * ldc + 8, c2_1, alpha, beta)
    gemmUpdate(c + 2 * ldc + 16, c2_2, alpha, beta)
    gemmUpdate(c + 3 * ldc + 0, c3_0, alpha, beta)
    gemmUpdate(c + 3 * ldc + 8, c3_1, alpha, beta)
    gemmUpdate(c + 3 * ldc + 16, c3_2, alpha, beta)
}

/// C[24×4] ← α·Σₚ a[p]⊗b[p] + β·C over `kc` steps, for C with few columns: the
/// accumulators run down the columns (24 packed floats of `a` per step), each b[p] value is
/// broadcast, and the tile goes out through a column-major scratch at the end.
@inline(never)
func gemmKernel24x4(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    var c0_0 = GEMMVector(); var c1_0 = GEMMVector(); var c2_0 = GEMMVector()
    var c0_1 = GEMMVector(); var c1_1 = GEMMVector(); var c2_1 = GEMMVector()
    var c0_2 = GEMMVector(); var c1_2 = GEMMVector(); var c2_2 = GEMMVector()
    var c0_3 = GEMMVector(); var c1_3 = GEMMVector(); var c2_3 = GEMMVector()
    var pa = a, pb = b
    for _ in 0..<kc {
        let a0 = gemmLoad(pa + 0)
        let a1 = gemmLoad(pa + 8)
        let a2 = gemmLoad(pa + 16)
        let b0 = GEMMVector(repeating: pb[0])
        gemmFMA(&c0_0, a0, b0); gemmFMA(&c1_0, a1, b0); gemmFMA(&c2_0, a2, b0)
        let b1 = GEMMVector(repeating: pb[1])
        gemmFMA(&c0_1, a0, b1); gemmFMA(&c1_1, a1, b1); gemmFMA(&c2_1, a2, b1)
        let b2 = GEMMVector(repeating: pb[2])
        gemmFMA(&c0_2, a0, b2); gemmFMA(&c1_2, a1, b2); gemmFMA(&c2_2, a2, b2)
        let b3 = GEMMVector(repeating: pb[3])
        gemmFMA(&c0_3, a0, b3); gemmFMA(&c1_3, a1, b3); gemmFMA(&c2_3, a2, b3)
        pa += 24
        pb += ldb
    }
    // scratch (4, 24): column j of the tile
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 96) { scratch in
        guard let t = scratch.baseAddress else { return }
        let raw = UnsafeMutableRawPointer(t)
        raw.storeBytes(of: c0_0, toByteOffset: 0, as: GEMMVector.self)
        raw.storeBytes(of: c1_0, toByteOffset: 32, as: GEMMVector.self)
        raw.storeBytes(of: c2_0, toByteOffset: 64, as: GEMMVector.self)
        raw.storeBytes(of: c0_1, toByteOffset: 96, as: GEMMVector.self)
        raw.storeBytes(of: c1_1, toByteOffset: 128, as: GEMMVector.self)
        raw.storeBytes(of: c2_1, toByteOffset: 160, as: GEMMVector.self)
        raw.storeBytes(of: c0_2, toByteOffset: 192, as: GEMMVector.self)
        raw.storeBytes(of: c1_2, toByteOffset: 224, as: GEMMVector.self)
        raw.storeBytes(of: c2_2, toByteOffset: 256, as: GEMMVector.self)
        raw.storeBytes(of: c0_3, toByteOffset: 288, as: GEMMVector.self)
        raw.storeBytes(of: c1_3, toByteOffset: 320, as: GEMMVector.self)
        raw.storeBytes(of: c2_3, toByteOffset: 352, as: GEMMVector.self)
        for r in 0..<24 {
            let row = c + r * ldc
            for j in 0..<4 {
                let value = alpha * t[j * 24 + r]
                row[j] = beta == 0 ? value : value + beta * row[j]
            }
        }
    }
}

#endif
