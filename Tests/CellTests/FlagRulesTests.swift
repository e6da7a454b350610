import Foundation
import Testing
import Cell

/// The flag rules against series whose answer is known in closed form (docs/METHOD.md, 7).
@Suite struct FlagRulesTests {
    /// Sample variance (n − 1) of `x`.
    static func variance(_ x: ArraySlice<Double>) -> Double {
        let m = x.reduce(0, +) / Double(x.count)
        return x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)
    }

    /// `coordinates` independent series of `steps` values; the `configurational` estimate over the
    /// window and over each of `blocks` blocks (blocks end at ⌊(j + 1)K/b⌋, as the thermometer's).
    static func configurational(_ series: [[Double]], blocks: Int) -> (window: Double, blocks: [Double?]) {
        let k = series[0].count
        let window = series.map { variance($0[...]) }.reduce(0, +) / Double(series.count)
        let blockValues: [Double?] = (0..<blocks).map { j in
            let range = (j * k / blocks)..<((j + 1) * k / blocks)
            return series.map { variance($0[range]) }.reduce(0, +) / Double(series.count)
        }
        return (window, blockValues)
    }

    /// Stationary AR(1) x_{k+1} = ρ x_k + √(1 − ρ²) ξ_k, started from its stationary law.
    static func ar1(rho: Double, steps: Int, rng: inout SeededRNG) -> [Double] {
        var x = rng.normal(), out: [Double] = []
        for _ in 0..<steps {
            out.append(x)
            x = rho * x + (1 - rho * rho).squareRoot() * rng.normal()
        }
        return out
    }

    @Test func varianceFractionIsTheExpectedSampleVarianceOfAnAR1Series() {
        // No memory: unbiased. ρ = 0.9, n = 2: E[s²] = Var · (1 − ρ).
        #expect(FlagRules.varianceFraction(steps: 50, rho: 0) == 1)
        #expect(abs(FlagRules.varianceFraction(steps: 2, rho: 0.9) - 0.1) < 1e-12)
        // Against the closed form 1 − (2/(n(n−1))) · ρ((n − 1) − nρ + ρⁿ)/(1 − ρ)².
        for (n, rho) in [(50, 0.5), (500, 0.98), (800, 0.999)] {
            let closed = 1 - 2 / Double(n * (n - 1)) * rho * (Double(n - 1) - Double(n) * rho + pow(rho, Double(n)))
                / ((1 - rho) * (1 - rho))
            #expect(abs(FlagRules.varianceFraction(steps: n, rho: rho) - closed) < 1e-9, "n = \(n), ρ = \(rho)")
        }
    }

    /// An AR(1) series with a known correlation time gives that τ back from its block ratio, within
    /// the scatter of the ratio over 400 coordinates, and is not flagged.
    @Test(arguments: [5.0, 20.0, 80.0])
    func correlationTimeOfAnAR1SeriesIsRecovered(tau: Double) throws {
        let steps = 500, blocks = 10
        var rng = SeededRNG(seed: 12 &+ UInt64(tau))
        let series = (0..<400).map { _ in Self.ar1(rho: exp(-1 / tau), steps: steps, rng: &rng) }
        let c = Self.configurational(series, blocks: blocks)
        let ratio = try #require(FlagRules.blockRatio(window: c.window, blocks: c.blocks))
        let estimate = try #require(FlagRules.correlationTime(blockRatio: ratio, windowSteps: steps, blocks: blocks))
        #expect(abs(estimate / tau - 1) < 0.15, "τ = \(tau): estimated \(estimate) from ratio \(ratio)")
        #expect(!FlagRules.configurationalCorrelated(window: c.window, blocks: c.blocks, windowSteps: steps))
    }

    /// A random walk's block ratio is (K/b + 1)/(K + 1) (no finite τ); a walk with drift is below it
    /// and flagged.
    @Test func randomWalkSetsTheThresholdAndDriftIsFlagged() throws {
        let steps = 500, blocks = 10
        var rng = SeededRNG(seed: 99)
        func walk(drift: Double) -> [Double] {
            var x = 0.0
            return (0..<steps).map { _ in x += drift + rng.normal(); return x }
        }
        let expected = FlagRules.randomWalkBlockRatio(windowSteps: steps, blocks: blocks)
        #expect(abs(expected - 51.0 / 501.0) < 1e-12)
        let free = Self.configurational((0..<2000).map { _ in walk(drift: 0) }, blocks: blocks)
        let ratio = try #require(FlagRules.blockRatio(window: free.window, blocks: free.blocks))
        // The ratio of a walk scatters by ≈ 3 % of itself over 2,000 coordinates.
        #expect(abs(ratio / expected - 1) < 0.1, "random walk: \(ratio), expected \(expected)")
        #expect(FlagRules.correlationTime(blockRatio: expected * 0.99, windowSteps: steps, blocks: blocks) == nil)
        let drifting = Self.configurational((0..<200).map { _ in walk(drift: 0.5) }, blocks: blocks)
        #expect(FlagRules.configurationalCorrelated(window: drifting.window, blocks: drifting.blocks, windowSteps: steps))
    }

    /// SGD with no restoring force (a random walk: g = ξ, θ·g has mean 0) has FDR = 0 in
    /// expectation, and the block SE of the ratio matches the spread of FDR over independent runs.
    @Test func fdrOfARandomWalkIsZeroWithTheBlockStandardError() throws {
        let n = 50, steps = 500, blocks = 10, eta = 0.1, runs = 200
        var rng = SeededRNG(seed: 2024)
        var fdrs: [Double] = [], ses: [Double] = []
        for _ in 0..<runs {
            var theta = (0..<n).map { _ in 1 + rng.normal() }
            var numerators = [Double](repeating: 0, count: blocks), denominators = numerators
            for k in 0..<steps {
                let j = k * blocks / steps
                for i in 0..<n {
                    let g = rng.normal()
                    numerators[j] += 2 * eta * theta[i] * g
                    denominators[j] += eta * eta * g * g
                    theta[i] -= eta * g
                }
            }
            fdrs.append(numerators.reduce(0, +) / denominators.reduce(0, +))
            ses.append(try #require(FlagRules.ratioStandardError(numerators: numerators, denominators: denominators)))
        }
        let mean = fdrs.reduce(0, +) / Double(runs)
        let sd = Self.variance(fdrs[...]).squareRoot()
        let meanSE = ses.reduce(0, +) / Double(runs)
        #expect(abs(mean) < 3 * sd / Double(runs).squareRoot(), "mean FDR \(mean), sd \(sd)")
        #expect(meanSE / sd > 0.8 && meanSE / sd < 1.25, "mean SE \(meanSE), run sd \(sd)")
    }

    @Test func ratioStandardErrorOfExactBlocksIsZeroAndNeedsTwoBlocks() {
        #expect(FlagRules.ratioStandardError(numerators: [1, 2, 3], denominators: [2, 4, 6]) == 0)
        #expect(FlagRules.ratioStandardError(numerators: [1], denominators: [2]) == nil)
        #expect(FlagRules.ratioStandardError(numerators: [1, -1], denominators: [1, -1]) == nil)
    }

    @Test func fdrIsFlaggedOutsideZeroToOneBeyondTwoStandardErrors() {
        #expect(!FlagRules.fdrOutOfRange(0.5, standardError: nil))
        #expect(!FlagRules.fdrOutOfRange(-0.15, standardError: 0.1))
        #expect(FlagRules.fdrOutOfRange(-0.25, standardError: 0.1))
        #expect(FlagRules.fdrOutOfRange(-0.01, standardError: nil))
        #expect(!FlagRules.fdrOutOfRange(1.15, standardError: 0.1))
        #expect(FlagRules.fdrOutOfRange(1.25, standardError: 0.1))
        #expect(!FlagRules.fdrOutOfRange(nil, standardError: 0.1))
    }

    @Test func calibrationIsFlaggedBelowOneBeyondTwoStandardErrorsOrAboveTwo() {
        // 1/(1 − ηλ/2) for ηλ in [0, 1] is 1 … 2: never flagged.
        for etaLambda in stride(from: 0.0, through: 1.0, by: 0.25) {
            #expect(!FlagRules.calibrationOutOfRange(1 / (1 - etaLambda / 2), seLog: 0))
        }
        #expect(!FlagRules.calibrationOutOfRange(0.9, seLog: 0.06))   // ln 0.9 = −0.105 > −0.12
        #expect(FlagRules.calibrationOutOfRange(0.9, seLog: 0.05))    // < −0.10
        #expect(FlagRules.calibrationOutOfRange(2.1, seLog: 0.5))
        #expect(FlagRules.calibrationOutOfRange(0, seLog: 1))
        #expect(!FlagRules.calibrationOutOfRange(nil, seLog: 0))
    }

    /// The worker's rules and the export's agree: judging a group again changes nothing but the
    /// judged flags, which follow the rules; other flags keep their order.
    @Test func judgingFlagsKeepsOtherFlagsAndAppliesTheRules() {
        func estimate(_ e: Estimator, _ value: Double, _ blocks: [Double?], se: Double? = 0.01) -> EstimateReport {
            EstimateReport(estimator: e, value: value, seLogT: se, blockValues: blocks)
        }
        let drifting: [Double?] = Array(repeating: 0.05, count: 10)   // ratio 0.05 < 51/501
        let group = GroupReport(
            name: "w", count: 4,
            estimates: [estimate(.diffusion, 1, Array(repeating: 1, count: 10)),
                        estimate(.configurational, 1, drifting)],
            noiseVariance: 1, calibrationRatio: 0.9, fluctuationDissipationRatio: 0.5,
            flags: [.undefinedEstimate, .fdrOutOfRange, .noCalibration], filters: [])
        let judged = group.judgingFlags(windowSteps: 500)
        #expect(judged.flags == [.undefinedEstimate, .noCalibration, .configurationalCorrelated, .calibrationOutOfRange])
        #expect(judged.judgingFlags(windowSteps: 500) == judged)
        let withSE = GroupReport(name: "w", count: 4, estimates: group.estimates, noiseVariance: 1,
                                 calibrationRatio: 0.9, calibrationStandardErrorOfLog: 0.1,
                                 fluctuationDissipationRatio: -0.1, fluctuationDissipationStandardError: 0.1,
                                 flags: [], filters: [])
        #expect(withSE.judgingFlags(windowSteps: 500).flags == [.configurationalCorrelated])
    }
}
