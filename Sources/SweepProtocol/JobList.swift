// The jobs of a grid: a pure function of the spec, so ids and keys are the same on every run of
// the same grid, and the order in which ready jobs go out (PROTOCOL.md, "Grid and jobs").

/// One job of a grid, as the Store journals it and the scheduler dispatches it.
public struct JobDescriptor: Sendable, Hashable {
    /// 1-based, stable for a given grid: warm starts first (by seed), then cells by (η, |B|, seed).
    public let id: Int
    /// `warm/seed=1`, `cell/lr=0.05/b=32/seed=1` or `trivial/lr=0.05/b=32/seed=1`.
    public let key: String
    public let kind: JobKind
    /// 1-based seed index.
    public let seedIndex: Int
    /// The warm-start job this one needs (measure jobs only).
    public let dependsOn: Int?
    /// Samples trained, ≈ |B| × steps: the dispatch priority and the ETA unit.
    public let cost: Int
    public let spec: JobSpec

    /// Dispatch order of ready jobs: longest first, which shortens the tail of a sweep; ties by id.
    public static func longestFirst(_ a: JobDescriptor, _ b: JobDescriptor) -> Bool {
        a.cost != b.cost ? a.cost > b.cost : a.id < b.id
    }
}

/// Step counts of the measurement protocol (Thermometer's `Protocol`, mirrored).
public enum CostModel {
    /// max(⌈10/η⌉, 500): burn-in and window lengths unless overridden.
    public static func defaultSteps(learningRate: Double) -> Int {
        guard learningRate.isFinite && learningRate > 0 else { return 500 }
        // 10/0.1 may round to 100.000…01 in binary; a relative slack of 1e-9 keeps ⌈·⌉ at 100.
        let q = 10 / learningRate * (1 - 1e-9)
        return max(q < 1e15 ? Int(q.rounded(.up)) : Int(1e15), 500)
    }

    /// Samples one job trains. Measure: |B| × (K_burn + K_meas) + 4 calibration points × probes ×
    /// probe batch. Warm start: batch × its steps. Trivial: as the measure job of its cell.
    /// Evaluation (the same for every cell) is left out.
    public static func cost(kind: JobKind, spec: JobSpec) -> Int {
        switch kind {
        case .warmStart:
            return spec.warmStart.batchSize * spec.warmStart.steps(trainCount: spec.dataset.trainCount)
        case .measure, .trivial:
            let lr = spec.learningRate ?? 1
            let burn = spec.burnInSteps ?? defaultSteps(learningRate: lr)
            let window = spec.measureSteps ?? defaultSteps(learningRate: lr)
            let calibration = spec.calibrationProbes > 0 ? 4 * spec.calibrationProbes * spec.probeBatchSize : 0
            return (spec.batchSize ?? 1) * (burn + window) + calibration
        }
    }
}

extension GridSpec {
    /// Every job of the (normalized) grid in id order. The grid must be valid.
    public func jobs() -> [JobDescriptor] {
        let grid = normalized
        var jobs: [JobDescriptor] = []
        jobs.reserveCapacity(grid.jobCount)
        if grid.jobKind == .train {
            for s in 1...max(grid.seeds, 1) {
                let spec = grid.spec(kind: .warmStart, seedIndex: s, learningRate: nil, batchSize: nil)
                jobs.append(JobDescriptor(id: jobs.count + 1, key: "warm/seed=\(s)", kind: .warmStart, seedIndex: s,
                                          dependsOn: nil, cost: CostModel.cost(kind: .warmStart, spec: spec), spec: spec))
            }
        }
        let kind: JobKind = grid.jobKind == .train ? .measure : .trivial
        let prefix = kind == .measure ? "cell" : "trivial"
        for lr in grid.learningRates {
            for b in grid.batchSizes {
                for s in 1...max(grid.seeds, 1) {
                    let spec = grid.spec(kind: kind, seedIndex: s, learningRate: lr, batchSize: b)
                    jobs.append(JobDescriptor(id: jobs.count + 1, key: "\(prefix)/lr=\(lr)/b=\(b)/seed=\(s)",
                                              kind: kind, seedIndex: s, dependsOn: kind == .measure ? s : nil,
                                              cost: CostModel.cost(kind: kind, spec: spec), spec: spec))
                }
            }
        }
        return jobs
    }
}
