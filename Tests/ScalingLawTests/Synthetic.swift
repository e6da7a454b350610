#if canImport(Glibc)
import Cell
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ScalingLaw

/// A synthetic sweep from a known law, with known Gaussian noise in ln T.
///
/// Each (cell, seed) run is simulated as 10 measurement blocks with ln T_k = μ + √10 σ ε_k, so
/// ln T = mean of the blocks has SD σ exactly and SE(ln T) = sd(blocks)/√10 is a consistent
/// 9-dof estimate of σ: the block SEs are what a real window would report.
struct SyntheticSweep {
    var a = 1.0
    var b = -1.0
    var c = -5.0
    /// Added to ln T: curvature · (ln η − mean ln η)².
    var curvature = 0.0
    var etas = [0.0125, 0.025, 0.05, 0.1, 0.2]
    var batches = [8, 16, 32, 64, 128]
    var seeds = 3
    /// SD of a shared per-seed offset (a warm-start effect common to all cells of a seed).
    var seedEffect = 0.0
    /// Report the true σ as the block SE instead of estimating it from the blocks.
    var exactBlockSE = false
    /// Multiplies the reported block SE (< 1 mimics correlated blocks, which understate it).
    var blockSEFactor = 1.0
    /// Per-run noise SD of ln T; heteroscedastic so that the weights matter.
    var sigma: (Double, Int) -> Double = { eta, batch in
        0.02 * (128 / Double(batch)).squareRoot().squareRoot() * (1 + 2 * eta)
    }

    /// One seed that reports the true σ (times `blockSEFactor`) as its block SE, so that nothing
    /// but the block SEs sets the noise level.
    static func oneSeedWithTrueBlockSE(blockSEFactor: Double = 1) -> SyntheticSweep {
        var sweep = SyntheticSweep()
        sweep.seeds = 1
        sweep.exactBlockSE = true
        sweep.blockSEFactor = blockSEFactor
        return sweep
    }

    func logLaw(_ eta: Double, _ batch: Int) -> Double {
        let meanLnEta = etas.map(log).reduce(0, +) / Double(etas.count)
        let u = log(eta) - meanLnEta
        return c + a * log(eta) + b * log(Double(batch)) + curvature * u * u
    }

    func observations(seed: UInt64) -> [Observation] {
        var rng = SplitMix64(seed: seed)
        let offsets = (0..<seeds).map { _ in seedEffect * rng.gaussian() }
        var out: [Observation] = []
        for eta in etas {
            for batch in batches {
                let s = sigma(eta, batch)
                for seed in 0..<seeds {
                    var blocks = [Double](repeating: 0, count: 10)
                    for k in 0..<10 { blocks[k] = 10.0.squareRoot() * s * rng.gaussian() }
                    let mean = blocks.reduce(0, +) / 10
                    let ss = blocks.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
                    let sd = (ss / 9).squareRoot()
                    let y = logLaw(eta, batch) + offsets[seed] + mean
                    out.append(Observation(eta: eta, batchSize: batch, seed: seed,
                                           temperature: exp(y),
                                           blockStandardErrorOfLog: blockSEFactor
                                               * (exactBlockSE ? s : sd / 10.0.squareRoot())))
                }
            }
        }
        return out
    }
}

extension SplitMix64 {
    /// Standard normal by Box–Muller.
    mutating func gaussian() -> Double {
        let u1 = 1 - uniform(), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// Fewer repetitions in debug builds, where the statistics tests run ~20× slower; release builds
/// (CI, `make test`) always use the full count.
func repetitions(release: Int, debug: Int) -> Int {
    #if DEBUG
    return debug
    #else
    return release
    #endif
}
