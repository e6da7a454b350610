@testable import ScalingLaw
import Testing

@Test(arguments: [(1.0, -1.0, -5.0), (1.2, -0.8, -3.0), (2.0, -1.0, -9.0)])
func exponentsAreRecovered(a: Double, b: Double, c: Double) throws {
    let sweep = SyntheticSweep(a: a, b: b, c: c)
    var options = FitOptions()
    options.bootstrapDraws = repetitions(release: 1000, debug: 200)
    let result = ScalingLaw.fit(sweep.observations(seed: 7), options: options)
    let fit = try #require(result.fit)
    #expect(fit.cellsUsed == 25 && fit.degreesOfFreedom == 22)
    #expect(abs(fit.a.value - a) < 4 * fit.a.standardError)
    #expect(abs(fit.b.value - b) < 4 * fit.b.standardError)
    #expect(abs(fit.c.value - c) < 4 * fit.c.standardError)
    // Noise ≈ 0.02–0.04 per run over 5 × 5 × 3 runs: the exponents are known to about ±0.01.
    #expect(fit.a.standardError > 0.002 && fit.a.standardError < 0.03)
    #expect(fit.a.interval.lower < fit.a.value && fit.a.value < fit.a.interval.upper)
    #expect(fit.rSquared.map { $0 > 0.99 } == true)
    #expect(fit.reducedChiSquare > 0.3 && fit.reducedChiSquare < 3)
    let bs = try #require(result.bootstrap)
    #expect(bs.seeds == 3 && bs.distinctResamples == 10 && bs.failedDraws == 0)
    #expect(bs.caution?.contains("10 distinct resamples") == true)
    #expect(abs(bs.a.mean - a) < 4 * fit.a.standardError)
    // The bootstrap SE and the analytic SE measure the same spread (loosely: 3 seeds).
    #expect(bs.a.standardError > 0.3 * fit.a.standardError)
    #expect(bs.a.standardError < 3 * fit.a.standardError)
    let gamma = try #require(fit.oneExponent)
    if a == -b {
        #expect(abs(gamma.gamma.value - a) < 4 * gamma.gamma.standardError)
        #expect(try #require(fit.collapse).pValue > 0.001)
    } else {
        #expect(try #require(fit.collapse).pValue < 1e-6)
    }
    let restricted = try #require(result.restricted)
    #expect(restricted.droppedEta == 0.2 && restricted.droppedBatchSize == 8)
    let refit = try #require(restricted.fit)
    #expect(refit.cellsUsed == 16)
    #expect(abs(refit.a.value - a) < 4 * refit.a.standardError)
}

@Test func aSharedSeedOffsetMovesOnlyTheIntercept() throws {
    // A warm-start effect common to all cells of a seed cancels in a and b.
    var sweep = SyntheticSweep()
    sweep.seedEffect = 0.5
    var options = FitOptions()
    options.bootstrapDraws = 200
    let fit = try #require(ScalingLaw.fit(sweep.observations(seed: 3), options: options).fit)
    #expect(abs(fit.a.value - 1) < 4 * fit.a.standardError)
    #expect(abs(fit.b.value + 1) < 4 * fit.b.standardError)
}

@Test func summaryLineAndDeterminism() throws {
    let observations = SyntheticSweep().observations(seed: 5)
    var options = FitOptions()
    options.bootstrapDraws = 300
    let first = ScalingLaw.fit(observations, options: options)
    let second = ScalingLaw.fit(observations.reversed(), options: options)
    #expect(first == second)  // same seed, any input order: identical result
    let line = first.summaryLine
    #expect(line.hasPrefix("T ∝ η^"))
    #expect(line.contains(" |B|^-"))
    // Both tests, each with its own p: the joint test of (1, −1) and the collapse a + b = 0.
    let fit = try #require(first.fit)
    let joint = try #require(fit.expectedExponents?.pValue), collapse = try #require(fit.collapse?.pValue)
    #expect(joint != collapse)
    #expect(line.hasSuffix(", p(1,-1)=\(Format.pValue(joint)), p(a+b=0)=\(Format.pValue(collapse))"), "\(line)")
    options.expectedExponents = ExponentPair(a: 2, b: -1)
    let kinetic = ScalingLaw.fit(observations, options: options)
    let p = try #require(kinetic.fit?.expectedExponents?.pValue)
    #expect(kinetic.summaryLine.contains(", p(2,-1)=\(Format.pValue(p)), p(a+b=0)="), "\(kinetic.summaryLine)")
    #expect(p < 1e-10)
    options.bootstrapSeed = 99
    let reseeded = ScalingLaw.fit(observations, options: options)
    #expect(reseeded.bootstrap?.a.standardError != kinetic.bootstrap?.a.standardError)
}

