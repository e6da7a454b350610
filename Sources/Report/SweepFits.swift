// From runs to ScalingLaw inputs, with the exclusions of docs/METHOD.md (8, 9: diverged and
// non-stationary cells are excluded and listed), and the fits of every group × estimator.
import ScalingLaw
import Cell

/// Which runs take no part in the fits, beyond what ScalingLaw itself refuses (missing or
/// non-positive T). Recorded in fits.json.
public struct ExclusionPolicy: Codable, Sendable, Hashable {
    /// Drop diverged runs (docs/METHOD.md, 6; always on in the default policy).
    public var diverged = true
    /// Drop runs whose training loss drifts over the window (halves differ by ≥ 2 SE).
    public var lossNonStationary = true
    /// Drop a group's observation when it is flagged `fdr-out-of-range` (docs/METHOD.md, 7).
    /// Off by default: on short windows the ratio is far from 1 in nearly every cell (e.g. 0.2–3
    /// on synthetic data with 300-step windows), so the fits would have no cells. The ratio is
    /// exported and summarised in the report instead.
    public var fdrOutOfRange = false

    /// The default policy.
    public init() {}
}

/// One run left out of a fit, with the reason and the numbers behind it.
public struct CellExclusion: Codable, Sendable, Hashable {
    public var learningRate: Double
    public var batchSize: Int
    public var seed: Int
    /// A ScalingLaw `ExclusionReason` raw value: `diverged`, `non-stationary`, `undefined`,
    /// `missing-estimate`, `non-positive-estimate`, `other-seed-excluded`, …
    public var reason: String
    public var detail: String
}

/// The fit of one (group, estimator).
public struct GroupFit: Codable, Sendable {
    public var group: String
    public var estimator: String
    public var result: ScalingLawResult
    /// Every run left out, sorted by (η, |B|, seed).
    public var exclusions: [CellExclusion]
}

/// Expected exponents (a, b) of each estimator (docs/METHOD.md, 4).
public func expectedExponents(_ estimator: Estimator) -> ExponentPair {
    switch estimator {
    case .diffusion, .configurational: return .etaOverBatch
    case .kinetic: return ExponentPair(a: 2, b: -1)
    case .kineticSDE: return ExponentPair(a: 0, b: -1)
    }
}

/// Why `run` is excluded for `group` under `policy`, or nil.
func exclusion(of run: CellRun, group: String, policy: ExclusionPolicy) -> (ExclusionReason, String)? {
    let result = run.result
    if policy.diverged, let divergence = result.divergence {
        return (.diverged, "\(divergence)")
    }
    let loss = result.thermometer.loss
    if policy.lossNonStationary, loss.stationary == false {
        var detail = "training loss drifts over the window"
        if let first = loss.firstHalfMean, let second = loss.secondHalfMean, let se = loss.differenceStandardError {
            detail += ": half means \(Text.fixed(first, 4)) → \(Text.fixed(second, 4)), difference "
                + (se > 0 ? "\(Text.fixed(abs(second - first) / se, 1)) SE (limit 2)" : "with SE 0")
        }
        return (.nonStationary, detail)
    }
    if policy.fdrOutOfRange, let g = result.thermometer.group(group), g.flags.contains(.fdrOutOfRange) {
        return (.nonStationary, "fluctuation–dissipation ratio "
            + (g.fluctuationDissipationRatio.map { Text.fixed($0, 2) } ?? "missing") + " outside [0, 1] by more than 2 SE")
    }
    return nil
}

/// ScalingLaw's observations of one (group, estimator) and the details of the caller's exclusions.
func observations(_ runs: [CellRun], group: String, estimator: Estimator, policy: ExclusionPolicy)
    -> (observations: [Observation], details: [CellKey: String])
{
    var list: [Observation] = []
    var details: [CellKey: String] = [:]
    list.reserveCapacity(runs.count)
    for run in runs {
        let key = CellKey(learningRate: run.learningRate, batchSize: run.batchSize, seed: run.seed)
        var reason: ExclusionReason?
        if let (r, detail) = exclusion(of: run, group: group, policy: policy) {
            reason = r
            details[key] = detail
        }
        let report = run.result.thermometer.group(group)
        let estimate = report?.estimate(estimator)
        if reason == nil, report == nil {
            reason = .undefined
            details[key] = "the result has no group '\(group)'"
        } else if reason == nil, estimate?.value == nil {
            reason = .undefined
            details[key] = "\(estimator.rawValue) is undefined for this group in this run"
                + (report.map { $0.flags.isEmpty ? "" : " (flags: \($0.flags.map(\.rawValue).joined(separator: ", ")))" } ?? "")
        }
        list.append(Observation(eta: run.learningRate, batchSize: run.batchSize, seed: run.seed,
                                temperature: estimate?.value, blockStandardErrorOfLog: estimate?.seLogT,
                                exclusion: reason))
    }
    return (list, details)
}

/// (η, |B|, seed).
struct CellKey: Hashable {
    var learningRate: Double
    var batchSize: Int
    var seed: Int
}

/// Words for ScalingLaw's own reasons, when the caller gave no detail.
func describe(_ reason: ExclusionReason) -> String {
    switch reason {
    case .otherSeedExcluded: return "another seed of this cell was excluded, so the whole cell is left out"
    case .missingEstimate: return "no estimate"
    case .nonPositiveEstimate: return "T is zero or negative, so ln T does not exist"
    case .duplicateSeed: return "a second result for the same seed"
    case .invalidCell: return "η or |B| is not positive"
    default: return reason.rawValue
    }
}

/// Every fit of a sweep: group × estimator, computed in parallel (each fit is pure).
public struct SweepFits: Sendable {
    public let policy: ExclusionPolicy
    public let fits: [GroupFit]

    /// Fits `groups` (default: all) × `estimators` (default: all) of `data`.
    public init(_ data: SweepData, groups: [String]? = nil, estimators: [Estimator]? = nil,
                policy: ExclusionPolicy = ExclusionPolicy(), options: FitOptions = FitOptions())
    {
        self.policy = policy
        let pairs = (groups ?? data.groups).flatMap { g in (estimators ?? SweepData.estimators).map { (g, $0) } }
        let runs = data.runs
        fits = parallelMap(pairs.map { Pair(group: $0.0, estimator: $0.1) }) { pair in
            var fitOptions = options
            fitOptions.expectedExponents = expectedExponents(pair.estimator)
            let (list, details) = observations(runs, group: pair.group, estimator: pair.estimator, policy: policy)
            let result = ScalingLaw.fit(list, options: fitOptions)
            let exclusions = result.excludedObservations.map { o in
                CellExclusion(
                    learningRate: o.eta, batchSize: o.batchSize, seed: o.seed, reason: o.reason.rawValue,
                    detail: details[CellKey(learningRate: o.eta, batchSize: o.batchSize, seed: o.seed)]
                        ?? describe(o.reason))
            }
            return GroupFit(group: pair.group, estimator: pair.estimator.rawValue, result: result,
                            exclusions: exclusions)
        }
    }

    private struct Pair: Sendable {
        var group: String
        var estimator: Estimator
    }

    /// The fit of (group, estimator), if it was made.
    public func fit(group: String, estimator: Estimator) -> GroupFit? {
        fits.first { $0.group == group && $0.estimator == estimator.rawValue }
    }
}
