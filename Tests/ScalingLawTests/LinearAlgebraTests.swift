import Cell
@testable import ScalingLaw
import Testing

@Test func quickselectMedianMatchesSorting() {
    var rng = SplitMix64(seed: 1)
    for n in [1, 2, 3, 4, 7, 10, 101, 1000] {
        for duplicates in [false, true] {
            var values = (0..<n).map { _ in
                duplicates ? Double(rng.below(5)) : rng.uniform()
            }
            let sorted = values.sorted()
            let expected = n % 2 == 1
                ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
            #expect(CellMoments.median(&values) == expected)
        }
    }
}

@Test func inverseOfASymmetricMatrix() throws {
    // A = [[4, 2, 0.6], [2, 3, 0.4], [0.6, 0.4, 1]]: check A · A⁻¹ = I.
    let a: [Double] = [4, 2, 0.6, 2, 3, 0.4, 0.6, 0.4, 1]
    let inv = try #require(symmetricPositiveDefiniteInverse(a, size: 3))
    for r in 0..<3 {
        for c in 0..<3 {
            var s = 0.0
            for k in 0..<3 { s += a[r * 3 + k] * inv[k * 3 + c] }
            #expect(abs(s - (r == c ? 1 : 0)) < 1e-12)
        }
    }
    // Rank-deficient (third row = first + second) and a zero diagonal are singular.
    #expect(symmetricPositiveDefiniteInverse([1, 1, 2, 1, 2, 3, 2, 3, 5], size: 3) == nil)
    #expect(symmetricPositiveDefiniteInverse([1, 0, 0, 0], size: 2) == nil)
}

@Test func weightedLeastSquaresAgainstAHandSolution() throws {
    // y = 1 + 2x exactly at x = 0, 1, 2 plus an outlier row with tiny weight.
    let design: [Double] = [1, 0, 1, 1, 1, 2, 1, 3]
    let y: [Double] = [1, 3, 5, 100]
    let w: [Double] = [1, 2, 1, 1e-12]
    let fit = try #require(weightedLeastSquares(design: design, columns: 2, y: y, w: w))
    #expect(abs(fit.beta[0] - 1) < 1e-9 && abs(fit.beta[1] - 2) < 1e-9)
    #expect(fit.dof == 2)
    // Two-point weighted regression (x = 0, 1; w = 1, 1): slope variance (XᵀWX)⁻¹₁₁ = 2.
    let two = try #require(weightedLeastSquares(design: [1, 0, 1, 1], columns: 2, y: [0, 1],
                                                w: [1, 1]))
    #expect(abs(two.inverse[3] - 2) < 1e-12)
    #expect(two.chiSquare < 1e-20)
}
