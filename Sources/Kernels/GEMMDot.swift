// Dot-product GEMM for C = A·Bᵀ with a long reduction (conv weight gradients dW = dY·Colᵀ
// over all pixels of the batch, dense forward X·Wᵀ). Both operands are rows contiguous along k,
// so the kernel reads them in place, one vector of k per row, and keeps an MR×NR tile of vector
// partial sums. The blocked path would have to pack A and Bᵀ with scalar transposes, which cost
// about as much as the arithmetic when C is this small.

#if TS_AVX512
/// Rows of A and of B per dot tile: 24 accumulators + 4 A vectors + 1 B vector registers.
let gemmDotMR = 4, gemmDotNR = 6
#else
/// Rows of A and of B per dot tile: 12 accumulators + 3 A vectors + 1 B vector registers.
let gemmDotMR = 3, gemmDotNR = 4
#endif

/// Whether C = A·Bᵀ is better done by `dotGEMM`: few enough rows (m + n) that re-reading them
/// per tile stays cheap, and either a reduction much longer than C is wide or tall, or so few
/// rows or columns in C that the blocked path's packing of A and Bᵀ (scalar transposes of
/// (m + n)·k elements) would cost more than the m·n·k arithmetic. Measured: 64×288×3872 ran at
/// ≈ 78 GFLOP/s blocked and ≈ 95 here, 16×200×512 at ≈ 48 and ≈ 70, 128×10×256 at ≈ 28 and
/// ≈ 47, but 64×288×968 at ≈ 85 and ≈ 74.
func gemmPrefersDot(m: Int, n: Int, k: Int, _ a: GEMMOperand, _ b: GEMMOperand) -> Bool {
    !a.transposed && b.transposed && k >= 256 && m + n <= 512
        && (k >= 4 * max(m, n) || (min(m, n) <= 16 && k >= max(m, n)))
}

/// Whether C = A·B with few columns is better done as A·(Bᵀ)ᵀ by `dotGEMM`, after copying B
/// transposed: dense layers at small batch (128×8×1600 ran at ≈ 30 GFLOP/s blocked, where
/// packing A, a transpose of m·k elements, outweighs the arithmetic; copying B moves only n·k).
/// Short k loses to the scalar k % 16 tail of the dot kernel (64×32×300 ran at ≈ 39).
func gemmPrefersDotWithBTransposed(m: Int, n: Int, k: Int, _ a: GEMMOperand,
                                   _ b: GEMMOperand) -> Bool {
    !a.transposed && !b.transposed && n <= 32 && k >= 1024 && m >= 2 * n
}

/// C ← α·A·B + β·C through `dotGEMM` on a transposed copy of B (k×n, n small); m, n, k > 0.
func dotGEMMTransposingB(_ a: GEMMOperand, _ b: GEMMOperand, c: UnsafeMutablePointer<Float>,
                         ldc: Int, m: Int, n: Int, k: Int, alpha: Float, beta: Float) {
    // bt (n, k) = Bᵀ
    let bt = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
    defer { bt.deallocate() }
    for p in 0..<k {
        let row = b.base + p * b.ld
        for j in 0..<n { bt[j * k + p] = row[j] }
    }
    dotGEMM(a, GEMMOperand(base: bt, ld: k, transposed: true), c: c, ldc: ldc,
            m: m, n: n, k: k, alpha: alpha, beta: beta)
}

/// C ← α·A·Bᵀ + β·C with A m×k and B n×k read in place; m, n, k > 0.
func dotGEMM(_ a: GEMMOperand, _ b: GEMMOperand, c: UnsafeMutablePointer<Float>, ldc: Int,
             m: Int, n: Int, k: Int, alpha: Float, beta: Float) {
    // Each tile re-reads its rows of the current k slice, so the m + n rows of a slice should stay
    // cached (≈ 4 MiB, a share of L3); but slices shorter than 2048 lose more to the horizontal
    // sums that close each slice than they gain (measured on Zen 4 with 2048 ... 16384).
    let width = GEMMVector.scalarCount
    let slice = max(2048, min(8192, (1024 * 1024) / (m + n))) / width * width
    for pc in stride(from: 0, to: k, by: slice) {
        let kc = min(slice, k - pc)
        let betaNow = pc == 0 ? beta : 1
        for i in stride(from: 0, to: m, by: gemmDotMR) {
            for j in stride(from: 0, to: n, by: gemmDotNR) {
                gemmDotKernel(kc, a.base + i * a.ld + pc, a.ld, rows: min(gemmDotMR, m - i),
                              b.base + j * b.ld + pc, b.ld, cols: min(gemmDotNR, n - j),
                              c + i * ldc + j, ldc, alpha, betaNow)
            }
        }
    }
}

// One kernel per register budget, each spelled out with one variable per accumulator (as in
// GEMMKernels.swift): that keeps the tile in registers, where a loop over an array would spill.
#if TS_AVX512
/// C[rows×cols] ← α·A·Bᵀ + β·C for up to 4 rows of A and 6 rows of B, both read along
/// k in place (`lda`, `ldb` apart); rows past `rows`/`cols` repeat the last one and are dropped.
@inline(never)
func gemmDotKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ lda: Int, rows: Int,
                   _ b: UnsafePointer<Float>, _ ldb: Int, cols: Int,
                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    let a0 = a + min(0, rows - 1) * lda
    let a1 = a + min(1, rows - 1) * lda
    let a2 = a + min(2, rows - 1) * lda
    let a3 = a + min(3, rows - 1) * lda
    let b0 = b + min(0, cols - 1) * ldb
    let b1 = b + min(1, cols - 1) * ldb
    let b2 = b + min(2, cols - 1) * ldb
    let b3 = b + min(3, cols - 1) * ldb
    let b4 = b + min(4, cols - 1) * ldb
    let b5 = b + min(5, cols - 1) * ldb
    var s0_0 = GEMMVector(); var s0_1 = GEMMVector(); var s0_2 = GEMMVector()
    var s0_3 = GEMMVector(); var s0_4 = GEMMVector(); var s0_5 = GEMMVector()
    var s1_0 = GEMMVector(); var s1_1 = GEMMVector(); var s1_2 = GEMMVector()
    var s1_3 = GEMMVector(); var s1_4 = GEMMVector(); var s1_5 = GEMMVector()
    var s2_0 = GEMMVector(); var s2_1 = GEMMVector(); var s2_2 = GEMMVector()
    var s2_3 = GEMMVector(); var s2_4 = GEMMVector(); var s2_5 = GEMMVector()
    var s3_0 = GEMMVector(); var s3_1 = GEMMVector(); var s3_2 = GEMMVector()
    var s3_3 = GEMMVector(); var s3_4 = GEMMVector(); var s3_5 = GEMMVector()
    let vectorEnd = kc - kc % GEMMVector.scalarCount
    var p = 0
    while p < vectorEnd {
        let x0 = gemmLoad(a0 + p)
        let x1 = gemmLoad(a1 + p)
        let x2 = gemmLoad(a2 + p)
        let x3 = gemmLoad(a3 + p)
        let y0 = gemmLoad(b0 + p)
        gemmFMA(&s0_0, x0, y0); gemmFMA(&s1_0, x1, y0); gemmFMA(&s2_0, x2, y0)
        gemmFMA(&s3_0, x3, y0)
        let y1 = gemmLoad(b1 + p)
        gemmFMA(&s0_1, x0, y1); gemmFMA(&s1_1, x1, y1); gemmFMA(&s2_1, x2, y1)
        gemmFMA(&s3_1, x3, y1)
        let y2 = gemmLoad(b2 + p)
        gemmFMA(&s0_2, x0, y2); gemmFMA(&s1_2, x1, y2); gemmFMA(&s2_2, x2, y2)
        gemmFMA(&s3_2, x3, y2)
        let y3 = gemmLoad(b3 + p)
        gemmFMA(&s0_3, x0, y3); gemmFMA(&s1_3, x1, y3); gemmFMA(&s2_3, x2, y3)
        gemmFMA(&s3_3, x3, y3)
        let y4 = gemmLoad(b4 + p)
        gemmFMA(&s0_4, x0, y4); gemmFMA(&s1_4, x1, y4); gemmFMA(&s2_4, x2, y4)
        gemmFMA(&s3_4, x3, y4)
        let y5 = gemmLoad(b5 + p)
        gemmFMA(&s0_5, x0, y5); gemmFMA(&s1_5, x1, y5); gemmFMA(&s2_5, x2, y5)
        gemmFMA(&s3_5, x3, y5)
        p += GEMMVector.scalarCount
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 24) { sums in
        sums[0] = gemmHorizontalSum(s0_0)
        sums[1] = gemmHorizontalSum(s0_1)
        sums[2] = gemmHorizontalSum(s0_2)
        sums[3] = gemmHorizontalSum(s0_3)
        sums[4] = gemmHorizontalSum(s0_4)
        sums[5] = gemmHorizontalSum(s0_5)
        sums[6] = gemmHorizontalSum(s1_0)
        sums[7] = gemmHorizontalSum(s1_1)
        sums[8] = gemmHorizontalSum(s1_2)
        sums[9] = gemmHorizontalSum(s1_3)
        sums[10] = gemmHorizontalSum(s1_4)
        sums[11] = gemmHorizontalSum(s1_5)
        sums[12] = gemmHorizontalSum(s2_0)
        sums[13] = gemmHorizontalSum(s2_1)
        sums[14] = gemmHorizontalSum(s2_2)
        sums[15] = gemmHorizontalSum(s2_3)
        sums[16] = gemmHorizontalSum(s2_4)
        sums[17] = gemmHorizontalSum(s2_5)
        sums[18] = gemmHorizontalSum(s3_0)
        sums[19] = gemmHorizontalSum(s3_1)
        sums[20] = gemmHorizontalSum(s3_2)
        sums[21] = gemmHorizontalSum(s3_3)
        sums[22] = gemmHorizontalSum(s3_4)
        sums[23] = gemmHorizontalSum(s3_5)
        for r in 0..<rows {
            let ar = a + r * lda
            for j in 0..<cols {
                let bj = b + j * ldb
                var sum = sums[r * 6 + j]
                for q in vectorEnd..<kc { sum += ar[q] * bj[q] }
                let old = beta == 0 ? 0 : beta * c[r * ldc + j]
                c[r * ldc + j] = alpha * sum + old
            }
        }
    }
}

#else

// The AVX-512 kernel again at 3×4 for the 16 AVX registers, tail included: a copy on purpose,
// because the compiler does not keep a generic tile in registers (see above).

/// C[rows×cols] ← α·A·Bᵀ + β·C for up to 3 rows of A and 4 rows of B, both read along
/// k in place (`lda`, `ldb` apart); rows past `rows`/`cols` repeat the last one and are dropped.
@inline(never)
func gemmDotKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ lda: Int, rows: Int,
                   _ b: UnsafePointer<Float>, _ ldb: Int, cols: Int,
                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    let a0 = a + min(0, rows - 1) * lda
    let a1 = a + min(1, rows - 1) * lda
    let a2 = a + min(2, rows - 1) * lda
    let b0 = b + min(0, cols - 1) * ldb
    let b1 = b + min(1, cols - 1) * ldb
    let b2 = b + min(2, cols - 1) * ldb
    let b3 = b + min(3, cols - 1) * ldb
    var s0_0 = GEMMVector(); var s0_1 = GEMMVector(); var s0_2 = GEMMVector()
    var s0_3 = GEMMVector()
    var s1_0 = GEMMVector(); var s1_1 = GEMMVector(); var s1_2 = GEMMVector()
    var s1_3 = GEMMVector()
    var s2_0 = GEMMVector(); var s2_1 = GEMMVector(); var s2_2 = GEMMVector()
    var s2_3 = GEMMVector()
    let vectorEnd = kc - kc % GEMMVector.scalarCount
    var p = 0
    while p < vectorEnd {
        let x0 = gemmLoad(a0 + p)
        let x1 = gemmLoad(a1 + p)
        let x2 = gemmLoad(a2 + p)
        let y0 = gemmLoad(b0 + p)
        gemmFMA(&s0_0, x0, y0); gemmFMA(&s1_0, x1, y0); gemmFMA(&s2_0, x2, y0)
        let y1 = gemmLoad(b1 + p)
        gemmFMA(&s0_1, x0, y1); gemmFMA(&s1_1, x1, y1); gemmFMA(&s2_1, x2, y1)
        let y2 = gemmLoad(b2 + p)
        gemmFMA(&s0_2, x0, y2); gemmFMA(&s1_2, x1, y2); gemmFMA(&s2_2, x2, y2)
        let y3 = gemmLoad(b3 + p)
        gemmFMA(&s0_3, x0, y3); gemmFMA(&s1_3, x1, y3); gemmFMA(&s2_3, x2, y3)
        p += GEMMVector.scalarCount
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 12) { sums in
        sums[0] = gemmHorizontalSum(s0_0)
        sums[1] = gemmHorizontalSum(s0_1)
        sums[2] = gemmHorizontalSum(s0_2)
        sums[3] = gemmHorizontalSum(s0_3)
        sums[4] = gemmHorizontalSum(s1_0)
        sums[5] = gemmHorizontalSum(s1_1)
        sums[6] = gemmHorizontalSum(s1_2)
        sums[7] = gemmHorizontalSum(s1_3)
        sums[8] = gemmHorizontalSum(s2_0)
        sums[9] = gemmHorizontalSum(s2_1)
        sums[10] = gemmHorizontalSum(s2_2)
        sums[11] = gemmHorizontalSum(s2_3)
        for r in 0..<rows {
            let ar = a + r * lda
            for j in 0..<cols {
                let bj = b + j * ldb
                var sum = sums[r * 4 + j]
                for q in vectorEnd..<kc { sum += ar[q] * bj[q] }
                let old = beta == 0 ? 0 : beta * c[r * ldc + j]
                c[r * ldc + j] = alpha * sum + old
            }
        }
    }
}

#endif
