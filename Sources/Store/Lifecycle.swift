// The job life cycle: one vocabulary for the scheduler, which decides every step, and the journal,
// which records each decision and checks only that it is a legal step from what it holds. The
// states, transitions and who decides each are written down in docs/JOBS.md.
import SweepProtocol

/// Where a job is in its life.
public enum JobState: String, Sendable, Equatable, CaseIterable {
    /// Waiting for a lease (its dependency may not be done yet).
    case queued
    /// Leased to a worker.
    case running
    /// Leased before a coordinator restart; waits for its worker to re-adopt it.
    case orphaned
    /// Has its first valid result.
    case done
    /// Ended without a result; `JobRecord.failure` says why.
    case failed
    /// Not wanted: a user cancelled it (`thermosweep cancel`). It has ended, without a result;
    /// exports leave it out, `thermosweep retry` brings it back.
    case cancelled

    /// Whether the job has ended.
    public var isEnded: Bool { self == .done || self == .failed || self == .cancelled }
    /// Whether a lease is in force.
    public var isLeased: Bool { self == .running || self == .orphaned }
}

/// Why a failed job failed. Only `deterministic` is a result of the job itself: the other two are
/// circumstances.
public enum JobFailure: String, Sendable, CaseIterable {
    /// The worker reported a failure that would happen again with the same spec (diverged
    /// training, bad spec). Like a result: stored in `results`, never retried, not even on resume.
    case deterministic
    /// The retry limit was reached by transient failures and lost or stalled leases; `lastError`
    /// holds the last reason.
    case exhausted
    /// The job this one depends on (its warm start) failed, so it can never run.
    case dependency
}

/// Why a lease ended without a result.
public enum LeaseEnd: Sendable, Equatable {
    /// The worker fell silent for the liveness window.
    case lost
    /// The job's step counter did not advance for the stall window.
    case stalled
    /// The worker sent BYE.
    case released
    /// An orphaned lease was not re-adopted within the grace after a coordinator restart.
    case orphanExpired
    /// The worker re-sent READY without this lease: it no longer holds it.
    case dropped
    /// The worker reported `failed transient`.
    case transientFailure(String)

    /// Whether this end counts against the retry limit: only what says something about the job.
    public var countsAsFailure: Bool {
        switch self {
        case .lost, .stalled, .transientFailure: return true
        // Not the job's fault (BYE, a coordinator restart), or a lease its worker never got.
        case .released, .orphanExpired, .dropped: return false
        }
    }

    /// The journal's event kind: `lost`, `stalled`, `released`, `orphanExpired`, `dropped`, `transient`.
    public var eventKind: String {
        switch self {
        case .lost: return "lost"
        case .stalled: return "stalled"
        case .released: return "released"
        case .orphanExpired: return "orphanExpired"
        case .dropped: return "dropped"
        case .transientFailure: return "transient"
        }
    }

    /// Human-readable reason, journaled with the end.
    public var reason: String {
        switch self {
        case .lost: return "worker lost (no heartbeat for the liveness window)"
        case .stalled: return "stalled (step counter did not advance for the stall window)"
        case .released: return "released by its worker (BYE)"
        case .orphanExpired: return "orphaned lease not re-adopted after coordinator restart"
        case .transientFailure(let message): return "transient failure: \(message)"
        case .dropped: return "dropped by its worker (READY without it)"
        }
    }
}

/// One decision of the scheduler, for `Store.commit(_:)` (all of one poll round in one
/// transaction). The journal refuses a step its state does not allow (`StoreError.invalidTransition`)
/// and decides nothing itself.
public enum Transition: Sendable, Equatable {
    /// queued at `attempt`, its dependency done → running on `worker`.
    case lease(jobId: Int, attempt: Int, worker: String)
    /// orphaned at `attempt` → running on `worker`, which still holds the lease.
    case adopt(jobId: Int, attempt: Int, worker: String)
    /// The first valid result: running or orphaned at `attempt` → done; the result is stored (a
    /// warm start's with its checkpoint, other kinds without).
    case result(jobId: Int, attempt: Int, result: [UInt8], checkpoint: [UInt8]?, wallSeconds: Double, worker: String)
    /// A counted `failed deterministic` result: running or orphaned at `attempt` → failed
    /// (deterministic); the message is stored as the job's result.
    case deterministicFailure(jobId: Int, attempt: Int, message: String, wallSeconds: Double, worker: String)
    /// The lease at `attempt` ended without a result (`end`, held by `worker`): → queued at
    /// attempt + 1, with `failures` counted against the retry limit so far.
    case requeue(jobId: Int, attempt: Int, end: LeaseEnd, worker: String?, failures: Int)
    /// The job ends failed at `attempt`: `exhausted` when its lease ended (`end`) with the retry
    /// limit reached (`failures` counted), `dependency` when its warm start failed (from any state
    /// that has not ended).
    case fail(jobId: Int, attempt: Int, failure: JobFailure, reason: String, end: LeaseEnd?, worker: String?,
              failures: Int)
    /// A worker admitted by READY (`identity` is its routing id): inserted, or its details and
    /// last-seen time updated; one `worker` event.
    case worker(identity: String, name: String, host: String, pid: Int, cores: Int, buildCPU: String, version: String)
    /// An admitted worker left (BYE), was lost or was refused: its last-seen time becomes now and
    /// one `workerGone` event holds `reason`. A worker the journal never saw gets only the event.
    case workerGone(identity: String, reason: String)
    /// A RESULT the coordinator did not count, classified by the coordinator: one `duplicate` or
    /// `stale` event naming the job, attempt, outcome and worker; no job changes. Network input:
    /// it never fails the round (an unknown job writes nothing).
    case misfit(jobId: Int, attempt: Int, kind: MisfitKind, outcome: Outcome, worker: String)
    /// A failed job (`exhausted` or `dependency`) or a cancelled one at `attempt` gets a new
    /// attempt: → queued at attempt + 1 with `failures` counted against the retry limit (0 after a
    /// user's retry; unchanged when a higher retry limit allows more). `reason` names who decided.
    /// A deterministic failure is a result and is refused.
    case retry(jobId: Int, attempt: Int, failures: Int, reason: String)
    /// A job that has no result (queued, a lease no coordinator holds any more, or failed
    /// `exhausted`/`dependency`) at `attempt` is not wanted: → cancelled. `reason` names who decided.
    case cancel(jobId: Int, attempt: Int, reason: String)
}
