import Cell
import Kernels
import Testing
import Thermometer
import Trainer

/// Heavy-ball momentum: the (1+m) factor on the velocity estimators.
///
/// With v_{k+1} = m v_k − η(λθ_k + ξ), θ_{k+1} = θ_k + v_{k+1}, the state z = (θ, v) follows
/// z' = A z + b ξ, A = [[1−ηλ, m], [−ηλ, m]], b = (−η, −η); its stationary covariance Σ solves
/// Σ = AΣAᵀ + s² bbᵀ (computed here by iteration). For this linear model (1+m)Σ_vv/(2η) = λΣ_θθ
/// holds exactly at every η, which is why the reported diffusion carries (1+m) while
/// configurational does not, and why the momentum FDR ⟨θ·g⟩/((1+m)⟨Δ²⟩/2η) is 1.
@Suite struct MomentumTests {
    /// Stationary covariance and lag-h covariances A^h Σ.
    struct Stationary {
        var s: [[Double]]
        let a: [[Double]]
        init(eta: Double, m: Double, lambda: Double, s2: Double) {
            a = [[1 - eta * lambda, m], [-eta * lambda, m]]
            s = [[0, 0], [0, 0]]
            for _ in 0..<20_000 {
                let as_ = Stationary.mul(a, s)
                var next = Stationary.mul(as_, [[a[0][0], a[1][0]], [a[0][1], a[1][1]]])
                for i in 0..<2 { for j in 0..<2 { next[i][j] += s2 * eta * eta } }
                s = next
            }
        }
        static func mul(_ x: [[Double]], _ y: [[Double]]) -> [[Double]] {
            (0..<2).map { i in (0..<2).map { j in x[i][0] * y[0][j] + x[i][1] * y[1][j] } }
        }
        func lagged(_ h: Int) -> [[Double]] {
            var c = s
            for _ in 0..<h { c = Stationary.mul(a, c) }
            return c
        }
    }

    @Test func estimatorsMatchExactHeavyBall() throws {
        let n = 200, eta = 0.1, m = 0.5, lambda = 1.0, batch = 16, steps = 1000
        var sim = QuadraticSGD(lambda: Array(repeating: lambda, count: n),
                               sigma2: Array(repeating: 1, count: n), eta: eta, batch: batch,
                               momentum: m, seed: 4242)
        sim.burnIn(steps: 300)
        let t = try Thermometer(groups: [ParameterGroup(name: "w", range: 0..<n)],
                                config: ThermometerConfig(learningRate: eta, batchSize: batch,
                                                          momentum: m, measureSteps: steps))
        let report = sim.measure(t, probe: true)
        let st = Stationary(eta: eta, m: m, lambda: lambda, s2: 1.0 / Double(batch))
        let svv = st.s[1][1], stt = st.s[0][0]
        #expect(relativeError((1 + m) * svv / (2 * eta), lambda * stt) < 1e-9)

        // Window expectations with the exact autocorrelations (θ is slow here: ηλ/(1−m) = 0.2).
        var lags = [Double](repeating: 0, count: steps)
        var lagsV = lags
        var c = st.s
        for h in 0..<steps {
            lags[h] = c[0][0] / stt
            lagsV[h] = c[1][1] / svv
            c = Stationary.mul(st.a, c)
        }
        let winTheta = QuadraticTheory.expectedSampleVariance(gamma0: stt, steps: steps) { lags[$0] }
        let winV = QuadraticTheory.expectedSampleVariance(gamma0: svv, steps: steps) { lagsV[$0] }
        #expect(relativeError(value(report, "w", .diffusion), (1 + m) * winV / (2 * eta)) < 0.03)
        #expect(relativeError(value(report, "w", .kinetic), (1 + m) * svv) < 0.03)
        #expect(relativeError(value(report, "w", .configurational), winTheta) < 0.04)
        let fdr = try #require(report.group("w")?.fluctuationDissipationRatio)
        #expect(abs(fdr - 1) < 0.03, "momentum FDR \(fdr)")
        // Calibration uses η_eff = η/(1−m): ratio = (1+m)Σ_vv/(2η) / (η_eff σ²/2|B|).
        let expectedRatio = (1 + m) * svv / (2 * eta) / (eta / (1 - m) / Double(batch) / 2)
        #expect(relativeError(report.group("w")?.calibrationRatio, expectedRatio) < 0.04)
    }
}
