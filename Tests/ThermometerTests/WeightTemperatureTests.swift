import Cell
import Kernels
import Testing
import Thermometer
import Trainer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-weight temperature T_i (docs/METHOD.md, 4) on the analytic case: SGD on a quadratic
/// whose coordinates have different gradient noise, so each T_i has its own closed form.
@Suite struct WeightTemperatureTests {
    /// Half the coordinates with σ² = 1, half with σ² = 4: T_i = (η σ_i²/2|B|)/(1 − ηλ/2) per half,
    /// the group's T is the mean of the T_i, and the histogram shows two peaks at T_i/T_G = 0.4 and 1.6.
    @Test func perWeightTemperaturesMatchTheirClosedForms() throws {
        let n = 400, eta = 0.1, batch = 16, lambda = 1.0, steps = 1000
        let sigma2 = (0..<n).map { $0 < n / 2 ? 1.0 : 4.0 }
        var sim = QuadraticSGD(lambda: Array(repeating: lambda, count: n), sigma2: sigma2, eta: eta,
                               batch: batch, seed: 4242)
        sim.burnIn(steps: 100)
        let config = ThermometerConfig(learningRate: eta, batchSize: batch, measureSteps: steps)
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)], config: config)
        let report = sim.measure(t)
        let ti = try #require(t.weightTemperatures(0..<n))
        #expect(ti.count == n)

        // Each half's mean T_i against its closed form; the group's `diffusion` is the mean of all.
        for (half, s2) in [(0..<(n / 2), 1.0), ((n / 2)..<n, 4.0)] {
            let expected = QuadraticTheory.diffusion(eta: eta, lambda: lambda, s2: s2 / Double(batch))
            let mean = ti[half].reduce(0, +) / Double(half.count)
            #expect(relativeError(mean, expected) < 0.03, "σ² = \(s2): mean T_i \(mean) vs \(expected)")
        }
        let group = try #require(value(report, "w", .diffusion))
        #expect(relativeError(ti.reduce(0, +) / Double(n), group) < 1e-12)

        // Noise of one T_i: the block SE predicts the scatter of ln T_i among coordinates that share
        // one closed form; both are near the white-noise value √(2/(K − 1)) ≈ 0.045 for K = 1000.
        let h = try #require(report.group("w")?.weightTemperatures)
        let logs = ti[0..<(n / 2)].map { log($0) }
        let m = logs.reduce(0, +) / Double(logs.count)
        let scatter = (logs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(logs.count - 1)).squareRoot()
        let se = try #require(h.medianSeLogT)
        #expect(abs(se / scatter - 1) < 0.25, "median block SE \(se) vs scatter \(scatter)")
        #expect(abs(scatter / (2.0 / Double(steps - 1)).squareRoot() - 1) < 0.25, "scatter \(scatter)")

        // Histogram: n coordinates, half in the bin of 0.4 ([0.316, 0.562)), half around 1.6.
        #expect(h.total == n && h.zero == 0 && h.below == 0 && h.above == 0)
        #expect(h.counts[30] == n / 2, "\(h.counts)")
        #expect(h.counts[32] + h.counts[33] == n / 2, "\(h.counts)")
        #expect(abs(h.quantiles[1] / 0.4 - 1) < 0.05 && abs(h.quantiles[3] / 1.6 - 1) < 0.05, "\(h.quantiles)")
    }

    /// A coordinate that never moves has T_i = 0, is counted as zero, and has no block SE.
    @Test func aFrozenWeightIsCountedAsZero() throws {
        let n = 64
        var sim = QuadraticSGD(lambda: Array(repeating: 1, count: n), sigma2: (0..<n).map { $0 == 0 ? 0 : 1 },
                               eta: 0.1, batch: 8, seed: 7)
        sim.theta[0] = 0
        let config = ThermometerConfig(learningRate: 0.1, batchSize: 8, measureSteps: 200)
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)], config: config)
        let report = sim.measure(t)
        let ti = try #require(t.weightTemperatures(0..<n))
        #expect(ti[0] == 0 && ti[1...].allSatisfy { $0 > 0 })
        let h = try #require(report.group("w")?.weightTemperatures)
        // One zero among 64: the 5 % quantile (position 3.15 of 0 … 63) lies above it.
        #expect(h.zero == 1 && h.total == n && h.quantiles[0] > 0)
    }

    /// A run that diverges in the window has no per-weight temperatures.
    @Test func aDivergedWindowHasNone() throws {
        let config = ThermometerConfig(learningRate: 0.1, batchSize: 8, measureSteps: 40)
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<8)], config: config)
        let x = Buffer(count: 8)
        x.fill(1)
        t.record(parameters: x, update: x, gradient: x, loss: .nan)
        let report = t.finish()
        #expect(report.divergence != nil)
        #expect(t.weightTemperatures(0..<8) == nil && report.group("w")?.weightTemperatures == nil)
    }

    /// A cell records its first conv layer: the final weights, their T_i, and each filter's T is
    /// the mean of its weights' T_i; every group's histogram counts all its weights.
    @Test func aCellRecordsItsFirstLayer() throws {
        let result = try CellRunnerTests.runner.run(CellRunnerTests().spec(measure: 40), from: CellRunnerTests.start)
        #expect(result.divergence == nil)
        let layer = try #require(result.firstLayerFilters)
        let conv = ModelKind.lenet48.architecture.convs[0]
        #expect(layer.group == "conv1.weight" && layer.filters == conv.outChannels && layer.channels == 1
                && layer.kernelHeight == 5 && layer.kernelWidth == 5 && layer.weights.count == conv.weightCount)
        #expect(layer.weights != Array(CellRunnerTests.start.parameters[0..<conv.weightCount]), "weights not trained")
        let temperatures = try #require(layer.temperatures).map(Double.init)
        let group = try #require(result.thermometer.group(layer.group))
        for filter in group.filters {
            let t = try #require(filter.estimate(.diffusion)?.value)
            let slice = temperatures[(filter.index * layer.filterSize)..<((filter.index + 1) * layer.filterSize)]
            // T_i are stored as Float: agreement to Float precision.
            #expect(relativeError(slice.reduce(0, +) / Double(slice.count), t) < 1e-6, "filter \(filter.index)")
        }
        for g in result.thermometer.groups {
            #expect(g.weightTemperatures?.total == g.count, "\(g.name)")
        }
    }
}
