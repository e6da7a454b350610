import Foundation  // JSONEncoder only: it refuses NaN and ±∞, which makes it a NaN detector.
import ScalingLaw
import Testing

private func encodes(_ result: ScalingLawResult) -> Bool {
    (try? JSONEncoder().encode(result)) != nil
}

private var quick: FitOptions {
    var o = FitOptions()
    o.bootstrapDraws = 200
    return o
}

@Test func divergedCellsAreExcludedAndListed() throws {
    var observations = SyntheticSweep().observations(seed: 9)
    // The largest-η, smallest-|B| corner diverges in every seed; one more cell in one seed only.
    for i in observations.indices {
        let o = observations[i]
        if o.eta == 0.2 && o.batchSize <= 16 {
            observations[i].exclusion = .diverged
            observations[i].temperature = .nan
        }
        if o.eta == 0.1 && o.batchSize == 8 && o.seed == 1 {
            observations[i].exclusion = .nonStationary
        }
    }
    let result = ScalingLaw.fit(observations, options: quick)
    let fit = try #require(result.fit)
    #expect(fit.cellsUsed == 22)
    #expect(result.excludedCells.count == 3)
    let corner = try #require(result.excludedCells.first { $0.eta == 0.2 && $0.batchSize == 8 })
    #expect(corner.reasons == [.diverged] && corner.excludedSeeds == [0, 1, 2])
    let partial = try #require(result.excludedCells.first { $0.eta == 0.1 && $0.batchSize == 8 })
    #expect(partial.reasons == [.nonStationary])
    // Its two usable seeds are listed too, with the reason they were left out.
    #expect(result.excludedObservations.filter { $0.reason == .otherSeedExcluded }.count == 2)
    #expect(result.excludedObservations.count == 9)
    #expect(abs(fit.a.value - 1) < 4 * fit.a.standardError)
    #expect(!result.cells.contains { $0.eta == 0.2 && $0.batchSize == 8 })
    #expect(encodes(result))

    var keepSeeds = quick
    keepSeeds.excludeWholeCellWhenAnySeedExcluded = false
    let kept = ScalingLaw.fit(observations, options: keepSeeds)
    #expect(kept.fit?.cellsUsed == 23)
    #expect(kept.cells.first { $0.eta == 0.1 && $0.batchSize == 8 }?.seeds == 2)
}

@Test func badEstimatesAreExcludedNeverImputed() throws {
    var observations = SyntheticSweep().observations(seed: 13)
    observations[0].temperature = 0
    observations[4].temperature = -1
    observations[8].temperature = .nan
    observations[12].temperature = nil
    observations[16].temperature = .infinity
    observations[20].blockStandardErrorOfLog = .nan  // a bad SE is only missing, not fatal
    observations.append(Observation(eta: -1, batchSize: 8, seed: 0, temperature: 1))
    observations.append(observations[30])  // duplicate (cell, seed)
    let result = ScalingLaw.fit(observations, options: quick)
    let reasons = Dictionary(grouping: result.excludedObservations, by: \.reason)
    #expect(reasons[.nonPositiveEstimate]?.count == 4)
    #expect(reasons[.missingEstimate]?.count == 1)
    #expect(reasons[.invalidCell]?.count == 1)
    #expect(reasons[.duplicateSeed]?.count == 1)
    #expect(result.excludedCells.count == 5)
    #expect(result.fit?.cellsUsed == 20)
    #expect(encodes(result))
}

@Test func tooFewCellsIsAFailureNotACrash() {
    let observations = SyntheticSweep(etas: [0.05, 0.1], batches: [16, 32])
        .observations(seed: 1).filter { !($0.eta == 0.1 && $0.batchSize == 32) }
    let result = ScalingLaw.fit(observations, options: quick)
    #expect(result.fit == nil)
    #expect(result.failure?.kind == .tooFewCells)
    #expect(result.bootstrap == nil && result.bootstrapUnavailable != nil)
    #expect(result.summaryLine.hasPrefix("no fit: only 3 usable cells"))
    #expect(encodes(result))
    #expect(ScalingLaw.fit([], options: quick).failure?.kind == .tooFewCells)
}

@Test func unidentifiableExponentsAreFlagged() {
    let sameEta = SyntheticSweep(etas: [0.05]).observations(seed: 2)
    #expect(ScalingLaw.fit(sameEta, options: quick).failure?.kind == .etaNotVaried)
    let sameBatch = SyntheticSweep(batches: [32]).observations(seed: 2)
    #expect(ScalingLaw.fit(sameBatch, options: quick).failure?.kind == .batchSizeNotVaried)
    // Only the diagonal η/|B| = 1/640: ln η and ln|B| are collinear.
    let diagonal = SyntheticSweep().observations(seed: 2).filter {
        abs($0.eta * 640 - Double($0.batchSize)) < 1e-9
    }
    let result = ScalingLaw.fit(diagonal, options: quick)
    #expect(result.failure?.kind == .singularDesign)
    #expect(encodes(result))
}

@Test func oneSeedHasNoBootstrapButAFit() throws {
    var sweep = SyntheticSweep()
    sweep.seeds = 1
    let result = ScalingLaw.fit(sweep.observations(seed: 4), options: quick)
    let fit = try #require(result.fit)
    #expect(result.bootstrap == nil)
    #expect(result.bootstrapUnavailable?.contains("only one seed") == true)
    #expect(result.weighting == .cellVariances)
    #expect(abs(fit.a.value - 1) < 4 * fit.a.standardError)
    // Without block SEs there is no variance information at all: equal weights, flagged.
    let bare = sweep.observations(seed: 4).map {
        var o = $0
        o.blockStandardErrorOfLog = nil
        return o
    }
    let equal = ScalingLaw.fit(bare, options: quick)
    #expect(equal.weighting == .equalWeights)
    #expect(equal.fit?.notes.contains("weighting: equal-weights") == true)
    #expect(encodes(equal))
}

@Test func noiseFreeTableGivesExactExponentsAndNoNaN() throws {
    var observations: [Observation] = []
    for eta in [0.0125, 0.025, 0.05, 0.1, 0.2] {
        for batch in [8, 16, 32, 64, 128] {
            for seed in 0..<3 {
                observations.append(Observation(
                    eta: eta, batchSize: batch, seed: seed,
                    temperature: 0.01 * eta / Double(batch), blockStandardErrorOfLog: 0.01))
            }
        }
    }
    let result = ScalingLaw.fit(observations, options: quick)
    let fit = try #require(result.fit)
    #expect(abs(fit.a.value - 1) < 1e-9 && abs(fit.b.value + 1) < 1e-9)
    #expect(fit.a.standardError < 1e-6)
    #expect(encodes(result))
    // Bootstrap of a noise-free table: every draw gives the same exponents.
    #expect(result.bootstrap.map { $0.a.standardError < 1e-9 } == true)
}

@Test func curvatureNeedsEnoughLevels() throws {
    let small = SyntheticSweep(etas: [0.05, 0.1], batches: [16, 32, 64]).observations(seed: 8)
    let fit = try #require(ScalingLaw.fit(small, options: quick).fit)
    #expect(fit.curvature == nil)
    #expect(fit.notes.contains { $0.hasPrefix("curvature test skipped") })
}

@Test func resultRoundTripsThroughJSON() throws {
    var observations = SyntheticSweep().observations(seed: 21)
    observations[0].exclusion = .diverged
    let result = ScalingLaw.fit(observations, options: quick)
    let data = try JSONEncoder().encode(result)
    let text = try #require(String(data: data, encoding: .utf8))
    #expect(text.contains(#""reason":"diverged""#))  // reasons encode as plain strings
    #expect(try JSONDecoder().decode(ScalingLawResult.self, from: data) == result)
}
