// Scheduler `Change`s → Store `Transition`s, one for one, and the journal → scheduler start-up.
//
// Every change of one poll round becomes part of that round's single transaction, workers and
// uncounted results included, so the journal never lags what was acknowledged. A change is a
// decision the scheduler made (a re-queue, a failure after retries, the failure of a warm start's
// measure jobs); the journal records it and checks only that it is a legal step.
// Workers are journaled by routing id (`host/pid/nonce`).
import Store
import SweepProtocol

extension Change {
    /// The journal's record of this decision.
    public var transition: Transition {
        switch self {
        case let .workerSeen(peer, ready, _):
            return .worker(identity: peer.description, name: ready.name, host: ready.host, pid: ready.pid,
                           cores: ready.cores, buildCPU: ready.buildCPU, version: ready.version)
        case let .workerGone(peer, reason, _):
            return .workerGone(identity: peer.description, reason: reason)
        case let .resultDuplicate(result, peer, _):
            return .misfit(jobId: result.jobId, attempt: result.attempt, kind: .duplicate, outcome: result.outcome,
                           worker: peer.description)
        case let .resultStale(result, peer, _):
            return .misfit(jobId: result.jobId, attempt: result.attempt, kind: .stale, outcome: result.outcome,
                           worker: peer.description)
        case let .lease(ref, peer, _, _):
            return .lease(jobId: ref.jobId, attempt: ref.attempt, worker: peer.description)
        case let .adopt(ref, peer, _, _):
            return .adopt(jobId: ref.jobId, attempt: ref.attempt, worker: peer.description)
        case let .resultCounted(result, peer, _):
            if result.outcome == .done {
                return .result(jobId: result.jobId, attempt: result.attempt, result: result.result ?? [],
                               checkpoint: result.checkpoint, wallSeconds: result.wallSeconds, worker: peer.description)
            }
            return .deterministicFailure(jobId: result.jobId, attempt: result.attempt,
                                         message: result.message ?? "no message", wallSeconds: result.wallSeconds,
                                         worker: peer.description)
        case let .requeued(ref, end, worker, failures, _):
            return .requeue(jobId: ref.jobId, attempt: ref.attempt, end: end, worker: worker?.description,
                            failures: failures)
        case let .failed(ref, failure, reason, end, worker, failures, _):
            return .fail(jobId: ref.jobId, attempt: ref.attempt, failure: failure, reason: reason, end: end,
                         worker: worker?.description, failures: failures)
        case let .retried(ref, reason, failures, _):
            return .retry(jobId: ref.jobId, attempt: ref.attempt, failures: failures, reason: reason)
        case let .cancelled(ref, reason, _):
            return .cancel(jobId: ref.jobId, attempt: ref.attempt, reason: reason)
        }
    }
}

extension RestoredJob {
    /// The journal's record of a job, as the scheduler reads it (with a done warm start's checkpoint).
    public init(_ record: JobRecord, checkpoint: [UInt8]? = nil) {
        self.init(id: record.id, state: record.state, attempt: record.attempt, failures: record.retries,
                  failure: record.failure, checkpoint: checkpoint, worker: record.leaseWorker,
                  cancelledWithWarmStart: record.state == .cancelled
                      && record.lastError?.hasPrefix("cancelled: " + JobDecisions.cascadeReasonPrefix) == true)
    }
}

/// What a coordinator starts from: the open journal and a scheduler that has read it.
public struct CoordinatorStart {
    /// The journal, opened for writing (holds the coordinator lock).
    public let store: Store
    /// Jobs of the grid, not yet started.
    public let scheduler: Scheduler
    /// The journal's job states, for `Event.start` (leases the previous coordinator left running
    /// come back orphaned).
    public let restored: [RestoredJob]

    /// Opens (or resumes, or grows: `Store.open`) the journal of `spec` at `path`, orphans its
    /// running leases and reads the state of every job of the grid; jobs a `--drop` left out of
    /// the grid stay in the journal and are not scheduled. The scheduler's `specHash`
    /// (STATUS-REPLY) is set to the journal's.
    public static func open(path: String, spec: GridSpec, dropping: Bool = false, config: SchedulerConfig)
        throws(StoreError) -> CoordinatorStart {
        let store = try Store.open(path: path, spec: spec, dropping: dropping)
        let restored: [RestoredJob], retired: Set<Int>
        do {
            // Every running lease becomes orphaned first: the scheduler waits for its worker.
            _ = try store.orphanRunningLeases()
            let checkpoints = try store.checkpoints()
            let inGrid = Set(store.jobList.map(\.id))
            let journaled = try store.jobs()
            restored = journaled.filter { inGrid.contains($0.id) }.map { RestoredJob($0, checkpoint: checkpoints[$0.id]) }
            retired = Set(journaled.map(\.id)).subtracting(inGrid)
        } catch {
            try? store.close()  // release the coordinator lock; the first error is the one to report
            throw error
        }
        var config = config
        config.specHash = store.specHash
        return CoordinatorStart(store: store, scheduler: Scheduler(jobs: store.jobList, config: config, retired: retired),
                                restored: restored)
    }
}
