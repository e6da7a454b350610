import Cell
import Kernels
import Thermometer
import Trainer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SGD (optionally heavy-ball) on L(θ) = Σ_i λ_i θ_i²/2 with batch gradient g_B = λθ + ξ,
/// ξ_i ~ N(0, σ_i²/|B|), simulated in Float32 the way the trainer applies updates.
struct QuadraticSGD {
    let lambda: [Double]
    let sigma2: [Double]
    let eta: Double
    let batch: Int
    let momentum: Double
    /// θ (n), g_B(θ) (n), Δ = θ_{k+1} − θ_k (n)
    let theta: Buffer
    let gradient: Buffer
    let update: Buffer
    private var velocity: [Float]
    var rng: SeededRNG

    var count: Int { lambda.count }

    /// Starts θ_i from the plain-SGD stationary law N(0, ησ²/(|B|λ(2−ηλ))), so a short burn-in
    /// suffices (with momentum the burn-in does the rest).
    init(lambda: [Double], sigma2: [Double], eta: Double, batch: Int, momentum: Double = 0,
         seed: UInt64) {
        precondition(lambda.count == sigma2.count)
        self.lambda = lambda
        self.sigma2 = sigma2
        self.eta = eta
        self.batch = batch
        self.momentum = momentum
        let n = lambda.count
        theta = Buffer(count: n)
        gradient = Buffer(count: n)
        update = Buffer(count: n)
        velocity = Array(repeating: 0, count: n)
        rng = SeededRNG(seed: seed, stream: 0x7175_6164)
        for i in 0..<n {
            let s2 = sigma2[i] / Double(batch)
            let v = eta * s2 / (lambda[i] * (2 - eta * lambda[i]))
            theta[i] = Float(v.squareRoot() * rng.normal())
        }
    }

    /// Fills `gradient` with g_B(θ) and `update` with the step; returns the loss at θ per
    /// coordinate (the mean keeps it far under the ln 10 divergence limit).
    mutating func prepareStep() -> Double {
        var loss = 0.0
        for i in 0..<count {
            let t = Double(theta[i])
            let g = lambda[i] * t + (sigma2[i] / Double(batch)).squareRoot() * rng.normal()
            gradient[i] = Float(g)
            let v = Float(momentum) * velocity[i] - Float(eta * g)
            velocity[i] = v
            update[i] = v
            loss += lambda[i] * t * t / 2
        }
        return loss / Double(count)
    }

    /// θ += Δ, after `prepareStep`.
    func applyStep() {
        for i in 0..<count { theta[i] += update[i] }
    }

    /// One probe-batch gradient λθ + ζ, ζ_i ~ N(0, σ_i²/probeBatch), at the current (frozen) θ.
    mutating func probeGradient(into g: Buffer, probeBatch: Int) {
        for i in 0..<count {
            g[i] = Float(lambda[i] * Double(theta[i])
                         + (sigma2[i] / Double(probeBatch)).squareRoot() * rng.normal())
        }
    }

    mutating func burnIn(steps: Int) {
        for _ in 0..<steps {
            _ = prepareStep()
            applyStep()
        }
    }

    /// Runs the thermometer's whole window (or `steps` steps), probing 16 batches of 32 at its
    /// calibration steps when `probe` is set.
    mutating func measure(_ thermometer: Thermometer, probe: Bool = false, steps: Int? = nil) -> ThermometerReport {
        let probeBuffer = Buffer(count: count)
        for _ in 0..<(steps ?? thermometer.config.measureSteps) {
            if probe && thermometer.calibrationDue {
                thermometer.beginProbe()
                for _ in 0..<16 {
                    probeGradient(into: probeBuffer, probeBatch: 32)
                    thermometer.addProbeGradient(probeBuffer, probeBatchSize: 32)
                }
                thermometer.endProbe()
            }
            let loss = prepareStep()
            thermometer.record(parameters: theta, update: update, gradient: gradient, loss: loss)
            applyStep()
        }
        return thermometer.finish()
    }
}

/// Closed forms for plain SGD on one quadratic mode (a = 1 − ηλ, s² = σ²/|B|):
/// Var θ = ηs²/(λ(2−ηλ)); Δ = −ηλθ − ηξ so E Δ² = η²s²·2/(2−ηλ) and the diffusion estimator's
/// target E Δ²/(2η) = ηs²/(2−ηλ) = (ηs²/2)/(1−ηλ/2); ⟨θ·g⟩ = λ Var θ = E Δ²/(2η) (FDR = 1).
enum QuadraticTheory {
    static func varianceTheta(eta: Double, lambda: Double, s2: Double) -> Double {
        eta * s2 / (lambda * (2 - eta * lambda))
    }
    static func meanSquareDelta(eta: Double, lambda: Double, s2: Double) -> Double {
        eta * eta * s2 * 2 / (2 - eta * lambda)
    }
    static func diffusion(eta: Double, lambda: Double, s2: Double) -> Double {
        (eta * s2 / 2) / (1 - eta * lambda / 2)
    }

    /// E[unbiased sample variance] of K consecutive values of a stationary series with variance
    /// γ₀ and autocorrelation ρ(h): (Kγ₀ − K·Var(x̄)) / (K − 1),
    /// Var(x̄) = γ₀/K² · (K + 2 Σ_{h=1}^{K−1} (K − h) ρ(h)).
    static func expectedSampleVariance(gamma0: Double, steps k: Int, rho: (Int) -> Double) -> Double {
        var s = 0.0
        for h in 1..<k { s += Double(k - h) * rho(h) }
        let varMean = gamma0 / Double(k * k) * (Double(k) + 2 * s)
        return (Double(k) * gamma0 - Double(k) * varMean) / Double(k - 1)
    }

    /// E of the thermometer's window `configurational` for one mode: θ is AR(1), ρ(h) = aʰ.
    static func windowConfigurational(eta: Double, lambda: Double, s2: Double, steps: Int) -> Double {
        let a = 1 - eta * lambda
        return expectedSampleVariance(gamma0: varianceTheta(eta: eta, lambda: lambda, s2: s2),
                                      steps: steps) { pow(a, Double($0)) }
    }

    /// E of the window `diffusion` for one mode: Δ has ρ(h) = −(1−a)a^(h−1)/2 for h ≥ 1.
    static func windowDiffusion(eta: Double, lambda: Double, s2: Double, steps: Int) -> Double {
        let a = 1 - eta * lambda
        let v = expectedSampleVariance(gamma0: meanSquareDelta(eta: eta, lambda: lambda, s2: s2),
                                       steps: steps) { -(1 - a) * pow(a, Double($0 - 1)) / 2 }
        return v / (2 * eta)
    }
}

func relativeError(_ x: Double?, _ y: Double) -> Double {
    guard let x else { return .infinity }
    return abs(x - y) / abs(y)
}

func value(_ report: ThermometerReport, _ group: String, _ e: Estimator) -> Double? {
    report.group(group)?.estimate(e)?.value
}
