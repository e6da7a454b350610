import Cell
import Foundation
import Kernels
import Testing
import TestSupport
import Thermometer
import Trainer

#if !DEBUG
/// Cost of `record` per training step, in release builds only (debug timings mean nothing).
///
/// Target: under 10 % of a 0.3 ms lenet-8-16 step (≈ 30 µs) for 5,994 parameters. Each sample is
/// one whole 500-step window (block closes included) divided by 500; the median of 7 is printed.
/// Opt-in (`TS_BENCH=1 swift test -c release ... --filter ThermometerBenchmarkTests`): a timing
/// belongs in a benchmark report, not in the pass/fail of the suite on a shared machine; the bounds
/// asserted are loose, to catch only a gross regression when it is run.
@Suite(.serialized, .benchmark)
struct ThermometerBenchmarkTests {
    /// lenet-8-16 and cnn-32-64 parameter layouts (docs/METHOD.md, 2).
    static let layouts: [(name: String, groups: [ParameterGroup], bound: Double)] = [
        ("lenet-8-16", layout([("conv1.weight", 200, 8), ("conv1.bias", 8, 0),
                               ("conv2.weight", 3200, 16), ("conv2.bias", 16, 0),
                               ("dense.weight", 2560, 0), ("dense.bias", 10, 0)]), 100e-6),
        ("cnn-32-64", layout([("conv1.weight", 288, 32), ("conv1.bias", 32, 0),
                              ("conv2.weight", 18432, 64), ("conv2.bias", 64, 0),
                              ("dense1.weight", 204_800, 0), ("dense1.bias", 128, 0),
                              ("dense2.weight", 1280, 0), ("dense2.bias", 10, 0)]), 5e-3),
    ]

    static func layout(_ parts: [(String, Int, Int)]) -> [ParameterGroup] {
        var start = 0
        return parts.map { name, count, filters in
            defer { start += count }
            return ParameterGroup(name: name, range: start..<(start + count), filterCount: filters)
        }
    }

    @Test(arguments: 0..<2)
    func recordCostPerStep(_ which: Int) throws {
        let (name, groups, bound) = Self.layouts[which]
        let p = groups.last?.range.upperBound ?? 0
        var rng = SeededRNG(seed: 1)
        let buffers = (0..<4).map { _ in Buffer((0..<p).map { _ in Float(rng.normal()) }) }
        let steps = 500
        var samples: [Double] = []
        for _ in 0..<7 {
            let t = try Thermometer(groups: groups,
                                    config: ThermometerConfig(learningRate: 0.05, batchSize: 8,
                                                              measureSteps: steps))
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                for k in 0..<steps {
                    t.record(parameters: buffers[k & 3], update: buffers[(k + 1) & 3],
                             gradient: buffers[(k + 2) & 3], loss: 0.5)
                }
            }
            let c = elapsed.components
            samples.append((Double(c.seconds) + Double(c.attoseconds) * 1e-18) / Double(steps))
            #expect(t.finish().group("network")?.estimate(.diffusion)?.value != nil)
        }
        samples.sort()
        let median = samples[samples.count / 2]
        print("record() \(name) (\(p) parameters): median \(median * 1e6) µs/step, "
              + "min \(samples[0] * 1e6), max \(samples[samples.count - 1] * 1e6)")
        #expect(median < bound, "\(name): \(median * 1e6) µs per step")
    }
}
#endif
