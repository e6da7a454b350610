/// Why a cell is marked `diverged` (docs/METHOD.md, 6).
public struct DivergenceReason: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Codable, Sendable {
        case nonFiniteLoss = "non-finite-loss"
        case nonFiniteUpdate = "non-finite-update"
        case lossAboveLimit = "loss-above-limit"
        case accuracyBelowLimit = "accuracy-below-limit"
        /// The seed's warm-start checkpoint holds NaN/Inf: every cell of that seed reports this.
        case nonFiniteWarmStart = "non-finite-warm-start"
    }

    public let kind: Kind
    /// Window step at which it was detected; a burn-in step counts back from the window start
    /// (−K_burn … −1); nil for the end-of-run accuracy check.
    public let step: Int?
    /// The offending value when it is finite (mean loss of the chunk, accuracy); never NaN/Inf.
    public let value: Double?

    public init(kind: Kind, step: Int?, value: Double?) {
        self.kind = kind
        self.step = step
        self.value = value.flatMap { $0.isFinite ? $0 : nil }
    }

    /// E.g. `loss-above-limit at window step 49 (2.3067)`, `non-finite-loss in burn-in, 339 steps
    /// before the window`; the value is rounded to 4 decimals.
    public var description: String {
        let at = step.map { $0 < 0 ? " in burn-in, \(-$0) steps before the window" : " at window step \($0)" } ?? ""
        let v = value.map { " (\(($0 * 10_000).rounded() / 10_000))" } ?? ""
        return "\(kind.rawValue)\(at)\(v)"
    }
}
