// What a journal holds, decoded: every done measure job's CellResult, and every job that ended
// without one (or has not ended) with the reason. Read-only: works while a sweep runs.
import Dispatch
import Foundation
import Store
import SweepProtocol
import Cell

/// One done measure job: a cell (η, |B|) and seed with its decoded result.
public struct CellRun: Sendable {
    public let key: String
    public let learningRate: Double
    public let batchSize: Int
    /// SGD momentum m of the cell (the grid's one value unless it varies the momentum).
    public let momentum: Double
    /// How the cell drew its batches (the grid's one mode unless it varies the batch mode).
    public let batchMode: BatchMode
    /// 1-based seed index of the grid.
    public let seed: Int
    public let result: CellResult
    /// Wall time of the job as the journal recorded it, and the worker that ran it: the only
    /// fields (with `result.samplesPerSecond`) that differ between two runs of the same grid.
    public let wallSeconds: Double
    public let worker: String
}

/// A job without a usable result: failed, unreadable, or not ended yet (a cancelled job is not
/// wanted, and not a problem: the exports leave it out).
public struct JobProblem: Codable, Sendable, Hashable {
    public let key: String
    /// nil for a warm-start job.
    public let learningRate: Double?
    public let batchSize: Int?
    /// The cell's momentum, in a grid that varies it (absent otherwise, and for a warm start).
    public var momentum: Double?
    /// The cell's batch mode, in a grid that varies it (absent otherwise, and for a warm start).
    public var batchMode: BatchMode?
    public let seed: Int
    /// `failed`, `unreadable` (a result that does not decode), or the journal state
    /// (`queued`, `running`, `orphaned`).
    public let state: String
    public let reason: String
}

/// A journal's grid and results, ready to fit and export.
public struct SweepData: Sendable {
    public let databasePath: String
    public let spec: GridSpec
    public let specHash: String
    /// Sorted by (η, |B|, m, batch mode, seed).
    public let runs: [CellRun]
    /// Sorted by job key order of the grid (warm starts first).
    public let problems: [JobProblem]
    /// Parameter groups in the order of the results (layers, then `network`).
    public let groups: [String]
    /// Every worker the journal saw announce itself (host, build CPU, version).
    public let workers: [WorkerRecord]

    /// Every estimator, in the order of the exports.
    public static let estimators = Estimator.allCases

    /// Reads the journal at `path` (read-only). Throws when it cannot be opened, holds a trivial
    /// grid, or no measure job is done yet.
    public static func load(storePath path: String) throws(ReportError) -> SweepData {
        let store: Store
        do { store = try Store.openReadOnly(path: path) } catch { throw .store(error) }
        defer { try? store.close() }
        guard store.spec.jobKind == .train else {
            throw .noTemperatures(path: path, jobKind: store.spec.jobKind.rawValue)
        }
        var records: [ResultRecord], jobs: [JobRecord], workers: [WorkerRecord]
        do {
            jobs = try store.jobs()
            records = try store.results()
            workers = try store.workers()
        } catch { throw .store(error) }
        // Only the grid's jobs: those a `--drop` left out stay in the journal, not in the exports.
        let inGrid = Set(store.jobList.map(\.key))
        jobs.removeAll { !inGrid.contains($0.key) }
        records.removeAll { !inGrid.contains($0.key) }
        let descriptors = Dictionary(store.spec.jobs().map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let jobsById = Dictionary(jobs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let variesMomentum = store.spec.variesMomentum, variesBatchMode = store.spec.variesBatchMode
        func axisMomentum(_ job: JobDescriptor?) -> Double? { variesMomentum ? job?.spec.cell?.momentum : nil }
        func axisBatchMode(_ job: JobDescriptor?) -> BatchMode? { variesBatchMode ? job?.spec.cell?.batchMode : nil }

        let measured = records.filter { $0.outcome == .done && jobsById[$0.jobId]?.kind == .measure }
        let decoded = parallelMap(measured) { record -> Result<CellResult, DecodeFailure> in
            decodeCellResult(record.result ?? [])
        }
        var runs: [CellRun] = []
        var problems: [JobProblem] = []
        var unreadable = Set<Int>()
        for (record, outcome) in zip(measured, decoded) {
            let descriptor = descriptors[record.key]
            switch outcome {
            case .success(let result):
                runs.append(CellRun(
                    key: record.key, learningRate: descriptor?.spec.cell?.learningRate ?? result.spec.learningRate,
                    batchSize: descriptor?.spec.cell?.batchSize ?? result.spec.batchSize,
                    momentum: descriptor?.spec.cell?.momentum ?? result.spec.momentum,
                    batchMode: descriptor?.spec.cell?.batchMode ?? result.spec.batchMode,
                    seed: descriptor?.seedIndex ?? 0, result: result.judgingFlags(), wallSeconds: record.wallSeconds,
                    worker: record.worker))
            case .failure(let failure):
                unreadable.insert(record.jobId)
                problems.append(JobProblem(
                    key: record.key, learningRate: descriptor?.spec.cell?.learningRate,
                    batchSize: descriptor?.spec.cell?.batchSize, momentum: axisMomentum(descriptor),
                    batchMode: axisBatchMode(descriptor), seed: descriptor?.seedIndex ?? 0,
                    state: "unreadable", reason: failure.message))
            }
        }
        let messages = Dictionary(records.compactMap { r in r.message.map { (r.jobId, $0) } },
                                  uniquingKeysWith: { a, _ in a })
        for job in jobs where job.state != .done && !unreadable.contains(job.id) {
            let descriptor = descriptors[job.key]
            let reason: String
            switch job.state {
            case .failed:
                let kind = job.failure?.rawValue ?? "failed"
                let message = messages[job.id] ?? job.lastError ?? "no message recorded"
                reason = "\(kind): \(message)"
            case .queued: reason = job.attempt > 1 ? "queued again (attempt \(job.attempt))" : "not run yet"
            case .running: reason = "running on \(job.leaseWorker ?? "a worker")"
            case .orphaned: reason = "leased before a coordinator restart, not re-adopted yet"
            case .done: continue
            case .cancelled: continue  // not wanted: the exports leave it out
            }
            problems.append(JobProblem(
                key: job.key, learningRate: descriptor?.spec.cell?.learningRate, batchSize: descriptor?.spec.cell?.batchSize,
                momentum: axisMomentum(descriptor), batchMode: axisBatchMode(descriptor), seed: descriptor?.seedIndex ?? 0, state: job.state == .failed ? "failed" : job.state.rawValue, reason: reason))
        }
        let order = Dictionary(store.spec.jobs().map { ($0.key, $0.id) }, uniquingKeysWith: { a, _ in a })
        problems.sort { (order[$0.key] ?? Int.max, $0.key) < (order[$1.key] ?? Int.max, $1.key) }
        guard !runs.isEmpty else {
            var counts: [String: Int] = [:]
            for job in jobs { counts[job.state.rawValue, default: 0] += 1 }
            let detail = JobState.allCases.compactMap { s in counts[s.rawValue].map { "\($0) \(s.rawValue)" } }
            let unreadableNote = unreadable.isEmpty ? "" : "; \(unreadable.count) results do not decode"
            throw .noResults(path: path, detail: (detail.isEmpty ? "no jobs" : detail.joined(separator: ", "))
                + unreadableNote)
        }
        let modeOrder = BatchMode.allCases
        runs.sort {
            let (a, b) = (modeOrder.firstIndex(of: $0.batchMode) ?? 0, modeOrder.firstIndex(of: $1.batchMode) ?? 0)
            return ($0.learningRate, $0.batchSize, $0.momentum, a, $0.seed) < ($1.learningRate, $1.batchSize, $1.momentum, b, $1.seed)
        }
        var groups: [String] = [], seen = Set<String>()
        for run in runs {
            for g in run.result.thermometer.groups where seen.insert(g.name).inserted { groups.append(g.name) }
        }
        return SweepData(databasePath: path, spec: store.spec, specHash: store.specHash, runs: runs,
                         problems: problems, groups: groups, workers: workers)
    }

    /// Number of (η, |B|, m, batch mode) cells of the grid.
    public var gridCellCount: Int {
        spec.learningRates.count * spec.batchSizes.count * spec.momentumValues.count * spec.batchModeValues.count
    }
}

/// Why a journaled result could not be read as a `CellResult`.
public struct DecodeFailure: Error, Sendable {
    public var message: String
}

/// Decodes one journaled result (through `JSONReader`: Foundation's JSONDecoder takes about 3 ms
/// per result); a wrong format tag or broken JSON is a reason, not a throw.
public func decodeCellResult(_ bytes: [UInt8]) -> Result<CellResult, DecodeFailure> {
    do {
        let result = try JSONReader.decode(CellResult.self, from: bytes)
        guard result.format == CellResult.currentFormat else {
            return .failure(DecodeFailure(
                message: "result format '\(result.format)' is not \(CellResult.currentFormat): "
                    + "written by another thermosweep version"))
        }
        return .success(result)
    } catch {
        return .failure(DecodeFailure(message: "result does not decode as \(CellResult.currentFormat): \(error)"))
    }
}

/// `transform` over `items` on all cores (results in input order). Each call must be independent.
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) -> [R] {
    let n = items.count
    guard n > 1 else { return items.map(transform) }
    let slots = ResultSlots<R>(count: n)
    DispatchQueue.concurrentPerform(iterations: n) { i in slots.set(i, transform(items[i])) }
    return slots.values()
}

/// Write-once slots filled concurrently at distinct indices; read after all writers finished.
private final class ResultSlots<R>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<R?>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    /// Each index is written by exactly one iteration, so no two threads touch the same slot.
    func set(_ i: Int, _ value: R) { buffer[i] = value }

    func values() -> [R] {
        let values = buffer.compactMap { $0 }
        precondition(values.count == buffer.count, "a parallel slot was left empty")
        return values
    }
}
