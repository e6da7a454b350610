#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rules of the three group flags that judge a measurement (`configurational-correlated`,
/// `fdr-out-of-range`, `calibration-out-of-range`; docs/METHOD.md, 7). They live here, in the module
/// the worker and the exports share, so a worker measuring a run and an export reading a stored
/// result (of any release) decide each flag from the same numbers in the same way.
public enum FlagRules {
    /// Standard errors a value must lie beyond its expected range to be flagged.
    public static let standardErrors = 2.0

    // MARK: Fluctuation–dissipation ratio

    /// The range of FDR = 1 − (‖θ_end‖² − ‖θ_start‖²) / Σ‖Δ‖² that noise-driven motion gives:
    /// 1 in a stationary state, 0 where the gradient has no component along θ (a random walk; the
    /// norm of a group with a scale symmetry grows this way, and there is no weight decay), and
    /// between them for a state that relaxes towards stationarity. Below 0 the mean gradient pushes
    /// the norm outwards, above 1 it pulls it in: the group drifts (docs/METHOD.md, 5).
    public static let fdrRange: ClosedRange<Double> = 0...1

    /// True when `fdr` lies outside `fdrRange` by more than `standardErrors` × its block SE (an
    /// absent SE, as in results written before it was recorded, counts as 0).
    public static func fdrOutOfRange(_ fdr: Double?, standardError: Double?) -> Bool {
        guard let fdr else { return false }
        let margin = standardErrors * (standardError ?? 0)
        return fdr < fdrRange.lowerBound - margin || fdr > fdrRange.upperBound + margin
    }

    /// SE of the ratio Σ N_j / Σ D_j of block sums (numerators N_j, denominators D_j), treating the
    /// blocks as independent: √(Σ_j (N_j − R D_j)² / (n(n − 1))) / mean D (the delta method for a
    /// ratio estimator). nil with fewer than 2 blocks or a zero denominator.
    public static func ratioStandardError(numerators: [Double], denominators: [Double]) -> Double? {
        let n = min(numerators.count, denominators.count)
        guard n >= 2 else { return nil }
        let sumN = numerators.prefix(n).reduce(0, +), sumD = denominators.prefix(n).reduce(0, +)
        guard sumD != 0 else { return nil }
        let ratio = sumN / sumD
        var squares = 0.0
        for j in 0..<n {
            let r = numerators[j] - ratio * denominators[j]
            squares += r * r
        }
        let se = (squares / Double(n * (n - 1))).squareRoot() / (sumD / Double(n))
        return se.isFinite ? se : nil
    }

    // MARK: Calibration ratio

    /// Largest calibration ratio a stationary SGD explains: 1/(1 − ηλ/2) = 2 at ηλ = 1, half the
    /// stability limit ηλ = 2 of the stiffest mode.
    public static let calibrationCeiling = 2.0

    /// True when the calibration ratio is below 1 by more than `standardErrors` × `seLog`, its SE of
    /// ln (finite η only raises it: 1/(1 − ηλ/2) ≥ 1), or above `calibrationCeiling`.
    public static func calibrationOutOfRange(_ ratio: Double?, seLog: Double?) -> Bool {
        guard let ratio else { return false }
        guard ratio > 0 else { return true }
        return log(ratio) < -standardErrors * (seLog ?? 0) || ratio > calibrationCeiling
    }

    // MARK: Configurational estimator

    /// mean_j T_j / T over the usable blocks of `configurational`; nil without a positive window value
    /// or any finite block value.
    public static func blockRatio(window: Double?, blocks: [Double?]) -> Double? {
        let values = blocks.compactMap { $0 }.filter(\.isFinite)
        guard let window, window > 0, window.isFinite, !values.isEmpty else { return nil }
        return values.reduce(0, +) / Double(values.count) / window
    }

    /// The block ratio of a random walk (τ → ∞): a walk's sample variance over n steps is (n + 1)/6
    /// times its step variance, so blocks of K/b steps give (K/b + 1)/(K + 1).
    public static func randomWalkBlockRatio(windowSteps: Int, blocks: Int) -> Double {
        let k = Double(windowSteps)
        return (k / Double(max(blocks, 1)) + 1) / (k + 1)
    }

    /// True when the block ratio of `configurational` is below a random walk's: θ does not fluctuate
    /// about a position within the window but drifts, and no correlation time describes it.
    public static func configurationalCorrelated(window: Double?, blocks: [Double?], windowSteps: Int) -> Bool {
        guard let ratio = blockRatio(window: window, blocks: blocks) else { return false }
        return ratio < randomWalkBlockRatio(windowSteps: windowSteps, blocks: blocks.count)
    }

    /// E[s²_n] / Var for n consecutive values of a stationary AR(1) series with lag-1 correlation ρ:
    /// 1 − (2/(n(n − 1))) Σ_{k=1}^{n−1} (n − k) ρ^k (the sample variance is biased low by ≈ 2τ/n).
    public static func varianceFraction(steps n: Int, rho: Double) -> Double {
        guard n >= 2 else { return 0 }
        var sum = 0.0, power = 1.0
        for k in 1..<n {
            power *= rho
            sum += Double(n - k) * power
        }
        return 1 - 2 * sum / Double(n * (n - 1))
    }

    /// The correlation time τ (steps; ρ = e^(−1/τ)) of the AR(1) series whose block ratio
    /// f(K/b, ρ) / f(K, ρ) equals `ratio`; nil when the ratio is at or below a random walk's (no
    /// finite τ) or not below 1.
    public static func correlationTime(blockRatio ratio: Double, windowSteps: Int, blocks: Int) -> Double? {
        let blockSteps = windowSteps / max(blocks, 1)
        guard blockSteps >= 2, ratio < 1,
              ratio > randomWalkBlockRatio(windowSteps: windowSteps, blocks: blocks) else { return nil }
        func model(_ tau: Double) -> Double {
            let rho = exp(-1 / tau)
            return varianceFraction(steps: blockSteps, rho: rho) / varianceFraction(steps: windowSteps, rho: rho)
        }
        // The model ratio falls monotonically from 1 (τ → 0) to the random walk's (τ → ∞).
        var lo = log(1e-3), hi = log(1e7)
        guard model(exp(hi)) < ratio else { return nil }
        for _ in 0..<80 {
            let mid = (lo + hi) / 2
            if model(exp(mid)) > ratio { lo = mid } else { hi = mid }
        }
        return exp((lo + hi) / 2)
    }
}

extension GroupReport {
    /// The flags that `FlagRules` decides.
    public static let judgedFlags: Set<GroupFlag> = [.configurationalCorrelated, .fdrOutOfRange, .calibrationOutOfRange]

    /// This group with its judged flags decided again by `FlagRules` from its own numbers (window of
    /// `windowSteps` steps); every other flag is kept, in order, and the judged ones follow.
    public func judgingFlags(windowSteps: Int) -> GroupReport {
        var kept = flags.filter { !Self.judgedFlags.contains($0) }
        let configurational = estimate(.configurational)
        if FlagRules.configurationalCorrelated(window: configurational?.value,
                                               blocks: configurational?.blockValues ?? [],
                                               windowSteps: windowSteps) {
            kept.append(.configurationalCorrelated)
        }
        if FlagRules.fdrOutOfRange(fluctuationDissipationRatio, standardError: fluctuationDissipationStandardError) {
            kept.append(.fdrOutOfRange)
        }
        // Results written before the calibration SE was recorded have the diffusion part of it only.
        if FlagRules.calibrationOutOfRange(calibrationRatio,
                                           seLog: calibrationStandardErrorOfLog ?? estimate(.diffusion)?.seLogT) {
            kept.append(.calibrationOutOfRange)
        }
        var judged = self
        judged.flags = kept
        return judged
    }
}

extension CellResult {
    /// This result with every group's judged flags decided by `FlagRules` (the exports read results
    /// through this, so a journal of an earlier release gets today's rules).
    public func judgingFlags() -> CellResult {
        var judged = self
        judged.thermometer.groups = thermometer.groups.map { $0.judgingFlags(windowSteps: thermometer.recordedSteps) }
        return judged
    }
}
