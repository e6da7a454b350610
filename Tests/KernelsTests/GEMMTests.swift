import Cell
import Testing
@testable import Kernels


/// A rows×columns view with random row padding and offset inside a random-filled buffer.
private func randomView(rows: Int, columns: Int, padded: Bool,
                        _ rng: inout SplitMix64) -> Matrix {
    let stride = columns + (padded ? rng.int(0...5) : 0)
    let offset = padded ? rng.int(0...7) : 0
    let count = offset + max(rows - 1, 0) * stride + columns + (padded ? 3 : 0)
    let buffer = Buffer(count: count)
    for i in 0..<count { buffer[i] = rng.float() }
    return Matrix(buffer, offset: offset, rows: rows, columns: columns, stride: stride)
}

/// A dense copy of `x` with every element replaced by its absolute value.
private func absoluteCopy(_ x: Matrix) -> Matrix {
    let y = Matrix(Buffer(count: x.rows * x.columns), rows: x.rows, columns: x.columns)
    for i in 0..<x.rows { for j in 0..<x.columns { y[i, j] = abs(x[i, j]) } }
    return y
}

/// A copy of the whole buffer behind `x`, viewed the same way.
private func cloneView(_ x: Matrix) -> Matrix {
    Matrix(Buffer(x.buffer.array), offset: x.offset, rows: x.rows, columns: x.columns,
           stride: x.stride)
}

/// Runs `gemm` and `referenceGEMM` on copies of C and checks every element of the view within a
/// tolerance scaled by Σ|a||b| (the size of what was summed), and that nothing outside it changed.
private func checkAgainstReference(_ a: Matrix, _ transA: Transpose, _ b: Matrix,
                                   _ transB: Transpose, _ c: Matrix, alpha: Float, beta: Float,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
    let fast = cloneView(c), slow = cloneView(c)
    gemm(a, transA, b, transB, into: fast, alpha: alpha, beta: beta)
    referenceGEMM(a, transA, b, transB, into: slow, alpha: alpha, beta: beta)
    // scale (m, n) = |α|·|op(A)|·|op(B)| + |β|·|C|
    let scale = Matrix(Buffer(count: c.rows * c.columns), rows: c.rows, columns: c.columns)
    referenceGEMM(absoluteCopy(a), transA, absoluteCopy(b), transB, into: scale, alpha: abs(alpha))
    let k = transA == .none ? a.columns : a.rows
    let tolerance = Float(k + 4) * 4 * Float.ulpOfOne
    var worst: Float = 0
    for i in 0..<c.rows {
        for j in 0..<c.columns {
            let bound = scale[i, j] + (beta == 0 ? 0 : abs(beta * c[i, j])) + Float.leastNormalMagnitude
            worst = max(worst, abs(fast[i, j] - slow[i, j]) / bound)
        }
    }
    #expect(worst <= tolerance,
            """
            relative error \(worst) > \(tolerance) for C \(c.rows)x\(c.columns), k \(k), \
            \(transA)/\(transB), α \(alpha), β \(beta)
            """,
            sourceLocation: sourceLocation)
    // Padding and elements outside the view must be untouched.
    var inside = Set<Int>()
    for i in 0..<c.rows { for j in 0..<c.columns { inside.insert(c.offset + i * c.stride + j) } }
    var outsideChanged = 0
    for index in 0..<c.buffer.count where !inside.contains(index) {
        if fast.buffer[index] != c.buffer[index] { outsideChanged += 1 }
    }
    #expect(outsideChanged == 0, "gemm wrote \(outsideChanged) elements outside the C view",
            sourceLocation: sourceLocation)
}

/// Random operands for op(A) m×k, op(B) k×n and C m×n, then the comparison.
private func checkShape(m: Int, n: Int, k: Int, _ transA: Transpose, _ transB: Transpose,
                        alpha: Float = 1, beta: Float = 0, padded: Bool = false,
                        _ rng: inout SplitMix64,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    let a = transA == .none ? randomView(rows: m, columns: k, padded: padded, &rng)
                            : randomView(rows: k, columns: m, padded: padded, &rng)
    let b = transB == .none ? randomView(rows: k, columns: n, padded: padded, &rng)
                            : randomView(rows: n, columns: k, padded: padded, &rng)
    let c = randomView(rows: m, columns: n, padded: padded, &rng)
    checkAgainstReference(a, transA, b, transB, c, alpha: alpha, beta: beta,
                          sourceLocation: sourceLocation)
}

private let transposes: [(Transpose, Transpose)] = [
    (.none, .none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed),
]

@Test func gemmMatchesReferenceOnAwkwardSizes() {
    let sizes = [1, 2, 7, 15, 16, 17, 31, 33, 63, 100, 257]
    var rng = SplitMix64(seed: 7)
    for trial in 0..<48 {
        let (transA, transB) = transposes[trial % 4]
        // Keep m·n·k modest: the reference is slow in debug builds.
        var m = sizes[rng.int(0...10)], n = sizes[rng.int(0...10)], k = sizes[rng.int(0...10)]
        while m * n * k > 400_000 {
            if m >= n && m >= k { m /= 2 } else if n >= k { n /= 2 } else { k /= 2 }
        }
        let alpha: [Float] = [1, -0.5, 2.25]
        let beta: [Float] = [0, 1, -1.5]
        checkShape(m: m, n: n, k: k, transA, transB, alpha: alpha[trial % 3],
                   beta: beta[(trial / 3) % 3], padded: trial % 2 == 1, &rng)
    }
}

@Test func gemmMatchesReferenceForEachTransposeAndEdge() {
    var rng = SplitMix64(seed: 11)
    let shapes = [(1, 1, 1), (1, 257, 2), (257, 1, 3), (17, 33, 7), (31, 63, 16), (8, 48, 5),
                  (12, 32, 9), (13, 49, 17), (100, 7, 33), (2, 15, 257)]
    for (transA, transB) in transposes {
        for (m, n, k) in shapes {
            checkShape(m: m, n: n, k: k, transA, transB, padded: true, &rng)
            checkShape(m: m, n: n, k: k, transA, transB, alpha: -1.25, beta: 0.5, &rng)
        }
    }
}

@Test func gemmMatchesReferenceAcrossCacheBlocks() {
    // More rows than one row block, more columns than one column block, and k over two slices
    // with β ≠ 1: β applies once, and each later k slice must add to the previous ones.
    var rng = SplitMix64(seed: 13)
    for (transA, transB) in transposes {
        checkShape(m: gemmMC + 1, n: 20, k: 30, transA, transB, beta: 1, padded: true, &rng)
        checkShape(m: 9, n: gemmNC + 4, k: 20, transA, transB, alpha: 0.75, beta: -0.5, &rng)
        checkShape(m: 20, n: 50, k: 2 * gemmKC + 3, transA, transB, beta: 0.5, padded: true, &rng)
        checkShape(m: 20, n: 50, k: 2 * gemmKC + 3, transA, transB, beta: 0, &rng)
    }
    // The dot-product path for A·Bᵀ with a long reduction, over several of its k slices.
    checkShape(m: 5, n: 7, k: 4 * 2048 + 9, .none, .transposed, alpha: -2, beta: 0.5, padded: true,
               &rng)
    checkShape(m: 9, n: 13, k: 1000, .none, .transposed, beta: 0, padded: true, &rng)
    checkShape(m: 70, n: 10, k: 300, .none, .transposed, beta: -1, padded: true, &rng)
    // A·Bᵀ at least 64 wide both ways goes the blocked path on AVX2, packed through transposes.
    checkShape(m: 64, n: 72, k: 1100, .none, .transposed, alpha: 0.5, beta: -1, padded: true, &rng)
    checkShape(m: 66, n: 65, k: 300, .none, .transposed, &rng)
    // A·B with few columns goes the same way through a transposed copy of B.
    checkShape(m: 37, n: 8, k: 1100, .none, .none, alpha: 1.5, beta: 0.5, padded: true, &rng)
    checkShape(m: 70, n: 31, k: 1030, .none, .none, &rng)
}

@Test func gemmMatchesReferenceOnCNNShapes() {
    // Channel-major activations of one image (P = pixels per image · batch, batch 1 here);
    // conv (OC, K, P) for lenet-8-16, lenet-4-8 and cnn-32-64.
    let convs = [(8, 25, 576), (16, 200, 64), (4, 25, 576), (8, 100, 64), (32, 9, 676),
                 (64, 288, 121)]
    var rng = SplitMix64(seed: 17)
    for (oc, k, p) in convs {
        checkShape(m: oc, n: p, k: k, .none, .none, &rng)               // Y = W·Col
        checkShape(m: oc, n: k, k: p, .none, .transposed, &rng)         // dW = dY·Colᵀ
        checkShape(m: k, n: p, k: oc, .transposed, .none, &rng)         // dCol = Wᵀ·dY
    }
    // dense (O, I) at batch 2; the 1600 → 128 layer once with β = 1 (accumulated gradients)
    for (o, i) in [(10, 256), (128, 1600), (10, 128)] {
        checkShape(m: o, n: 2, k: i, .none, .none, &rng)                // Y = W·X
        checkShape(m: o, n: i, k: 2, .none, .transposed, beta: 1, &rng) // dW += dY·Xᵀ
        checkShape(m: i, n: 2, k: o, .transposed, .none, &rng)          // dX = Wᵀ·dY
    }
}

@Test func gemmWithBetaZeroOverwritesNaN() {
    var rng = SplitMix64(seed: 19)
    for (m, n, k) in [(9, 50, 4), (16, 48, 0), (3, 5, 300)] {
        let a = randomView(rows: m, columns: k, padded: false, &rng)
        let b = randomView(rows: k, columns: n, padded: false, &rng)
        let c = Matrix(Buffer(count: m * n), rows: m, columns: n)
        c.buffer.fill(.nan)
        gemm(a, b, into: c, alpha: 1, beta: 0)
        let expected = Matrix(Buffer(count: m * n), rows: m, columns: n)
        referenceGEMM(a, .none, b, .none, into: expected)
        #expect(c.buffer.array.allSatisfy { !$0.isNaN }, "NaN left in C for \(m)x\(n)x\(k)")
        #expect(zip(c.buffer.array, expected.buffer.array).allSatisfy {
            abs($0 - $1) <= 1e-4 * max(1, abs($1))
        })
    }
}

@Test func gemmWithEmptyReductionScalesC() {
    // k = 0: C ← β·C; α = 0 likewise never touches A or B.
    let a = Matrix(Buffer(count: 0), rows: 3, columns: 0)
    let b = Matrix(Buffer(count: 0), rows: 0, columns: 4)
    let c = Matrix(Buffer((0..<12).map(Float.init)), rows: 3, columns: 4)
    gemm(a, b, into: c, alpha: 1, beta: 2)
    #expect(c.buffer.array == (0..<12).map { Float($0) * 2 })
    gemm(a, b, into: c, alpha: 1, beta: 0)
    #expect(c.buffer.array == [Float](repeating: 0, count: 12))
    let x = Matrix(Buffer([1, 2, 3, 4]), rows: 2, columns: 2)
    let y = Matrix(Buffer([5, 6, 7, 8]), rows: 2, columns: 2)
    gemm(x, y, into: y, alpha: 0, beta: 0.5)   // α = 0 scales C even when C is an operand
    #expect(y.buffer.array == [2.5, 3, 3.5, 4])
    // m = 0 and n = 0 do nothing.
    let empty = Matrix(Buffer(count: 0), rows: 0, columns: 2)
    gemm(Matrix(Buffer(count: 0), rows: 0, columns: 2), y, into: empty)
    let flat = Matrix(Buffer(count: 0), rows: 2, columns: 0)
    gemm(x, Matrix(Buffer(count: 0), rows: 2, columns: 0), into: flat)
    #expect(empty.buffer.count == 0 && flat.buffer.count == 0)
}

@Test func gemmShortSpellingsMatchTheFullCall() {
    var rng = SplitMix64(seed: 23)
    let a = randomView(rows: 6, columns: 6, padded: false, &rng)
    let b = randomView(rows: 6, columns: 6, padded: false, &rng)
    let full = Matrix(Buffer(count: 36), rows: 6, columns: 6)
    let short = Matrix(Buffer(count: 36), rows: 6, columns: 6)
    for (transA, transB) in transposes {
        gemm(a, transA, b, transB, into: full, alpha: 0.5)
        switch (transA, transB) {
        case (.none, .none): gemm(a, b, into: short, alpha: 0.5)
        case (.transposed, .none): gemm(a, .transposed, b, into: short, alpha: 0.5)
        case (.none, .transposed): gemm(a, b, .transposed, into: short, alpha: 0.5)
        case (.transposed, .transposed): gemm(a, .transposed, b, .transposed, into: short, alpha: 0.5)
        }
        #expect(short.buffer.array == full.buffer.array)
    }
    gemm(a, .none, b, into: short)   // explicit `.none` with a defaulted transB still resolves
    gemm(a, .none, b, .none, into: full)
    #expect(short.buffer.array == full.buffer.array)
}

@Test func packingRowsAlongKMatchesTheElementLoop() {
    // Every strip width of the kernels (and an odd one), strips with fewer rows than the width,
    // and k with and without a tail past the last 8; the packed strip must be the same bit for bit.
    var rng = SplitMix64(seed: 19)
    for mr in [4, 5, 8, 12, 24, 32, 48, 96] {
        for rows in Set([1, 3, 4, 7, 8, 9, 12, mr - 1, mr].filter { $0 >= 1 && $0 <= mr }).sorted() {
            for kc in [1, 7, 8, 9, 16, 31, 64] {
                let ld = kc + rng.int(0...5)
                let source = (0..<(rows * ld)).map { _ in rng.float() }
                var fast = [Float](repeating: .nan, count: kc * mr)
                var slow = fast
                source.withUnsafeBufferPointer { src in
                    fast.withUnsafeMutableBufferPointer { dst in
                        gemmPackRows(src.baseAddress!, ld: ld, rows: rows, kc: kc, mr: mr, into: dst.baseAddress!)
                    }
                }
                for r in 0..<rows { for p in 0..<kc { slow[p * mr + r] = source[r * ld + p] } }
                let wrong = fast.indices.first { fast[$0].bitPattern != slow[$0].bitPattern }
                #expect(wrong == nil, "mr \(mr), rows \(rows), kc \(kc): first wrong element \(wrong ?? -1)")
            }
        }
    }
}
