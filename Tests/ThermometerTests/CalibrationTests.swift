import Cell
import Kernels
import Testing
import Thermometer
import Trainer

/// Noise calibration: σ̄²_G from probe gradients and the ratio diffusion / (ησ̄²/2|B|).
///
/// On the quadratic the probe gradient at frozen θ is λθ + ζ with ζ_i ~ N(0, σ²/32): λθ is the
/// same for all 16 probes, so 32 × the unbiased variance over probes has expectation σ² exactly,
/// and the ratio's expectation is E[diffusion]/(ησ²/2|B|) = 1/(1 − ηλ/2) (up to a Jensen term
/// of order 1/(4·15·n), here < 0.1 %). The probes are few (4 points × 16), so σ̄² carries a
/// relative sd of √(2/(4·15·n_G)) (1.6 % for n_G = 128), more than the diffusion's √(2/(n_G K));
/// the tolerance is 3 of those combined sds rather than a flat 3 %.
@Suite struct CalibrationTests {
    @Test func calibrationPointsAreMidpointsOfQuarters() throws {
        #expect(Thermometer.calibrationPoints(measureSteps: 500) == [62, 187, 312, 437])
        #expect(Thermometer.calibrationPoints(measureSteps: 800, count: 2) == [200, 600])
        #expect(Thermometer.calibrationPoints(measureSteps: 500, count: 0) == [])
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<4)],
                                config: ThermometerConfig(learningRate: 0.1, batchSize: 8,
                                                          measureSteps: 1000))
        #expect(t.calibrationSteps == [125, 375, 625, 875])
    }

    @Test(arguments: [(0.5, 1.0), (0.05, 1.0), (0.2, 4.0)])
    func ratioMatchesFiniteEtaExpectation(eta: Double, lambda: Double) throws {
        let n = 256, batch = 16
        // Two groups with σ² = 1 and 4: σ̄² must follow each group's own noise.
        let sigma2 = (0..<n).map { $0 < n / 2 ? 1.0 : 4.0 }
        var sim = QuadraticSGD(lambda: Array(repeating: lambda, count: n), sigma2: sigma2, eta: eta,
                               batch: batch, seed: 77 &+ UInt64(eta * 100) &* 31 &+ UInt64(lambda))
        sim.burnIn(steps: 50)
        let groups = [ParameterGroup(name: "quiet", range: 0..<(n / 2)),
                      ParameterGroup(name: "loud", range: (n / 2)..<n)]
        let t = try Thermometer(groups: groups,
                                config: ThermometerConfig(learningRate: eta, batchSize: batch,
                                                          measureSteps: 500))
        let report = sim.measure(t, probe: true)
        #expect(report.calibrationPointCount == 4 && !report.flags.contains("calibration-incomplete"))
        let expected = 1 / (1 - eta * lambda / 2)
        for (name, s2) in [("quiet", 1.0), ("loud", 4.0), ("network", 2.5)] {
            let g = try #require(report.group(name))
            let probeSD = (2 / (4 * 15 * Double(g.count))).squareRoot()
            let diffusionSD = (2 / (500 * Double(g.count))).squareRoot()
            let tolerance = 3 * (probeSD * probeSD + diffusionSD * diffusionSD).squareRoot()
            #expect(relativeError(g.noiseVariance, s2) < 3 * probeSD,
                    "\(name) σ̄² \(String(describing: g.noiseVariance))")
            #expect(relativeError(g.calibrationRatio, expected) < tolerance,
                    "\(name) ratio \(String(describing: g.calibrationRatio)) vs \(expected)")
            // 1/(1 − ηλ/2) lies in [1, 2] for ηλ ≤ 1: not flagged. The recorded SE(ln calib) is the
            // analytic spread within the scatter of an SE from 4 points.
            #expect(!g.flags.contains(.calibrationOutOfRange), "\(name): \(g.flags)")
            let se = try #require(g.calibrationStandardErrorOfLog)
            #expect(se > 0.3 * tolerance / 3 && se < 3 * tolerance / 3, "\(name): SE \(se), analytic \(tolerance / 3)")
        }
    }

    @Test func closureAndArrayFormsAgreeWithStreaming() throws {
        let n = 40
        var rng = SeededRNG(seed: 3)
        let probes = (0..<16).map { _ in Buffer((0..<n).map { _ in Float(rng.normal()) }) }
        func make() throws -> Thermometer {
            try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)],
                            config: ThermometerConfig(learningRate: 0.1, batchSize: 8, measureSteps: 20,
                                                      blocks: 2, calibrationPoints: 1))
        }
        let a = try make(), b = try make()
        a.addCalibrationProbe(gradients: probes, probeBatchSize: 32)
        b.calibrate(probes: 16, probeBatchSize: 32) { probes[$0] }
        let zero = Buffer(count: n)
        for k in 0..<20 {
            for t in [a, b] {
                t.record(parameters: probes[k % 16], update: probes[(k + 1) % 16], gradient: zero, loss: 1)
            }
        }
        let ra = a.finish(), rb = b.finish()
        #expect(ra.group("w")?.noiseVariance == rb.group("w")?.noiseVariance)
        // Two-pass reference: 32 × mean over coordinates of the unbiased variance over probes.
        var ref = 0.0
        for i in 0..<n {
            let x = probes.map { Double($0[i]) }
            let m = x.reduce(0, +) / 16
            ref += x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 15
        }
        ref = 32 * ref / Double(n)
        #expect(relativeError(ra.group("w")?.noiseVariance, ref) < 1e-12)
    }

    @Test func badProbesAreFlaggedNotFatal() throws {
        let n = 16
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)],
                                config: ThermometerConfig(learningRate: 0.1, batchSize: 8, measureSteps: 20,
                                                          blocks: 2))
        let nan = Buffer(count: n)
        nan[3] = .nan
        t.addCalibrationProbe(gradients: [nan, Buffer(count: n)], probeBatchSize: 32)
        var rng = SeededRNG(seed: 1)
        let theta = Buffer(count: n), delta = Buffer(count: n)
        for _ in 0..<20 {
            for i in 0..<n { theta[i] = Float(rng.normal()); delta[i] = Float(rng.normal()) }
            t.record(parameters: theta, update: delta, gradient: theta, loss: 0.5)
        }
        let r = t.finish()
        #expect(r.flags.contains("probe-non-finite-gradient"))
        #expect(r.flags.contains("probe-too-few-gradients"))
        #expect(r.flags.contains("calibration-incomplete"))
        #expect(r.group("w")?.calibrationRatio == nil)
        #expect(r.group("w")?.flags.contains(.noCalibration) == true)
        #expect(r.group("w")?.estimate(.diffusion)?.value != nil)
    }
}
