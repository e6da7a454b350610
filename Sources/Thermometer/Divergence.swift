#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Cell

/// Flags a diverged run: NaN/Inf in the loss or the update, training loss above ln 10 after
/// burn-in, or final accuracy under 20 %.
///
/// The loss test uses the mean over consecutive chunks of `chunkLength` steps, not single steps: at
/// |B| = 8 a healthy run's single-batch loss exceeds ln 10 now and then, while a chunk mean above
/// ln 10 (the loss of a uniform guess over 10 classes) means the run has lost what it learned.
/// The Thermometer uses its block length ⌊K_meas/blocks⌋ as the chunk. NaN/Inf fail at once.
/// The first reason found is kept; later observations do not overwrite it.
public struct DivergenceCheck: Sendable {
    /// ln 10: cross-entropy of a uniform guess over 10 classes.
    public static let defaultLossLimit = log(10.0)
    /// 20 % accuracy (chance is 10 %).
    public static let defaultAccuracyLimit = 0.2

    public let lossLimit: Double
    public let accuracyLimit: Double
    public let chunkLength: Int
    /// The first reason found, or nil while the run looks healthy.
    public private(set) var reason: DivergenceReason?
    private var chunkSum = 0.0
    private var chunkCount = 0

    /// A check that averages the loss over chunks of `chunkLength` steps.
    public init(chunkLength: Int, lossLimit: Double = defaultLossLimit,
                accuracyLimit: Double = defaultAccuracyLimit) {
        precondition(chunkLength >= 1, "chunk length must be >= 1, got \(chunkLength)")
        self.chunkLength = chunkLength
        self.lossLimit = lossLimit
        self.accuracyLimit = accuracyLimit
    }

    /// Whether a reason has been found.
    public var diverged: Bool { reason != nil }

    /// Observes one step's training loss (after burn-in).
    public mutating func observe(loss: Double, step: Int) {
        guard reason == nil else { return }
        guard loss.isFinite else {
            reason = DivergenceReason(kind: .nonFiniteLoss, step: step, value: nil)
            return
        }
        chunkSum += loss
        chunkCount += 1
        if chunkCount == chunkLength {
            let mean = chunkSum / Double(chunkCount)
            if mean > lossLimit {
                reason = DivergenceReason(kind: .lossAboveLimit, step: step, value: mean)
            }
            chunkSum = 0
            chunkCount = 0
        }
    }

    /// Observes a step's Σ Δ² (or any sum over the update): non-finite means NaN/Inf in Δ.
    public mutating func observe(updateSumOfSquares: Double, step: Int) {
        guard reason == nil, !updateSumOfSquares.isFinite else { return }
        reason = DivergenceReason(kind: .nonFiniteUpdate, step: step, value: nil)
    }

    /// Observes the final accuracy in [0, 1] (NaN counts as failed).
    public mutating func observe(accuracy: Double) {
        guard reason == nil else { return }
        if !(accuracy >= accuracyLimit) {
            reason = DivergenceReason(kind: .accuracyBelowLimit, step: nil, value: accuracy)
        }
    }
}
