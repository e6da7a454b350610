// The jobs of a grid: a pure function of the spec, so ids and keys are the same on every run of
// the same grid, and the order in which ready jobs go out (PROTOCOL.md, "Grid and jobs").
import Cell

/// One job of a grid, as the Store journals it and the scheduler dispatches it.
public struct JobDescriptor: Sendable, Hashable {
    /// 1-based, stable for a given grid: warm starts first (by seed), then cells by (η, |B|, m, batch
    /// mode, seed).
    public let id: Int
    /// `warm/seed=1`, `cell/lr=0.05/b=32/seed=1` or `trivial/lr=0.05/b=32/seed=1`; in a grid that
    /// varies the momentum, `cell/lr=0.05/b=32/m=0.9/seed=1`; in one that varies the batch mode,
    /// `cell/lr=0.05/b=32/mode=shuffle/seed=1` (both: `…/m=0.9/mode=shuffle/seed=1`).
    public let key: String
    public let kind: JobKind
    /// 1-based seed index.
    public let seedIndex: Int
    /// The warm-start job this one needs (measure jobs only).
    public let dependsOn: Int?
    /// Samples trained, ≈ |B| × steps: the dispatch priority and the ETA unit.
    public let cost: Int
    /// The cell's coordinates in its grid (a warm start's are the grid's first cell). The spec is
    /// derived from them when it is asked for, not held: a coordinator holds every job of a grid
    /// in more than one list, and a held `JobSpec` was about 350 of a job's bytes in each.
    public let cell: CellCoordinates
    private let shared: SharedGrid

    /// The (normalized) grid the job belongs to.
    public var grid: GridSpec { shared.value }

    /// Everything a worker needs to run the job.
    public var spec: JobSpec { cell.spec(kind: kind, seedIndex: seedIndex, in: shared.value) }

    /// `cost`: nil derives it from the spec.
    fileprivate init(id: Int, key: String, kind: JobKind, seedIndex: Int, dependsOn: Int?, cell: CellCoordinates,
                     grid: SharedGrid, cost: Int? = nil) {
        (self.id, self.key, self.kind, self.seedIndex, self.dependsOn) = (id, key, kind, seedIndex, dependsOn)
        (self.cell, self.shared) = (cell, grid)
        self.cost = cost ?? cell.spec(kind: kind, seedIndex: seedIndex, in: grid.value).cost
    }

    /// The same job under another id (and dependency id).
    fileprivate func numbered(_ id: Int, dependsOn: Int?) -> JobDescriptor {
        JobDescriptor(id: id, key: key, kind: kind, seedIndex: seedIndex, dependsOn: dependsOn, cell: cell, grid: shared,
                      cost: cost)
    }

    public static func == (a: JobDescriptor, b: JobDescriptor) -> Bool {
        a.id == b.id && a.key == b.key && a.kind == b.kind && a.seedIndex == b.seedIndex && a.dependsOn == b.dependsOn
            && a.cost == b.cost && a.spec == b.spec
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(key)
    }

    /// Dispatch order of ready jobs: longest first, which shortens the tail of a sweep; ties by id.
    public static func longestFirst(_ a: JobDescriptor, _ b: JobDescriptor) -> Bool {
        a.cost != b.cost ? a.cost > b.cost : a.id < b.id
    }
}

/// Where a job's cell stands in its grid: η and |B|, and m and batch mode where the cell has its own
/// (nil: the grid's `cell.momentum` and `cell.batchMode`, as a warm start has).
public struct CellCoordinates: Sendable, Hashable {
    public let learningRate: Double
    public let batchSize: Int
    public let momentum: Double?
    public let batchMode: BatchMode?

    func spec(kind: JobKind, seedIndex: Int, in grid: GridSpec) -> JobSpec {
        grid.spec(kind: kind, seedIndex: seedIndex, learningRate: learningRate, batchSize: batchSize,
                  momentum: momentum, batchMode: batchMode)
    }
}

/// The one copy of a (normalized) grid that all of its jobs' descriptors share.
private final class SharedGrid: Sendable {
    let value: GridSpec
    init(_ value: GridSpec) { self.value = value }
}

extension GridSpec {
    /// Every job of the (normalized) grid in id order. The grid must be valid.
    public func jobs() -> [JobDescriptor] {
        let grid = normalized, shared = SharedGrid(grid)
        var jobs: [JobDescriptor] = []
        jobs.reserveCapacity(grid.jobCount)
        if grid.jobKind == .train {
            for s in 1...max(grid.seeds, 1) {
                // A warm start depends only on the seed: any cell of the grid names it.
                jobs.append(JobDescriptor(id: jobs.count + 1, key: "warm/seed=\(s)", kind: .warmStart, seedIndex: s,
                                          dependsOn: nil,
                                          cell: CellCoordinates(learningRate: grid.learningRates[0],
                                                                batchSize: grid.batchSizes[0], momentum: nil, batchMode: nil),
                                          grid: shared))
            }
        }
        let kind: JobKind = grid.jobKind == .train ? .measure : .trivial
        let prefix = kind == .measure ? "cell" : "trivial"
        let momenta = grid.momentumValues, namesMomentum = grid.variesMomentum
        let modes = grid.batchModeValues, namesMode = grid.variesBatchMode
        for lr in grid.learningRates {
            for b in grid.batchSizes {
                for m in momenta {
                    for mode in modes {
                        for s in 1...max(grid.seeds, 1) {
                            let key = Self.cellKey(prefix, lr: lr, batch: b, momentum: namesMomentum ? m : nil,
                                                   batchMode: namesMode ? mode : nil, seed: s)
                            jobs.append(JobDescriptor(id: jobs.count + 1, key: key, kind: kind, seedIndex: s,
                                                      dependsOn: kind == .measure ? s : nil,
                                                      cell: CellCoordinates(learningRate: lr, batchSize: b, momentum: m,
                                                                            batchMode: mode),
                                                      grid: shared))
                        }
                    }
                }
            }
        }
        return jobs
    }

    /// `prefix/lr=η/b=|B|/seed=s`, with `/m=m` and `/mode=mode` before the seed when given.
    static func cellKey(_ prefix: String, lr: Double, batch: Int, momentum: Double?, batchMode: BatchMode? = nil,
                        seed: Int) -> String {
        "\(prefix)/lr=\(lr)/b=\(batch)" + (momentum.map { "/m=\($0)" } ?? "")
            + (batchMode.map { "/mode=\($0.rawValue)" } ?? "") + "/seed=\(seed)"
    }

    /// The key of the same cell job that names momentum `m`: a cell or trivial key without m
    /// gets `/m=m` before its batch mode or seed; any other key (a warm start, a key that names m)
    /// is nil.
    public static func key(_ key: String, namingMomentum m: Double) -> String? {
        guard key.hasPrefix("cell/") || key.hasPrefix("trivial/"), !key.contains("/m="),
              let next = key.range(of: "/mode=") ?? key.range(of: "/seed=", options: .backwards) else { return nil }
        return String(key[..<next.lowerBound]) + "/m=\(m)" + String(key[next.lowerBound...])
    }

    /// The key of the same cell job that names batch mode `mode`: a cell or trivial key without
    /// one gets `/mode=mode` before its seed; any other key is nil.
    public static func key(_ key: String, namingBatchMode mode: BatchMode) -> String? {
        guard key.hasPrefix("cell/") || key.hasPrefix("trivial/"), !key.contains("/mode="),
              let seed = key.range(of: "/seed=", options: .backwards) else { return nil }
        return String(key[..<seed.lowerBound]) + "/mode=\(mode.rawValue)" + String(key[seed.lowerBound...])
    }

    /// The key of the same cell job without batch mode `mode`: `/mode=mode` removed; nil when the
    /// key does not name exactly `mode`.
    public static func key(_ key: String, droppingBatchMode mode: BatchMode) -> String? {
        let part = "/mode=\(mode.rawValue)/"
        guard key.hasPrefix("cell/") || key.hasPrefix("trivial/"), key.contains(part) else { return nil }
        return key.replacingOccurrences(of: part, with: "/")
    }

    /// The key of the same cell job without momentum `m`: `/m=m` removed; nil when the key does
    /// not name exactly `m`.
    public static func key(_ key: String, droppingMomentum m: Double) -> String? {
        let part = "/m=\(m)/"
        guard key.hasPrefix("cell/") || key.hasPrefix("trivial/"), key.contains(part) else { return nil }
        return key.replacingOccurrences(of: part, with: "/")
    }

    /// The keys of the grid's jobs in id order, each as (the key naming its momentum and batch mode
    /// whether or not the grid varies them, the job's key): a grid change compares jobs of two
    /// grids by the first.
    func axisNamedKeys() -> [(named: String, key: String)] {
        jobs().map { job in (namingAxes(job.key), job.key) }
    }

    /// `key` naming the momentum and the batch mode where this grid has one value of them (and so
    /// its keys name neither).
    public func namingAxes(_ key: String) -> String {
        var named = key
        if !variesMomentum { named = GridSpec.key(named, namingMomentum: momentumValues[0]) ?? named }
        if !variesBatchMode { named = GridSpec.key(named, namingBatchMode: batchModeValues[0]) ?? named }
        return named
    }

    /// `key`, named by `namingAxes`, without the momentum and the batch mode where this grid has
    /// one value of them: the key this grid gives the job.
    public func droppingAxes(_ key: String) -> String {
        var plain = key
        if !variesMomentum { plain = GridSpec.key(plain, droppingMomentum: momentumValues[0]) ?? plain }
        if !variesBatchMode { plain = GridSpec.key(plain, droppingBatchMode: batchModeValues[0]) ?? plain }
        return plain
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
            job.numbered(renumbered[job.id] ?? job.id, dependsOn: job.dependsOn.map { renumbered[$0] ?? $0 })
        }
    }
}
