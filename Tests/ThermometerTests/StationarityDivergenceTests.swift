import Cell
import Foundation
import Kernels
import Testing
import Thermometer
import Trainer

/// Stationarity of the loss over the window, and divergence handling.
@Suite struct StationarityDivergenceTests {
    /// Feeds K steps of a small quadratic with the given per-step loss; `corrupt` may damage Δ.
    func run(steps: Int = 500, loss: (Int, inout SeededRNG) -> Double,
             corrupt: (Int, Buffer) -> Void = { _, _ in }) throws -> (Thermometer, ThermometerReport) {
        var sim = QuadraticSGD(lambda: Array(repeating: 1, count: 16), sigma2: Array(repeating: 1, count: 16),
                               eta: 0.5, batch: 16, seed: 8)
        var rng = SeededRNG(seed: 9)
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<16)],
                                config: ThermometerConfig(learningRate: 0.5, batchSize: 16,
                                                          measureSteps: steps))
        for k in 0..<steps {
            _ = sim.prepareStep()
            corrupt(k, sim.update)
            t.record(parameters: sim.theta, update: sim.update, gradient: sim.gradient,
                     loss: loss(k, &rng))
            sim.applyStep()
        }
        return (t, t.finish())
    }

    @Test func stationaryLossPasses() throws {
        let (_, r) = try run { _, rng in 0.5 + 0.1 * rng.normal() }
        #expect(r.loss.stationary == true)
        let se = try #require(r.loss.differenceStandardError)
        // Block means of white noise with sd 0.1 over 50 steps: SE of the half difference
        // ≈ 0.1·√(2/250) ≈ 0.0089.
        #expect(se > 0.0089 / 2 && se < 0.0089 * 2, "SE \(se)")
        #expect(r.loss.blockMeans.count == 10)
        #expect(relativeError(r.loss.mean, 0.5) < 0.01)
    }

    @Test func driftingLossIsFlagged() throws {
        // A drift of 0.1 over the window under noise of sd 0.1 per step: the half means differ by
        // ≈ 0.05, about 5 SE.
        let (_, r) = try run { k, rng in 0.5 - 0.1 * Double(k) / 500 + 0.1 * rng.normal() }
        #expect(r.loss.stationary == false)
        let first = try #require(r.loss.firstHalfMean), second = try #require(r.loss.secondHalfMean)
        #expect(first > second)
    }

    @Test func nanUpdateIsDivergenceAndJSONStaysFinite() throws {
        let (t, r) = try run(loss: { _, _ in 0.5 }, corrupt: { k, d in if k == 7 { d[3] = .nan } })
        #expect(r.divergence == DivergenceReason(kind: .nonFiniteUpdate, step: 7, value: nil))
        #expect(t.diverged && r.recordedSteps == 7 && r.flags.contains("diverged"))
        for g in r.groups {
            #expect(g.flags.contains(.diverged))
            #expect(g.estimates.allSatisfy { $0.value == nil && $0.seLogT == nil })
            #expect(g.fluctuationDissipationRatio == nil)
        }
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        #expect(!json.lowercased().contains("nan") && !json.lowercased().contains("inf"))
        #expect(json.contains("non-finite-update"))
        #expect(try JSONDecoder().decode(ThermometerReport.self, from: Data(json.utf8)) == r)
    }

    @Test func infiniteUpdateAndLossAreDivergence() throws {
        let (_, a) = try run(loss: { _, _ in 0.5 }, corrupt: { k, d in if k == 300 { d[15] = .infinity } })
        #expect(a.divergence?.kind == .nonFiniteUpdate && a.divergence?.step == 300)
        let (_, b) = try run(loss: { k, _ in k == 42 ? .nan : 0.5 })
        #expect(b.divergence?.kind == .nonFiniteLoss && b.divergence?.step == 42)
        #expect(b.loss.mean == 0.5)
        _ = try JSONEncoder().encode(b)
    }

    @Test func lossAboveLn10IsJudgedOnChunkMeans() throws {
        // One terrible batch is not divergence; a chunk whose mean is above ln 10 is.
        let (_, spike) = try run { k, _ in k == 120 ? 50 : 0.5 }
        #expect(spike.divergence == nil)
        let (_, high) = try run { k, _ in k < 200 ? 0.5 : 2.4 }
        #expect(high.divergence?.kind == .lossAboveLimit && high.divergence?.step == 249)
        #expect(relativeError(high.divergence?.value, 2.4) < 1e-12)
    }

    @Test func accuracyCheck() {
        var c = DivergenceCheck(chunkLength: 10)
        c.observe(accuracy: 0.5)
        #expect(!c.diverged)
        c.observe(accuracy: 0.19)
        #expect(c.reason?.kind == .accuracyBelowLimit && c.reason?.value == 0.19)
        var d = DivergenceCheck(chunkLength: 10)
        d.observe(accuracy: .nan)
        #expect(d.reason == DivergenceReason(kind: .accuracyBelowLimit, step: nil, value: nil))
        // The first reason is kept.
        d.observe(loss: .nan, step: 3)
        #expect(d.reason?.kind == .accuracyBelowLimit)
    }
}
