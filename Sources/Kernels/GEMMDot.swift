// Dot-product GEMM for C = A·Bᵀ with a long reduction (conv weight gradients dW = dY·Colᵀ
// over all pixels of the batch, dense forward X·Wᵀ). Both operands are rows contiguous along k,
// so the kernel reads them in place, one vector of k per row, and keeps an MR×NR tile of vector
// partial sums. The blocked path has to transpose A and Bᵀ into its packed strips, which costs
// more than it saves when C is narrow or short (`gemmPrefersDot`).

#if TS_AVX512
/// Rows of A and of B per dot tile: 24 accumulators + 4 A vectors + 1 B vector registers.
let gemmDotMR = 4, gemmDotNR = 6
#else
/// Rows of A and of B per dot tile: 12 accumulators + 2 A vectors + 1 B vector registers. (At
/// 3×4 the sixteenth register is one short: three accumulators went through the stack, a store
/// and a load in each one's chain, and the kernel ran at ≈ 37 GFLOP/s.)
let gemmDotMR = 2, gemmDotNR = 6
#endif

/// Whether C = A·Bᵀ is better done by `dotGEMM`: few enough rows (m + n) that re-reading them
/// per tile stays cheap, and either a reduction much longer than C is wide or tall, or so few
/// rows or columns in C that the blocked path's packing of A and Bᵀ ((m + n)·k elements
/// transposed) would cost more than the m·n·k arithmetic. Measured on Zen 4 (AVX-512) when that
/// packing moved one element at a time: 64×288×3872 ran at ≈ 78 GFLOP/s blocked and ≈ 95 here,
/// 16×200×512 at ≈ 48 and ≈ 70, 128×10×256 at ≈ 28 and ≈ 47, but 64×288×968 at ≈ 85 and ≈ 74.
/// With register transposes (`gemmPackRows`) the blocked path wins on AVX2 once C is at least 64
/// wide both ways (GEMMTransposedPathBenchmarkTests, here): 64×288×1352 ran at ≈ 62 GFLOP/s on
/// the dot path and ≈ 74 blocked, 64×288×3872 at ≈ 65 and 74, 64×288×16384 at ≈ 58 and 66,
/// 64×64×4096 at ≈ 58 and 62, while 32×128×2304 (≈ 62 and 59), 16×200×2048 (≈ 62 and 52) and
/// 32×27×7200 (≈ 57 and 35) stay faster here. AVX-512 builds keep the older rule: their dot
/// tiles (4×6 of 16 lanes) were faster than the blocked path, which has not been measured there
/// with the new packing. The path decides the order of the sums, so moving a shape changes the
/// rounding of the networks that have it (on AVX2: cifar-cnn's and cnn-32-64's conv2 dW).
func gemmPrefersDot(m: Int, n: Int, k: Int, _ a: GEMMOperand, _ b: GEMMOperand) -> Bool {
#if TS_AVX512
    let wideC = false
#else
    let wideC = min(m, n) >= 64
#endif
    return !a.transposed && b.transposed && k >= 256 && m + n <= 512 && !wideC
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
    // Each tile re-reads its rows of the current k slice. The operand with fewer rows is the inner
    // loop, re-read once per tile of the other, so that it stays in L2 while the tile's few rows of
    // the other stay in L1 (on dW of cifar-cnn's conv2 at slice 8, 64×288×1352, on AVX2 with a
    // 512 KiB L2, this order was ≈ 40 % faster than re-reading the rows of B from L3). Slices
    // shorter than 2048 lose more to the horizontal sums that close each slice than they gain
    // (measured on Zen 4 with 2048 ... 16384). The slices decide the order of the sums, and with
    // it the rounding of every trained network: changing them changes the numbers a resumed
    // journal exports (Tests/SweepTests/ReleaseFixtureTests); the loop order does not.
    let width = GEMMVector.scalarCount
    let slice = max(2048, min(8192, (1024 * 1024) / (m + n))) / width * width
    let innerIsA = m <= n
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: gemmDotMR * gemmDotNR)
    defer { sums.deallocate() }
    for pc in stride(from: 0, to: k, by: slice) {
        let kc = min(slice, k - pc)
        let betaNow = pc == 0 ? beta : 1
        let vectorEnd = kc - kc % width
        @inline(__always) func tile(_ i: Int, _ j: Int) {
            let rows = min(gemmDotMR, m - i), cols = min(gemmDotNR, n - j)
            let ai = a.base + i * a.ld + pc, bj = b.base + j * b.ld + pc
            gemmDotKernel(kc, ai, a.ld, rows: rows, bj, b.ld, cols: cols, into: sums)
            for r in 0..<rows {
                let ar = ai + r * a.ld, cr = c + (i + r) * ldc + j
                for q in 0..<cols {
                    let bq = bj + q * b.ld
                    var sum = sums[r * gemmDotNR + q]
                    for t in vectorEnd..<kc { sum += ar[t] * bq[t] }
                    cr[q] = alpha * sum + (betaNow == 0 ? 0 : betaNow * cr[q])
                }
            }
        }
        if innerIsA {
            for j in stride(from: 0, to: n, by: gemmDotNR) {
                for i in stride(from: 0, to: m, by: gemmDotMR) { tile(i, j) }
            }
        } else {
            for i in stride(from: 0, to: m, by: gemmDotMR) {
                for j in stride(from: 0, to: n, by: gemmDotNR) { tile(i, j) }
            }
        }
    }
}

// One kernel per register budget, each spelled out with one variable per accumulator (as in
// GEMMKernels.swift): that keeps the tile in registers, where a loop over an array would spill.
#if TS_AVX512
/// sums[r·NR + j] ← A row r · B row j over the first kc − kc % width elements, for up to 4
/// rows of A and 6 of B, both read along k in place (`lda`, `ldb` apart); rows past
/// `rows`/`cols` repeat the last one. The caller adds the tail and writes C (no α, β here: two
/// Float arguments would hold two vector registers through the loop).
@inline(never)
func gemmDotKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ lda: Int, rows: Int,
                   _ b: UnsafePointer<Float>, _ ldb: Int, cols: Int, into sums: UnsafeMutablePointer<Float>) {
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
    // Through a local array, as a store to `sums` per sum led the register allocator to spill an
    // accumulator in the loop.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 24) { t in
        t[0] = gemmHorizontalSum(s0_0)
        t[1] = gemmHorizontalSum(s0_1)
        t[2] = gemmHorizontalSum(s0_2)
        t[3] = gemmHorizontalSum(s0_3)
        t[4] = gemmHorizontalSum(s0_4)
        t[5] = gemmHorizontalSum(s0_5)
        t[6] = gemmHorizontalSum(s1_0)
        t[7] = gemmHorizontalSum(s1_1)
        t[8] = gemmHorizontalSum(s1_2)
        t[9] = gemmHorizontalSum(s1_3)
        t[10] = gemmHorizontalSum(s1_4)
        t[11] = gemmHorizontalSum(s1_5)
        t[12] = gemmHorizontalSum(s2_0)
        t[13] = gemmHorizontalSum(s2_1)
        t[14] = gemmHorizontalSum(s2_2)
        t[15] = gemmHorizontalSum(s2_3)
        t[16] = gemmHorizontalSum(s2_4)
        t[17] = gemmHorizontalSum(s2_5)
        t[18] = gemmHorizontalSum(s3_0)
        t[19] = gemmHorizontalSum(s3_1)
        t[20] = gemmHorizontalSum(s3_2)
        t[21] = gemmHorizontalSum(s3_3)
        t[22] = gemmHorizontalSum(s3_4)
        t[23] = gemmHorizontalSum(s3_5)
        sums.update(from: t.baseAddress!, count: 24)
    }
}

#else

// The AVX-512 kernel again at 2×6 for the 16 AVX registers, tail included: a copy on purpose,
// because the compiler does not keep a generic tile in registers (see above).

/// As the AVX-512 kernel, for up to 2 rows of A and 6 of B.
@inline(never)
func gemmDotKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ lda: Int, rows: Int,
                   _ b: UnsafePointer<Float>, _ ldb: Int, cols: Int, into sums: UnsafeMutablePointer<Float>) {
    let a0 = a + min(0, rows - 1) * lda
    let a1 = a + min(1, rows - 1) * lda
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
    let vectorEnd = kc - kc % GEMMVector.scalarCount
    var p = 0
    while p < vectorEnd {
        let x0 = gemmLoad(a0 + p)
        let x1 = gemmLoad(a1 + p)
        let y0 = gemmLoad(b0 + p)
        gemmFMA(&s0_0, x0, y0); gemmFMA(&s1_0, x1, y0)
        let y1 = gemmLoad(b1 + p)
        gemmFMA(&s0_1, x0, y1); gemmFMA(&s1_1, x1, y1)
        let y2 = gemmLoad(b2 + p)
        gemmFMA(&s0_2, x0, y2); gemmFMA(&s1_2, x1, y2)
        let y3 = gemmLoad(b3 + p)
        gemmFMA(&s0_3, x0, y3); gemmFMA(&s1_3, x1, y3)
        let y4 = gemmLoad(b4 + p)
        gemmFMA(&s0_4, x0, y4); gemmFMA(&s1_4, x1, y4)
        let y5 = gemmLoad(b5 + p)
        gemmFMA(&s0_5, x0, y5); gemmFMA(&s1_5, x1, y5)
        p += GEMMVector.scalarCount
    }
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
}

#endif
