/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transposed
}

/// C ← α·op(A)·op(B) + β·C, with op(X) = X or Xᵀ. Shapes: op(A) is m×k, op(B) is k×n, C is m×n.
///
/// Dispatches to the SIMD kernel; `referenceGEMM` is the plain scalar version beside it.
public func gemm(_ a: Matrix, _ transA: Transpose = .none,
                 _ b: Matrix, _ transB: Transpose = .none,
                 into c: Matrix, alpha: Float = 1, beta: Float = 0) {
    let (m, n, k) = gemmShape(a, transA, b, transB, c)
    if m == 0 || n == 0 { return }
    let cBase = c.buffer.base + c.offset
    if k == 0 || alpha == 0 {   // no products to add (α = 0 skips A and B, as BLAS does)
        gemmScale(cBase, c.stride, m: m, n: n, beta: beta)
        return
    }
    let opA = GEMMOperand(a, transA), opB = GEMMOperand(b, transB)
    if gemmPrefersDot(m: m, n: n, k: k, opA, opB) {
        dotGEMM(opA, opB, c: cBase, ldc: c.stride, m: m, n: n, k: k, alpha: alpha, beta: beta)
    } else if gemmPrefersDotWithBTransposed(m: m, n: n, k: k, opA, opB) {
        dotGEMMTransposingB(opA, opB, c: cBase, ldc: c.stride, m: m, n: n, k: k,
                            alpha: alpha, beta: beta)
    } else {
        blockedGEMM(opA, opB, c: cBase, ldc: c.stride, m: m, n: n, k: k, alpha: alpha, beta: beta,
                    kernel: gemmKernel(m: m, n: n))
    }
}

// Swift cannot skip a defaulted unlabeled parameter that precedes another unlabeled one, so
// `gemm(a, b, into: c)` and `gemm(a, b, .transposed, into: c)` need these spellings.

/// C ← α·A·B + β·C.
public func gemm(_ a: Matrix, _ b: Matrix, into c: Matrix, alpha: Float = 1, beta: Float = 0) {
    gemm(a, .none, b, .none, into: c, alpha: alpha, beta: beta)
}

/// C ← α·op(A)·B + β·C.
public func gemm(_ a: Matrix, _ transA: Transpose, _ b: Matrix,
                 into c: Matrix, alpha: Float = 1, beta: Float = 0) {
    gemm(a, transA, b, .none, into: c, alpha: alpha, beta: beta)
}

/// C ← α·A·op(B) + β·C.
public func gemm(_ a: Matrix, _ b: Matrix, _ transB: Transpose,
                 into c: Matrix, alpha: Float = 1, beta: Float = 0) {
    gemm(a, .none, b, transB, into: c, alpha: alpha, beta: beta)
}

/// The micro-kernel with the least expected time for an m×n C: its speed times the work of its
/// register tiles, padding included (m = 4 wastes half of an 8-row tile).
func gemmKernel(m: Int, n: Int) -> GEMMKernel {
    func cost(_ kernel: GEMMKernel) -> Double {
        kernel.relativeCost * Double(roundUp(m, kernel.mr)) * Double(roundUp(n, kernel.nr))
    }
    var best = gemmKernelWide
    for kernel in gemmKernels where cost(kernel) < cost(best) { best = kernel }
    return best
}

/// Checks the shapes of a GEMM call and returns (m, n, k).
@usableFromInline
func gemmShape(_ a: Matrix, _ transA: Transpose, _ b: Matrix, _ transB: Transpose,
               _ c: Matrix) -> (m: Int, n: Int, k: Int) {
    let (m, k) = transA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
    let (kb, n) = transB == .none ? (b.rows, b.columns) : (b.columns, b.rows)
    precondition(k == kb && c.rows == m && c.columns == n,
                 "gemm shape mismatch: op(A) \(m)x\(k), op(B) \(kb)x\(n), C \(c.rows)x\(c.columns)")
    return (m, n, k)
}

/// The plain scalar GEMM: the reference every fast kernel is tested against.
/// Accumulates in Double so it is also a good reference for precision.
public func referenceGEMM(_ a: Matrix, _ transA: Transpose = .none,
                          _ b: Matrix, _ transB: Transpose = .none,
                          into c: Matrix, alpha: Float = 1, beta: Float = 0) {
    let (m, n, k) = gemmShape(a, transA, b, transB, c)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let x = transA == .none ? a[i, p] : a[p, i]
                let y = transB == .none ? b[p, j] : b[j, p]
                sum += Double(x) * Double(y)
            }
            let old = beta == 0 ? 0 : beta * c[i, j]   // β = 0 ignores NaN in C, as BLAS does
            c[i, j] = alpha * Float(sum) + old
        }
    }
}
