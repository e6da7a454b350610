import Cell
import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The per-weight temperature (docs/METHOD.md, 4): the `diffusion` estimator restricted to one
// coordinate, T_i = (1 + m) Var_k(Δ_{i,k}) / (2η). The window's per-coordinate Var(Δ_i) is already
// kept for the group estimators, so T_i costs nothing per step; only its block noise needs one
// pass over the coordinates at each block end.

extension Thermometer {
    /// T_i for every coordinate i in `range` over the whole window, in loss units (the group's
    /// `diffusion` is their mean). Read after `finish()`; nil when the run diverged in the window
    /// or fewer than 2 steps were recorded.
    public func weightTemperatures(_ range: Range<Int>) -> [Double]? {
        guard !diverged, windowDelta.samples >= 2 else { return nil }
        precondition(range.lowerBound >= 0 && range.upperBound <= parameterCount,
                     "weightTemperatures: \(range) outside 0..<\(parameterCount)")
        let scale = config.momentumFactor / (Double(windowDelta.samples - 1) * 2 * config.learningRate)
        return range.map { windowDelta.m2($0) * scale }
    }

    /// The histogram of T_i / T_G over `range`, with each T_i's block SE.
    func weightTemperatureHistogram(_ range: Range<Int>) -> WeightTemperatureHistogram? {
        guard let t = weightTemperatures(range) else { return nil }
        return WeightTemperatureHistogram(temperatures: t, seLogT: range.map(blockLogVariance.seLogT))
    }
}

/// Per coordinate, the mean and M2 (Welford) over blocks of ln Var_block(Δ_i), from which
/// SE(ln T_i) = sd_blocks(ln T_{i,block}) / √blocks, as for a group (the constant factor
/// (1 + m)/(2η) does not change the sd).
final class CoordinateLogVariance {
    private var mean: [Double]
    private var m2: [Double]
    private(set) var blocks = 0

    init(count: Int) {
        mean = [Double](repeating: 0, count: count)
        m2 = mean
    }

    /// Adds one closed block (blocks of fewer than 2 steps have no variance and are skipped). A
    /// coordinate whose block variance is 0 gets ln 0 = −∞, and its SE becomes undefined.
    func add(_ block: CoordinateMoments) {
        precondition(block.count == mean.count, "block of \(block.count) coordinates, expected \(mean.count)")
        guard block.samples >= 2 else { return }
        blocks += 1
        let inv = 1 / Double(blocks), norm = 1 / Double(block.samples - 1)
        for i in mean.indices {
            let l = log(block.m2(i) * norm)
            let d = l - mean[i]
            mean[i] += d * inv
            m2[i] += d * (l - mean[i])
        }
    }

    /// SE(ln T_i); nil with fewer than 2 blocks or a block where coordinate `i` did not move.
    func seLogT(_ i: Int) -> Double? {
        guard blocks >= 2 else { return nil }
        let n = Double(blocks)
        let se = (m2[i] / (n - 1) / n).squareRoot()
        return se.isFinite ? se : nil
    }
}
