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

extension GridSpec {
    /// Every job of the (normalized) grid in id order. The grid must be valid.
    public func jobs() -> [JobDescriptor] {
        let grid = normalized
        var jobs: [JobDescriptor] = []
        jobs.reserveCapacity(grid.jobCount)
        if grid.jobKind == .train {
            for s in 1...max(grid.seeds, 1) {
                // A warm start depends only on the seed: any cell of the grid names it.
                let spec = grid.spec(kind: .warmStart, seedIndex: s, learningRate: grid.learningRates[0],
                                     batchSize: grid.batchSizes[0])
                jobs.append(JobDescriptor(id: jobs.count + 1, key: "warm/seed=\(s)", kind: .warmStart, seedIndex: s,
                                          dependsOn: nil, cost: spec.cost, spec: spec))
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
                                              cost: spec.cost, spec: spec))
                }
            }
        }
        return jobs
    }
}

extension GridSpec {
    /// Every job of the grid in grid order, numbered as a journal numbered them: a key in `ids`
    /// keeps its id, a key it lacks gets the next id after the largest in `ids` (in grid order),
    /// and dependencies follow. A grown grid so never renumbers a journaled job; with no ids this
    /// is `jobs()`. The grid must be valid.
    public func jobs(keeping ids: [String: Int]) -> [JobDescriptor] {
        let canonical = jobs()
        guard !ids.isEmpty else { return canonical }
        var next = (ids.values.max() ?? 0) + 1
        var renumbered: [Int: Int] = [:]  // grid-order id → journal id
        for job in canonical {
            if let id = ids[job.key] {
                renumbered[job.id] = id
            } else {
                renumbered[job.id] = next
                next += 1
            }
        }
        return canonical.map { job in
            JobDescriptor(id: renumbered[job.id] ?? job.id, key: job.key, kind: job.kind, seedIndex: job.seedIndex,
                          dependsOn: job.dependsOn.map { renumbered[$0] ?? $0 }, cost: job.cost, spec: job.spec)
        }
    }
}
