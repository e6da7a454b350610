import Foundation
import ScalingLaw
import Testing
import TestSupport

/// Fit + 1000-draw bootstrap on large tables; the CLI fits ~8 groups × 4 estimators = 32 times.
/// Timed in release only (debug is ~20× slower and says nothing about the shipped binary), and
/// opt-in (`TS_BENCH=1`): timings belong in benchmark reports, not in the pass/fail of the suite.
@Test(.benchmark)
func largeTableFitsQuickly() throws {
    for (side, seeds) in [(5, 3), (50, 4), (100, 4), (100, 1)] {
        var sweep = SyntheticSweep()
        sweep.etas = (0..<side).map { 0.01 * pow2(Double($0) / Double(side - 1) * 5) }
        sweep.batches = (0..<side).map { 4 + $0 * 4 }
        sweep.seeds = seeds
        let observations = sweep.observations(seed: 17)
        var result: ScalingLawResult?
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<3 {
            let t = clock.measure { result = ScalingLaw.fit(observations) }
            times.append(Double(t.components.attoseconds) * 1e-18 + Double(t.components.seconds))
        }
        let median = times.sorted()[1]
        let fit = try #require(result?.fit)
        print("benchmark \(side)×\(side) cells × \(seeds) seeds (\(observations.count) runs, "
            + "bootstrap \(result?.bootstrap?.draws ?? 0) draws): one fit \(median) s "
            + "(median of 3: "
            + "\(times)), 32 fits ≈ \(32 * median) s")
        #expect(fit.cellsUsed == side * side)
        #expect(abs(fit.a.value - 1) < 5 * fit.a.standardError)
        #expect(median < 5)
    }
}

private func pow2(_ x: Double) -> Double {
    var r = 1.0, e = x
    while e >= 1 { r *= 2; e -= 1 }
    return r * (1 + e * (0.6931471805599453 + e * 0.2402265069591007 * (1 + e * 0.2310490602)))
}

