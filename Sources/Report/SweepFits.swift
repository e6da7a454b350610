// From runs to ScalingLaw inputs, with the exclusions of docs/METHOD.md (8, 9: diverged and
// non-stationary cells are excluded and listed), and the fits of every group × estimator.
import ScalingLaw
import SweepProtocol
import Cell

/// Which runs take no part in the fits, beyond what ScalingLaw itself refuses (missing or
/// non-positive T). Recorded in fits.json (docs/METHOD.md, 8).
public struct ExclusionPolicy: Codable, Sendable, Hashable {
    /// Drop diverged runs (docs/METHOD.md, 6; always on in the default policy).
    public var diverged = true
    /// Drop runs whose training loss drifts over the window (the test is `stationarityTest`).
    public var lossNonStationary = true
    /// Drop a group's observation when it is flagged `fdr-out-of-range` (docs/METHOD.md, 7).
    /// Off by default: on short windows the ratio is far from 1 in nearly every cell (e.g. 0.2–3
    /// on synthetic data with 300-step windows), so the fits would have no cells. The ratio is
    /// exported and summarised in the report instead.
    public var fdrOutOfRange = false
    /// How a run's drift is judged (used when `lossNonStationary`).
    public var stationarityTest = StationarityTest.welchT
    /// Family-wise error level α of the stationarity tests of a sweep (`welch-t` only).
    public var familyWiseLevel = 0.05
    /// How α is shared among the sweep's tests (`welch-t` only).
    public var correction = MultipleTestingCorrection.holm
    /// Which excluded seeds take their whole cell with them.
    public var wholeCell = WholeCellRule.diverged

    /// The default policy.
    public init() {}

    /// Release 0.1.0's policy: the worker's uncorrected 2-SE rule, and whole cells.
    public static var release010: ExclusionPolicy {
        var p = ExclusionPolicy()
        p.stationarityTest = .twoSE
        p.correction = .none
        p.wholeCell = .any
        return p
    }

    /// The default policy without any stationarity exclusion (every non-diverged run is a candidate).
    public static var noStationarityExclusion: ExclusionPolicy {
        var p = ExclusionPolicy()
        p.lossNonStationary = false
        return p
    }

    /// Allowed range of `familyWiseLevel`.
    public static let levelRange = 0.000_001...0.5
}

/// How a run's loss drift is tested (docs/METHOD.md, 5).
public enum StationarityTest: String, Codable, Sendable, CaseIterable {
    /// Welch's t on the halves of the block means, a p-value per run, corrected over the sweep.
    case welchT = "welch-t"
    /// Release 0.1.0: the halves differ by at least 2 SE, each run on its own (no correction).
    case twoSE = "two-se"
}

/// Which exclusions drop every seed of their cell (docs/METHOD.md, 8).
public enum WholeCellRule: String, Codable, Sendable, CaseIterable {
    /// A seed that diverged takes its cell; other exclusions take only their run.
    case diverged
    /// Any excluded seed takes its cell (release 0.1.0).
    case any
    /// Every exclusion is per run; the survivors of a cell are fitted.
    case never
}

/// One run left out of a fit, with the reason and the numbers behind it.
public struct CellExclusion: Codable, Sendable, Hashable {
    public var learningRate: Double
    public var batchSize: Int
    /// The run's momentum m, in a grid that varies it (absent otherwise).
    public var momentum: Double?
    /// The run's batch mode, in a grid that varies it (absent otherwise).
    public var batchMode: BatchMode?
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
    /// In a grid that varies the batch mode: the mode whose runs alone are fitted (the two modes
    /// have different gradient noise, so they are never fitted together); absent otherwise.
    public var batchMode: BatchMode?
    /// In a grid that varies the momentum: the m of a fit of that momentum's runs alone (absent
    /// on the collapsed fit and in a grid of one momentum).
    public var momentum: Double?
    /// In a grid that varies the momentum, on the collapsed fit of all runs: `η/(1 − m)`, the
    /// effective learning rate its η axis is (docs/METHOD.md); absent otherwise (η itself).
    public var fittedAgainst: String?
    public var result: ScalingLawResult
    /// Every run left out, sorted by (η, |B|, seed).
    public var exclusions: [CellExclusion]
}

extension GroupFit {
    /// What the fit covers where the batch mode or the momentum varies: `, shuffle batches`, then
    /// `, against η/(1 − m)` (collapsed) or `, m = 0.5` (one momentum); empty in a grid of one
    /// batch mode and one momentum.
    public var label: String {
        let mode = batchMode.map { ", \($0.rawValue) batches" } ?? ""
        if let momentum { return mode + ", m = \(Text.number(momentum))" }
        if let fittedAgainst { return mode + ", against \(fittedAgainst)" }
        return mode
    }
}

/// Expected exponents (a, b) of each estimator (docs/METHOD.md, 4).
public func expectedExponents(_ estimator: Estimator) -> ExponentPair {
    switch estimator {
    case .diffusion, .configurational: return .etaOverBatch
    case .kinetic: return ExponentPair(a: 2, b: -1)
    case .kineticSDE: return ExponentPair(a: 0, b: -1)
    }
}

/// The runs of a sweep that a policy's stationarity test excludes, with the numbers behind each
/// (docs/METHOD.md, 5 and 8). With `welch-t` the p-values of all tested runs form one family.
struct DriftExclusions: Sendable {
    /// Detail of every excluded run.
    let details: [CellKey: String]
    /// The family: non-diverged runs with at least 4 finite block means.
    let tested: Int

    init(_ runs: [CellRun], policy: ExclusionPolicy) {
        var keys: [CellKey] = [], tests: [WelchTest] = []
        for run in runs where !run.result.diverged {
            let blocks = run.result.thermometer.loss.blockMeans.compactMap { $0 }
            guard blocks.count == run.result.thermometer.loss.blockMeans.count,
                  let test = WelchTest(blockMeans: blocks) else { continue }
            keys.append(run.cellKey)
            tests.append(test)
        }
        tested = tests.count
        var details: [CellKey: String] = [:]
        if policy.lossNonStationary {
            switch policy.stationarityTest {
            case .twoSE:
                for (key, t) in zip(keys, tests) where t.halves.withinTwoSE == false {
                    // The worker's rule on the same numbers, in release 0.1.0's words.
                    let se = t.halves.standardError
                    details[key] = Self.halves(t) + (se > 0
                        ? "\(Text.fixed(t.halves.difference / se, 1)) SE (limit 2)" : "with SE 0")
                }
            case .welchT:
                let level = policy.familyWiseLevel, m = tests.count
                let decisions = policy.correction.decisions(tests.map(\.pValue), level: level)
                let rule: String
                switch policy.correction {
                case .holm: rule = "Holm, α = \(Text.number(level)) over \(m) runs"
                case .bonferroni: rule = "Bonferroni, α/m = \(Text.number(level))/\(m)"
                case .none: rule = "uncorrected, α = \(Text.number(level))"
                }
                for (i, decision) in decisions.enumerated() where decision.rejected {
                    let t = tests[i]
                    details[keys[i]] = Self.halves(t)
                        + (t.halves.standardError > 0 ? "\(Text.fixed(t.statistic, 1)) SE" : "with SE 0")
                        + (t.degreesOfFreedom.map { ", Welch t with \(Text.fixed($0, 1)) dof" } ?? "")
                        + ": p = \(Text.significant(t.pValue)) ≤ \(Text.significant(decision.threshold)) (\(rule))"
                }
            }
        }
        self.details = details
    }

    private static func halves(_ t: WelchTest) -> String {
        "training loss drifts over the window: half means \(Text.fixed(t.halves.firstMean, 4)) → "
            + "\(Text.fixed(t.halves.secondMean, 4)), difference "
    }
}

/// Why `run` is excluded for `group` under `policy`, or nil.
func exclusion(of run: CellRun, group: String, policy: ExclusionPolicy, drift: DriftExclusions)
    -> (ExclusionReason, String)?
{
    let result = run.result
    if policy.diverged, let divergence = result.divergence {
        return (.diverged, "\(divergence)")
    }
    if let detail = drift.details[run.cellKey] {
        return (.nonStationary, detail)
    }
    if policy.fdrOutOfRange, let g = result.thermometer.group(group), g.flags.contains(.fdrOutOfRange) {
        return (.nonStationary, "fluctuation–dissipation ratio "
            + (g.fluctuationDissipationRatio.map { Text.fixed($0, 2) } ?? "missing") + " outside [0, 1] by more than 2 SE")
    }
    return nil
}

/// ScalingLaw's observations of one (group, estimator) and the details of the caller's exclusions,
/// keyed by run. `place` gives each run's (η, seed) as the fit sees them (η/(1 − m) in a collapsed fit).
func observations(_ runs: [CellRun], group: String, estimator: Estimator, policy: ExclusionPolicy,
                  drift: DriftExclusions, place: (CellRun) -> (eta: Double, seed: Int) = { ($0.learningRate, $0.seed) })
    -> (observations: [Observation], details: [CellKey: String])
{
    var list: [Observation] = []
    var details: [CellKey: String] = [:]
    list.reserveCapacity(runs.count)
    // Cells where a seed diverged, and which seeds: with `wholeCell == .diverged` their survivors go too.
    var divergedSeeds: [CellKey: [Int]] = [:]
    if policy.diverged && policy.wholeCell == .diverged {
        for run in runs where run.result.diverged {
            divergedSeeds[run.cellKey(seed: 0), default: []]
                .append(run.seed)
        }
    }
    for run in runs {
        let key = run.cellKey
        var reason: ExclusionReason?
        if let (r, detail) = exclusion(of: run, group: group, policy: policy, drift: drift) {
            reason = r
            details[key] = detail
        } else if let seeds = divergedSeeds[run.cellKey(seed: 0)] {
            reason = .otherSeedExcluded
            details[key] = "seed\(seeds.count == 1 ? "" : "s") \(seeds.sorted().map(String.init).joined(separator: ", ")) "
                + "of this cell diverged: the survivors are a biased sample, so the whole cell is left out"
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
        let placed = place(run)
        list.append(Observation(eta: placed.eta, batchSize: run.batchSize, seed: placed.seed,
                                temperature: estimate?.value, blockStandardErrorOfLog: estimate?.seLogT,
                                exclusion: reason))
    }
    return (list, details)
}

/// (η, |B|, m, batch mode, seed).
struct CellKey: Hashable {
    var learningRate: Double, batchSize: Int
    var momentum: Double, batchMode: BatchMode, seed: Int
}

extension CellRun {
    /// The run's (η, |B|, m, batch mode, seed).
    var cellKey: CellKey { cellKey(seed: seed) }

    func cellKey(seed: Int) -> CellKey {
        CellKey(learningRate: learningRate, batchSize: batchSize, momentum: momentum, batchMode: batchMode, seed: seed)
    }
}

extension CellExclusion {
    /// The excluded run's (η, |B|, m, batch mode, seed) on `spec`'s grid.
    func cellKey(_ spec: GridSpec) -> CellKey {
        CellKey(learningRate: learningRate, batchSize: batchSize, momentum: momentum ?? spec.momentumValues[0],
                batchMode: batchMode ?? spec.batchModeValues[0], seed: seed)
    }
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
    /// How many runs the stationarity test examined (the family size m) and how many it excluded.
    public let stationarityTested: Int
    public let stationarityExcluded: Int

    /// Fits `groups` (default: all) × `estimators` (default: all) of `data`.
    public init(_ data: SweepData, groups: [String]? = nil, estimators: [Estimator]? = nil,
                policy: ExclusionPolicy = ExclusionPolicy(), options: FitOptions = FitOptions())
    {
        self.policy = policy
        let drift = DriftExclusions(data.runs, policy: policy)
        stationarityTested = drift.tested
        stationarityExcluded = drift.details.count
        let pairs = (groups ?? data.groups).flatMap { g in (estimators ?? SweepData.estimators).map { (g, $0) } }
        let runs = data.runs
        // A grid that varies the momentum: first the collapsed fit of every run against
        // η_eff = η/(1 − m), then one fit per m (docs/METHOD.md, 9); else one fit against η. A grid
        // that varies the batch mode does so for each mode's runs apart.
        let momenta = data.spec.momentumValues, varies = data.spec.variesMomentum
        let modes: [BatchMode?] = data.spec.variesBatchMode ? data.spec.batchModeValues : [nil]
        let variesMode = data.spec.variesBatchMode
        var fitsToMake: [Pair] = []
        for mode in modes {
            fitsToMake += pairs.map { Pair(group: $0.0, estimator: $0.1, batchMode: mode, momentum: nil, collapsed: varies) }
            if varies {
                for m in momenta {
                    fitsToMake += pairs.map {
                        Pair(group: $0.0, estimator: $0.1, batchMode: mode, momentum: m, collapsed: false)
                    }
                }
            }
        }
        let seeds = data.spec.seeds
        fits = parallelMap(fitsToMake) { pair in
            var fitOptions = options
            fitOptions.expectedExponents = expectedExponents(pair.estimator)
            fitOptions.excludeWholeCellWhenAnySeedExcluded = policy.wholeCell == .any
            let fitted = runs.filter { run in
                (pair.batchMode.map { $0 == run.batchMode } ?? true) && (pair.momentum.map { $0 == run.momentum } ?? true)
            }
            // The collapsed fit sees each run at η/(1 − m); a run of the k-th momentum counts as
            // seed k·seeds + s, so two (η, m) with the same η/(1 − m) are one cell with the seeds
            // of both, not duplicates.
            var byPlace: [CellKey: CellKey] = [:]
            let place: (CellRun) -> (eta: Double, seed: Int) = { run in
                pair.collapsed ? Self.collapsedPlace(run, momenta: momenta, seeds: seeds) : (run.learningRate, run.seed)
            }
            for run in fitted {
                let p = place(run)
                byPlace[CellKey(learningRate: p.eta, batchSize: run.batchSize, momentum: 0, batchMode: run.batchMode,
                                seed: p.seed)] = run.cellKey
            }
            let (list, details) = observations(fitted, group: pair.group, estimator: pair.estimator, policy: policy,
                                               drift: drift, place: place)
            let result = ScalingLaw.fit(list, options: fitOptions)
            let mode = pair.batchMode ?? data.spec.batchModeValues[0]
            let exclusions = result.excludedObservations.map { o in
                let run = byPlace[CellKey(learningRate: o.eta, batchSize: o.batchSize, momentum: 0, batchMode: mode,
                                          seed: o.seed)]
                    ?? CellKey(learningRate: o.eta, batchSize: o.batchSize, momentum: pair.momentum ?? momenta[0],
                               batchMode: mode, seed: o.seed)
                return CellExclusion(
                    learningRate: run.learningRate, batchSize: run.batchSize, momentum: varies ? run.momentum : nil,
                    batchMode: variesMode ? run.batchMode : nil, seed: run.seed, reason: o.reason.rawValue,
                    detail: details[run] ?? describe(o.reason))
            }
            return GroupFit(group: pair.group, estimator: pair.estimator.rawValue, batchMode: pair.batchMode,
                            momentum: pair.momentum,
                            fittedAgainst: pair.collapsed ? Self.effectiveLearningRate : nil, result: result,
                            exclusions: exclusions)
        }
    }

    /// Where a collapsed fit puts `run`: at η/(1 − m), as seed k·seeds + s for the k-th (0-based)
    /// of the grid's `momenta`.
    static func collapsedPlace(_ run: CellRun, momenta: [Double], seeds: Int) -> (eta: Double, seed: Int) {
        let k = momenta.firstIndex(of: run.momentum) ?? 0
        return (run.learningRate / (1 - run.momentum), k * seeds + run.seed)
    }

    /// How a collapsed fit names its η axis.
    public static let effectiveLearningRate = "η/(1 − m)"

    private struct Pair: Sendable {
        var group: String
        var estimator: Estimator
        /// The one batch mode whose runs are fitted; nil: every run (a grid of one mode).
        var batchMode: BatchMode?
        /// The one momentum whose runs are fitted; nil: every run.
        var momentum: Double?
        /// Fitted against η/(1 − m).
        var collapsed: Bool
    }

    /// The fit of (group, estimator) over every run (the collapsed one in a grid that varies the
    /// momentum; of the first batch mode's runs in a grid that varies it), if it was made.
    public func fit(group: String, estimator: Estimator) -> GroupFit? {
        fits.first { $0.group == group && $0.estimator == estimator.rawValue && $0.momentum == nil }
    }

    /// The fit of (group, estimator) over every run of `batchMode` (nil: of the grid's one mode).
    public func fit(group: String, estimator: Estimator, batchMode: BatchMode?) -> GroupFit? {
        fits.first {
            $0.group == group && $0.estimator == estimator.rawValue && $0.momentum == nil && $0.batchMode == batchMode
        }
    }
}
