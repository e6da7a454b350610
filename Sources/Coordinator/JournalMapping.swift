// Scheduler `Change`s → Store `Transition`s, and the journal → scheduler start-up.
//
// Every change of one poll round becomes part of that round's single transaction, workers and
// uncounted results included, so the journal never lags what was acknowledged:
//   - `workerSeen` → `.worker`: the worker table row (first and last seen) and a `worker` event;
//     `workerGone` → `.workerGone`: its last-seen time and a `workerGone` event with the reason.
//   - `resultDuplicate` / `resultStale` → `.misfit`: a `duplicate` / `stale` event naming job,
//     attempt and worker. It carries no bytes, so a misfit warm-start result without its
//     checkpoint cannot make the Store refuse the round.
// The Store's transitions carry their own consequences, so `requeued` and `failed` need no call of
// their own: a `.expire`/`.failure` transition re-queues (attempt + 1) or fails (exhausted) the job
// itself, and fails the queued jobs that depend on a failed one.
// Workers are journaled by routing id (`host/pid/nonce`), as `Store.recordWorker` names them.
import Store
import SweepProtocol

/// Translates scheduler changes into journal transitions (remembers lease holders by job).
public struct JournalMapping: Sendable {
    /// Job id → routing id of its current lease holder (for the worker column of a transient
    /// failure, whose `leaseEnded` change names no peer).
    private var holders: [Int: String] = [:]

    /// A mapping that knows the leases the journal holds (e.g. `orphanRunningLeases()`).
    public init(leases: [Lease] = []) {
        for lease in leases { holders[lease.jobId] = lease.worker }
    }

    /// The transition `change` needs, or nil when the Store derives it from another (see above).
    public mutating func transition(for change: Change) -> Transition? {
        switch change {
        case .requeued, .failed:
            return nil
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
            holders[ref.jobId] = peer.description
            return .lease(jobId: ref.jobId, attempt: ref.attempt, worker: peer.description)
        case let .adopt(ref, peer, _, _):
            holders[ref.jobId] = peer.description
            return .adopt(jobId: ref.jobId, attempt: ref.attempt, worker: peer.description)
        case let .resultCounted(result, peer, _):
            holders[result.jobId] = nil
            if result.outcome == .done {
                return .result(jobId: result.jobId, attempt: result.attempt, result: result.result ?? [],
                               checkpoint: result.checkpoint, wallSeconds: result.wallSeconds,
                               worker: peer.description)
            }
            return .failure(jobId: result.jobId, attempt: result.attempt, kind: result.errorKind ?? .deterministic,
                            message: result.message ?? "no message", wallSeconds: result.wallSeconds,
                            worker: peer.description)
        case let .leaseEnded(ref, end, _):
            let worker = holders.removeValue(forKey: ref.jobId) ?? "unknown"
            switch end {
            case .transientFailure(let message):
                return .failure(jobId: ref.jobId, attempt: ref.attempt, kind: .transient, message: message,
                                wallSeconds: 0, worker: worker)
            case .lost: return .expire(jobId: ref.jobId, attempt: ref.attempt, reason: .lost, message: end.reason)
            case .stalled: return .expire(jobId: ref.jobId, attempt: ref.attempt, reason: .stalled, message: end.reason)
            case .released:
                return .expire(jobId: ref.jobId, attempt: ref.attempt, reason: .released, message: end.reason)
            case .orphanExpired:
                return .expire(jobId: ref.jobId, attempt: ref.attempt, reason: .orphanExpired, message: end.reason)
            case .dropped: return .expire(jobId: ref.jobId, attempt: ref.attempt, reason: .dropped, message: end.reason)
            }
        }
    }

    /// Whether the journal's `verdict` agrees with what the scheduler decided for `transition`
    /// (a disagreement is a bug on one side: the loop logs it loudly).
    public static func agrees(_ transition: Transition, _ verdict: TransitionVerdict) -> Bool {
        switch (transition, verdict) {
        case (.lease, .leased), (.adopt, .adopted), (.result, .result(.counted)), (.expire, .expiry),
             (.worker, .workerRecorded), (.workerGone, .workerRecorded), (.misfit, .misfit(.journaled)):
            return true
        case (.failure(_, _, let kind, _, _, _), .failure(let failure)):
            switch (kind, failure) {
            case (.deterministic, .failed), (.transient, .requeued), (.transient, .failed): return true
            default: return false
            }
        default:
            return false
        }
    }
}

/// What a coordinator starts from: the open journal and a scheduler that has read it.
public struct CoordinatorStart {
    /// The journal, opened for writing (holds the coordinator lock).
    public let store: Store
    /// Jobs of the grid, not yet started.
    public let scheduler: Scheduler
    /// The journal's job states, for `Event.start`.
    public let restored: [RestoredJob]
    /// The leases the previous coordinator left running, now orphaned.
    public let orphans: [Lease]

    /// Opens (or resumes) the journal of `spec` at `path`, orphans its running leases and reads
    /// every job's state. The Store's retry limit is the scheduler's, so both count alike; the
    /// scheduler's `specHash` (STATUS-REPLY) is set to the journal's.
    public static func open(path: String, spec: GridSpec, config: SchedulerConfig) throws(StoreError)
        -> CoordinatorStart {
        let store = try Store.open(path: path, spec: spec, options: StoreOptions(retryLimit: config.retryLimit))
        let orphans: [Lease], restored: [RestoredJob]
        do {
            orphans = try store.orphanRunningLeases()
            let checkpoints = try store.checkpoints()
            restored = try store.jobs().map { record in
                RestoredJob(id: record.id, state: JobState(record.state), attempt: record.attempt,
                            failures: record.retries, checkpoint: checkpoints[record.id])
            }
        } catch {
            try? store.close()  // release the coordinator lock; the first error is the one to report
            throw error
        }
        var config = config
        config.specHash = store.specHash
        return CoordinatorStart(store: store, scheduler: Scheduler(jobs: store.spec.jobs(), config: config),
                                restored: restored, orphans: orphans)
    }
}

extension JobState {
    /// The scheduler's view of a journaled state (running leases are orphaned on start).
    init(_ state: JournalState) {
        switch state {
        case .queued: self = .queued
        case .running, .orphaned: self = .orphaned
        case .done: self = .done
        case .failed: self = .failed
        }
    }
}
