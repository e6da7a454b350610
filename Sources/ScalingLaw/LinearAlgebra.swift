/// A weighted least-squares solution: β, the unscaled (XᵀWX)⁻¹ and the weighted sums of squares.
struct WeightedFit {
    /// Coefficients, in the order of the design columns.
    var beta: [Double]
    /// (XᵀWX)⁻¹ (p, p) row-major, not yet multiplied by any residual variance.
    var inverse: [Double]
    /// Σ w (y − Xβ)².
    var chiSquare: Double
    /// Σ w (y − ȳ_w)², for the weighted R².
    var totalSumOfSquares: Double
    /// Number of rows m and of columns p.
    var rows: Int
    var columns: Int
    /// Degrees of freedom m − p.
    var dof: Int { rows - columns }
}

/// Solves min Σ w (y − Xβ)² through the normal equations. Returns nil when XᵀWX is singular or
/// numerically so (a pivot of the unit-diagonal-scaled Cholesky factor below 1e-10, i.e. a column
/// within 1e-10 of the span of the others: e.g. all η equal).
/// design (m, p) row-major, y (m), w (m) -> β (p)
func weightedLeastSquares(design: [Double], columns p: Int, y: [Double], w: [Double])
    -> WeightedFit?
{
    let m = y.count
    precondition(design.count == m * p && w.count == m)
    guard m >= p else { return nil }
    var xtwx = [Double](repeating: 0, count: p * p)  // (p, p)
    var xtwy = [Double](repeating: 0, count: p)  // (p)
    var sw = 0.0, swy = 0.0
    for i in 0..<m {
        let wi = w[i], yi = y[i], row = i * p
        sw += wi
        swy += wi * yi
        for r in 0..<p {
            let wx = wi * design[row + r]
            xtwy[r] += wx * yi
            for c in r..<p { xtwx[r * p + c] += wx * design[row + c] }
        }
    }
    for r in 0..<p { for c in 0..<r { xtwx[r * p + c] = xtwx[c * p + r] } }
    guard sw > 0, let inverse = symmetricPositiveDefiniteInverse(xtwx, size: p) else { return nil }
    var beta = [Double](repeating: 0, count: p)
    for r in 0..<p {
        var s = 0.0
        for c in 0..<p { s += inverse[r * p + c] * xtwy[c] }
        beta[r] = s
    }
    let ybar = swy / sw
    var chi2 = 0.0, tss = 0.0
    for i in 0..<m {
        var fitted = 0.0
        for c in 0..<p { fitted += design[i * p + c] * beta[c] }
        let r = y[i] - fitted, d = y[i] - ybar
        chi2 += w[i] * r * r
        tss += w[i] * d * d
    }
    return WeightedFit(beta: beta, inverse: inverse, chiSquare: chi2, totalSumOfSquares: tss,
                       rows: m, columns: p)
}

/// Inverse of a symmetric positive definite matrix (n, n): scale to unit diagonal (so the pivot
/// threshold is relative), Cholesky, then invert through the factor. Nil when singular.
func symmetricPositiveDefiniteInverse(_ a: [Double], size n: Int) -> [Double]? {
    var scale = [Double](repeating: 0, count: n)
    for i in 0..<n {
        let d = a[i * n + i]
        guard d > 0, d.isFinite else { return nil }
        scale[i] = 1 / d.squareRoot()
    }
    // L (n, n) lower triangular with L Lᵀ = D A D.
    var l = [Double](repeating: 0, count: n * n)
    for j in 0..<n {
        var diag = a[j * n + j] * scale[j] * scale[j]
        for k in 0..<j { diag -= l[j * n + k] * l[j * n + k] }
        guard diag > 1e-10 else { return nil }
        let ljj = diag.squareRoot()
        l[j * n + j] = ljj
        for i in (j + 1)..<n {
            var s = a[i * n + j] * scale[i] * scale[j]
            for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
            l[i * n + j] = s / ljj
        }
    }
    // L⁻¹ by forward substitution, then (DAD)⁻¹ = L⁻ᵀ L⁻¹ and A⁻¹ = D (DAD)⁻¹ D.
    var li = [Double](repeating: 0, count: n * n)
    for col in 0..<n {
        for i in col..<n {
            var s = i == col ? 1.0 : 0.0
            for k in col..<i { s -= l[i * n + k] * li[k * n + col] }
            li[i * n + col] = s / l[i * n + i]
        }
    }
    var inv = [Double](repeating: 0, count: n * n)
    for r in 0..<n {
        for c in r..<n {
            var s = 0.0
            for k in c..<n { s += li[k * n + r] * li[k * n + c] }
            let v = s * scale[r] * scale[c]
            inv[r * n + c] = v
            inv[c * n + r] = v
        }
    }
    return inv
}
