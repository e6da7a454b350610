// The fit of another quantity on the cells and with the weights of a temperature fit, and the
// decomposition ln T = ln(η/2|B|) + ln σ̄² + ln calib it is made for (docs/METHOD.md, 9).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Cell
import ScalingLaw
import Testing

/// Runs whose T is exactly (η/2|B|) · σ̄² · calib, with σ̄² and calib each a noisy power law of its
/// own (noise `scale` × the default), heteroscedastic block SEs for T, one diverged cell and one
/// non-stationary run with a wild σ̄².
private struct DecomposedRuns {
    var t: [Observation] = []
    var noise: [Observation] = []
    var calib: [Observation] = []

    init(seed: UInt64, scale: Double = 1) {
        var rng = SplitMix64(seed: seed)
        // Draw all the noise first, so `scale` changes the values and not the draws.
        for eta in [0.0125, 0.025, 0.05, 0.1, 0.2] {
            for batch in [8, 16, 32, 64, 128] {
                for s in 0..<3 {
                    let lnEta = log(eta), lnB = log(Double(batch))
                    let lnNoise = -2 - 0.13 * lnEta + 0.07 * lnB + scale * 0.05 * rng.gaussian()
                    let lnCalib = 0.07 * lnEta + 0.03 * lnB + scale * 0.02 * rng.gaussian()
                    let lnT = log(eta / (2 * Double(batch))) + lnNoise + lnCalib
                    let se = 0.01 + 0.04 * rng.uniform()
                    var exclusion: ExclusionReason?
                    if eta == 0.2 && batch == 8 { exclusion = .diverged }
                    var noiseValue = exp(lnNoise)
                    if eta == 0.05 && batch == 32 && s == 1 { exclusion = .nonStationary; noiseValue *= 1e3 }
                    t.append(Observation(eta: eta, batchSize: batch, seed: s, temperature: exp(lnT),
                                         blockStandardErrorOfLog: se, exclusion: exclusion))
                    noise.append(Observation(eta: eta, batchSize: batch, seed: s, temperature: noiseValue))
                    calib.append(Observation(eta: eta, batchSize: batch, seed: s, temperature: exp(lnCalib)))
                }
            }
        }
    }
}

private func options(wholeCells: Bool) -> FitOptions {
    var o = FitOptions()
    o.bootstrapDraws = 0
    o.excludeWholeCellWhenAnySeedExcluded = wholeCells
    return o
}

/// a_T = 1 + a_σ̄² + a_calib and b_T = −1 + b_σ̄² + b_calib to rounding, also when the cells hold
/// different numbers of seeds (per-run exclusion) and the excluded runs hold wild values.
@Test(arguments: [true, false])
func theExponentsOfTheFactorsAddUpToTsExponents(wholeCells: Bool) throws {
    let runs = DecomposedRuns(seed: 12)
    let result = ScalingLaw.fit(runs.t, options: options(wholeCells: wholeCells))
    let t = try #require(result.fit)
    let n = try ScalingLaw.fit(runs.noise, sameCellsAs: result).get()
    let c = try ScalingLaw.fit(runs.calib, sameCellsAs: result).get()
    #expect(abs(t.a.value - (1 + n.a.value + c.a.value)) < 1e-12)
    #expect(abs(t.b.value - (-1 + n.b.value + c.b.value)) < 1e-12)
    #expect(abs(t.c.value - (log(0.5) + n.c.value + c.c.value)) < 1e-12)
    #expect(n.cellsUsed == t.cellsUsed && c.cellsUsed == t.cellsUsed)
    // The parts are near their own laws (the noise is small), so the test is not vacuous.
    #expect(abs(n.a.value + 0.13) < 0.05 && abs(n.b.value - 0.07) < 0.05)
    #expect(abs(c.a.value - 0.07) < 0.03 && abs(c.b.value - 0.03) < 0.03)
    // Each part is tested against "the same in every cell".
    #expect(n.expectedExponents?.hypothesis == "(a, b) = (0, 0)")
}

/// The identity needs the temperature's weights: the same quantities fitted with weights of their
/// own (from their own seeds' spread) do not add up. This is what the test above
/// would see if the weights were not shared.
@Test func withTheirOwnWeightsTheExponentsDoNotAddUp() throws {
    let o = options(wholeCells: true)
    let runs = DecomposedRuns(seed: 12)
    let result = ScalingLaw.fit(runs.t, options: o)
    let t = try #require(result.fit)
    // The parts with the runs the temperature's fit used, but their own weights.
    let used = Set(runs.t.filter { o in
        !result.excludedObservations.contains { $0.eta == o.eta && $0.batchSize == o.batchSize && $0.seed == o.seed }
    }.map { "\($0.eta)/\($0.batchSize)/\($0.seed)" })
    func own(_ list: [Observation]) throws -> PowerLawFit {
        try #require(ScalingLaw.fit(list.filter { used.contains("\($0.eta)/\($0.batchSize)/\($0.seed)") },
                                    options: o).fit)
    }
    let n = try own(runs.noise), c = try own(runs.calib)
    #expect(n.cellsUsed == t.cellsUsed)
    #expect(abs(t.a.value - (1 + n.a.value + c.a.value)) > 1e-4)
}

/// Each part's standard errors come from its own residuals: scaling its noise by 2 doubles its
/// residuals, χ² × 4, and its SEs × 2, while T's weights (and so the design) stay the same.
@Test func eachPartsErrorBarsComeFromItsOwnResiduals() throws {
    let o = options(wholeCells: true)
    let once = DecomposedRuns(seed: 5, scale: 1)
    let twice = DecomposedRuns(seed: 5, scale: 2)
    // The same T weights for both: fit T once.
    let result = ScalingLaw.fit(once.t, options: o)
    let n1 = try ScalingLaw.fit(once.calib, sameCellsAs: result).get()
    let n2 = try ScalingLaw.fit(twice.calib, sameCellsAs: result).get()
    #expect(abs(n2.a.standardError / n1.a.standardError - 2) < 1e-9)
    #expect(abs(n2.b.standardError / n1.b.standardError - 2) < 1e-9)
    #expect(abs(n2.reducedChiSquare / n1.reducedChiSquare - 4) < 1e-9)
}

/// A power law without noise is recovered exactly, on whatever cells T's fit used.
@Test func anExactPowerLawIsRecovered() throws {
    let o = options(wholeCells: true)
    let runs = DecomposedRuns(seed: 3)
    let result = ScalingLaw.fit(runs.t, options: o)
    let exact = runs.t.map {
        Observation(eta: $0.eta, batchSize: $0.batchSize, seed: $0.seed,
                    temperature: 3 * pow($0.eta, 0.4) * pow(Double($0.batchSize), -0.25))
    }
    let f = try ScalingLaw.fit(exact, sameCellsAs: result).get()
    #expect(abs(f.a.value - 0.4) < 1e-12 && abs(f.b.value + 0.25) < 1e-12 && abs(f.c.value - log(3)) < 1e-12)
}

/// A value missing in a run the temperature's fit used is a failure naming the run; one missing in
/// an excluded run does not matter; without a temperature fit there is nothing to fit on.
@Test func missingValuesAndMissingFitsAreFailures() throws {
    let o = options(wholeCells: true)
    let runs = DecomposedRuns(seed: 3)
    let result = ScalingLaw.fit(runs.t, options: o)
    var noise = runs.noise
    // η = 0.2, |B| = 8 diverged: its values are irrelevant.
    for i in noise.indices where noise[i].eta == 0.2 && noise[i].batchSize == 8 { noise[i].temperature = nil }
    #expect((try? ScalingLaw.fit(noise, sameCellsAs: result).get()) != nil)
    let i = try #require(noise.firstIndex { $0.eta == 0.1 && $0.batchSize == 64 && $0.seed == 2 })
    noise[i].temperature = -1
    guard case .failure(let failure) = ScalingLaw.fit(noise, sameCellsAs: result) else {
        Issue.record("a negative value in a used run was fitted")
        return
    }
    #expect(failure.kind == .valuesMissing)
    #expect(failure.message.contains("η = 0.1, |B| = 64, seed 2"), "\(failure.message)")
    let none = ScalingLaw.fit(Array(runs.t.prefix(3)), options: o)
    guard case .failure(let f) = ScalingLaw.fit(runs.noise, sameCellsAs: none) else {
        Issue.record("fitted on the cells of a failed fit")
        return
    }
    #expect(f.kind == none.failure?.kind)
}

/// A run recorded twice (two results for one job): the temperature's fit keeps the first, and so
/// does the fit on its cells; the parts still add up.
@Test func aDuplicateRunIsKeptOnceAsInTheTemperaturesFit() throws {
    let runs = DecomposedRuns(seed: 5)
    var t = runs.t, noise = runs.noise, calib = runs.calib
    let i = try #require(t.firstIndex { $0.eta == 0.025 && $0.batchSize == 32 && $0.seed == 0 })
    t.append(t[i]); noise.append(noise[i]); calib.append(calib[i])
    let result = ScalingLaw.fit(t, options: options(wholeCells: false))
    #expect(result.excludedObservations.contains { $0.reason == .duplicateSeed })
    let fit = try #require(result.fit)
    let n = try ScalingLaw.fit(noise, sameCellsAs: result).get()
    let c = try ScalingLaw.fit(calib, sameCellsAs: result).get()
    #expect(abs(fit.a.value - (1 + n.a.value + c.a.value)) < 1e-12)
    #expect(abs(fit.b.value - (-1 + n.b.value + c.b.value)) < 1e-12)
}
