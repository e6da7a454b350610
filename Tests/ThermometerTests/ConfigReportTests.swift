import Cell
import Foundation
import Kernels
import Testing
import Thermometer
import Trainer

/// Protocol step counts, configuration checks, group layout and the report's JSON form.
@Suite struct ConfigReportTests {
    @Test func protocolStepCounts() {
        #expect(Protocol.burnInSteps(lr: 0.0125) == 800)
        #expect(Protocol.measureSteps(lr: 0.0125) == 800)
        #expect(Protocol.burnInSteps(lr: 0.2) == 500)
        #expect(Protocol.measureSteps(lr: 0.003) == 3334)
        // 10/0.1 is 100.000…01 in binary; ⌈·⌉ must still give 100.
        #expect(Protocol.measureSteps(lr: 0.1, minimumSteps: 0) == 100)
        #expect(Protocol.burnInSteps(lr: 0.05, sdeTime: 50, minimumSteps: 10) == 1000)
        #expect(ThermometerConfig(learningRate: 0.0125, batchSize: 8).measureSteps == 800)
    }

    @Test func invalidConfigsAreRefusedWithTheValue() {
        for bad in [ThermometerConfig(learningRate: 0, batchSize: 8),
                    ThermometerConfig(learningRate: 0.1, batchSize: 0),
                    ThermometerConfig(learningRate: 0.1, batchSize: 8, momentum: 1),
                    ThermometerConfig(learningRate: 0.1, batchSize: 8, measureSteps: 19),
                    ThermometerConfig(learningRate: 0.1, batchSize: 8, blocks: 1)] {
            #expect(throws: ThermometerConfigError.self) {
                _ = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<4)], config: bad)
            }
        }
    }

    @Test func groupsGetNetworkAppendedOnce() throws {
        let groups = [ParameterGroup(name: "a", range: 0..<3), ParameterGroup(name: "b", range: 3..<10)]
        let cfg = ThermometerConfig(learningRate: 0.1, batchSize: 8, measureSteps: 20, blocks: 2)
        let t = try Thermometer(groups: groups, config: cfg)
        #expect(t.groups.map(\.name) == ["a", "b", "network"] && t.parameterCount == 10)
        let u = try Thermometer(groups: groups + [ParameterGroup(name: "network", range: 0..<10)], config: cfg)
        #expect(u.groups.map(\.name) == ["a", "b", "network"])
        let v = try Thermometer(groups: groups, config: cfg, parameterCount: 12)
        #expect(v.groups.last?.range == 0..<12)
    }

    @Test func reportRoundTripsAndNamesEstimators() throws {
        let n = 64
        var sim = QuadraticSGD(lambda: Array(repeating: 1, count: n), sigma2: Array(repeating: 1, count: n),
                               eta: 0.5, batch: 16, seed: 31)
        let t = try Thermometer(groups: [ParameterGroup(name: "conv", range: 0..<n, filterCount: 2)],
                                config: ThermometerConfig(learningRate: 0.5, batchSize: 16,
                                                          measureSteps: 100))
        let r = sim.measure(t, probe: true)
        #expect(t.finish() == r)   // finish() is idempotent
        let data = try JSONEncoder().encode(r)
        let json = String(decoding: data, as: UTF8.self)
        for name in ["\"diffusion\"", "\"kinetic\"", "\"kinetic-sde\"", "\"configurational\"",
                     "\"formatVersion\":1"] {
            #expect(json.contains(name), "missing \(name)")
        }
        #expect(try JSONDecoder().decode(ThermometerReport.self, from: data) == r)
        #expect(r.flags.isEmpty, "\(r.flags)")
    }

    @Test func extraAndMissingStepsAreFlagged() throws {
        let n = 8
        var sim = QuadraticSGD(lambda: Array(repeating: 1, count: n), sigma2: Array(repeating: 1, count: n),
                               eta: 0.5, batch: 16, seed: 2)
        let cfg = ThermometerConfig(learningRate: 0.5, batchSize: 16, measureSteps: 40, blocks: 4,
                                    calibrationPoints: 0)
        let r = sim.measure(try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)], config: cfg), steps: 25)
        // 25 steps of 40: blocks of 10, 10, and a partial 5.
        #expect(r.flags.contains("incomplete-window") && r.blockCount == 3 && r.recordedSteps == 25)
        #expect(r.group("w")?.estimate(.diffusion)?.value != nil)
        let q = sim.measure(try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)], config: cfg), steps: 45)
        #expect(q.flags == ["extra-steps-ignored"] && q.recordedSteps == 40 && q.blockCount == 4)
    }
}
