import Cell
import Kernels
import Testing
import Thermometer
import Trainer

/// Per-filter estimators: the same four estimators over each `filterRange` of a group.
@Suite struct FilterTests {
    func run(sigma2: [Double], seed: UInt64) throws -> ThermometerReport {
        let eta = 0.5, batch = 16
        let n = sigma2.count
        var sim = QuadraticSGD(lambda: Array(repeating: 1, count: n), sigma2: sigma2, eta: eta,
                               batch: batch, seed: seed)
        sim.burnIn(steps: 50)
        // conv.weight (4 filters of 64) then conv.bias (4).
        let groups = [ParameterGroup(name: "conv.weight", range: 0..<256, filterCount: 4),
                      ParameterGroup(name: "conv.bias", range: 256..<260)]
        let t = try Thermometer(groups: groups,
                                config: ThermometerConfig(learningRate: eta, batchSize: batch,
                                                          measureSteps: 500))
        return sim.measure(t, probe: true)
    }

    @Test func identicalFiltersMatchTheirGroup() throws {
        let report = try run(sigma2: Array(repeating: 1, count: 260), seed: 11)
        let group = try #require(report.group("conv.weight"))
        #expect(group.filters.count == 4 && group.filters.allSatisfy { $0.count == 64 })
        #expect(report.group("conv.bias")?.filters.isEmpty == true)
        for e in Estimator.allCases {
            let whole = try #require(group.estimate(e)?.value)
            for f in group.filters {
                let v = try #require(f.estimate(e)?.value)
                #expect(relativeError(v, whole) < 0.05, "filter \(f.index) \(e.rawValue) \(v) vs \(whole)")
                #expect(f.estimate(e)?.seLogT != nil)
            }
            // The group's window estimators are n-weighted means of its filters'.
            let mean = group.filters.compactMap { $0.estimate(e)?.value }.reduce(0, +) / 4
            #expect(relativeError(mean, whole) < 1e-12)
        }
        for f in group.filters {
            #expect(relativeError(f.calibrationRatio, 4.0 / 3) < 0.05)
            #expect(relativeError(f.fluctuationDissipationRatio, 1) < 0.05)
        }
    }

    @Test func filterTemperaturesFollowTheirNoise() throws {
        // Filter f has σ² = 2^f / 2: diffusion, kinetic and configurational scale with σ².
        let sigma2 = (0..<260).map { i in i < 256 ? Double(1 << (i / 64)) / 2 : 1 }
        let report = try run(sigma2: sigma2, seed: 12)
        let group = try #require(report.group("conv.weight"))
        for e in Estimator.allCases {
            let base = try #require(group.filters[0].estimate(e)?.value)
            for f in group.filters.dropFirst() {
                let ratio = try #require(f.estimate(e)?.value) / base
                #expect(relativeError(ratio, Double(1 << f.index)) < 0.05,
                        "filter \(f.index) \(e.rawValue) ratio \(ratio)")
            }
        }
        let d0 = try #require(group.filters[0].estimate(.diffusion)?.value)
        #expect(relativeError(d0, QuadraticTheory.diffusion(eta: 0.5, lambda: 1, s2: 0.5 / 16)) < 0.05)
        for f in group.filters {
            #expect(relativeError(f.noiseVariance, Double(1 << f.index) / 2) < 0.06)
            #expect(relativeError(f.calibrationRatio, 4.0 / 3) < 0.05)
        }
    }
}
