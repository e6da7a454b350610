// The stationarity test of one run (Welch's t on the halves of its block means) and the
// corrections over a family of tests (docs/METHOD.md, 5 and 8).
import ScalingLaw
import Testing

/// Reference values from SciPy 1.17.1: `scipy.stats.ttest_ind(second, first, equal_var=False)`
/// for the statistic and p, and the Welch–Satterthwaite formula for ν (numpy, ddof = 1).
@Test(arguments: [
    ([0.52, 0.50, 0.51, 0.49, 0.505, 0.48, 0.47, 0.50, 0.46, 0.485],
     3.0856323113040207, 0.016613516799827168, 7.356439255746085),
    // 9 blocks: halves of 4 and 5.
    ([1.0, 1.3, 0.9, 1.1, 1.02, 0.7, 0.75, 0.71, 0.69],
     2.847022625201254, 0.030347565391542358, 5.8117007143256005),
])
func welchTestMatchesSciPy(blocks: [Double], statistic: Double, p: Double, dof: Double) throws {
    let test = try #require(WelchTest(blockMeans: blocks))
    #expect(abs(test.statistic - statistic) < 1e-12 * statistic)
    #expect(abs(test.pValue - p) < 1e-9 * p, "p = \(test.pValue), SciPy \(p)")
    #expect(abs(try #require(test.degreesOfFreedom) - dof) < 1e-12 * dof)
}

@Test func welchTestEdges() throws {
    #expect(WelchTest(blockMeans: [1, 2, 3]) == nil)  // fewer than 4 blocks
    #expect(WelchTest(blockMeans: [1, 2, .nan, 3]) == nil)
    let flat = try #require(WelchTest(blockMeans: [0.5, 0.5, 0.5, 0.5]))
    #expect(flat.pValue == 1 && flat.statistic == 0)
    // Constant halves that differ: SE 0, the difference is certain.
    let step = try #require(WelchTest(blockMeans: [0.5, 0.5, 0.4, 0.4]))
    #expect(step.pValue == 0 && step.statistic == .infinity && step.degreesOfFreedom == nil)
}

/// Hand-computed: m = 4, α = 0.05. Sorted p: 0.005 (rank 1, α/4 = 0.0125), 0.01 (α/3 = 0.0167),
/// 0.03 (α/2 = 0.025: not rejected, Holm stops), 0.04 (α/1 = 0.05: below its own threshold, but after
/// the stop, so not rejected).
@Test func holmStepsDownAndStops() {
    let p = [0.01, 0.04, 0.03, 0.005]
    let holm = MultipleTestingCorrection.holm.decisions(p, level: 0.05)
    #expect(holm.map(\.rejected) == [true, false, false, true])
    let thresholds = holm.map(\.threshold)
    let expected = [0.05 / 3, 0.05, 0.05 / 2, 0.05 / 4]
    for (t, e) in zip(thresholds, expected) { #expect(abs(t - e) < 1e-15) }
    // Bonferroni: every p against α/m = 0.0125.
    let bonferroni = MultipleTestingCorrection.bonferroni.decisions(p, level: 0.05)
    #expect(bonferroni.map(\.rejected) == [true, false, false, true])
    #expect(bonferroni.allSatisfy { $0.threshold == 0.0125 })
    // None: every p against α.
    #expect(MultipleTestingCorrection.none.decisions(p, level: 0.05).map(\.rejected) == [true, true, true, true])
}

/// Hand-computed: m = 3, α = 0.05, p = 0.001, 0.02, 0.021. Holm: 0.001 ≤ 0.0167, 0.02 ≤ 0.025,
/// 0.021 ≤ 0.05: all rejected. Bonferroni (α/3 = 0.0167) rejects only the first.
@Test func holmRejectsAtLeastWhatBonferroniRejects() {
    let p = [0.021, 0.001, 0.02]
    #expect(MultipleTestingCorrection.holm.decisions(p, level: 0.05).map(\.rejected) == [true, true, true])
    #expect(MultipleTestingCorrection.bonferroni.decisions(p, level: 0.05).map(\.rejected) == [false, true, false])
    // A NaN counts in m and is never rejected.
    let withNaN = MultipleTestingCorrection.holm.decisions([0.001, .nan], level: 0.05)
    #expect(withNaN.map(\.rejected) == [true, false])
    #expect(withNaN[0].threshold == 0.025)
}

/// Under the null a family of m uniform p-values has Holm's family-wise error at most α: over
/// 2000 families of 70 (the default sweep's size), at most 5 % (+ 3 binomial SE) have a rejection,
/// while the uncorrected test rejects in almost every family.
@Test func holmControlsTheFamilyWiseError() {
    var state: UInt64 = 12345
    func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    var holm = 0, none = 0
    let families = 2000
    for _ in 0..<families {
        let p = (0..<70).map { _ in uniform() }
        if MultipleTestingCorrection.holm.decisions(p, level: 0.05).contains(where: \.rejected) { holm += 1 }
        if MultipleTestingCorrection.none.decisions(p, level: 0.05).contains(where: \.rejected) { none += 1 }
    }
    let rate = Double(holm) / Double(families)
    #expect(rate <= 0.05 + 3 * (0.05 * 0.95 / Double(families)).squareRoot(), "Holm family-wise error \(rate)")
    #expect(Double(none) / Double(families) > 0.9)  // 1 − 0.95^70 ≈ 0.97
}
