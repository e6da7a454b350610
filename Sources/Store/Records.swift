// What the journal hands back: plain values, no GRDB types, so the scheduler and the CLI never
// import GRDB.
import Foundation
import SweepProtocol

/// Where a job stands.
public enum JournalState: String, Sendable, CaseIterable {
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
}

/// Why a failed job failed. Only `deterministic` is a result of the job itself: the other two are
/// circumstances, and `Store.retryFailed()` gives such jobs another round.
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

/// Why a lease ends without a result.
public enum ExpiryReason: String, Sendable, CaseIterable {
    /// No traffic from the worker for the liveness window. Counts towards the retry limit.
    case lost
    /// The step counter did not advance for the stall window. Counts towards the retry limit.
    case stalled
    /// The worker re-sent READY without this lease: it no longer holds it. Counts.
    case dropped
    /// The worker said BYE: not the job's fault, so it does not count towards the retry limit.
    case released
    /// An orphaned lease was not re-adopted within the grace after a coordinator restart. Does
    /// not count.
    case orphanExpired

    /// Whether this end counts towards the retry limit (as Coordinator's `LeaseEnd`).
    public var countsAsRetry: Bool {
        switch self {
        case .lost, .stalled: return true
        // A lease its worker never got (lost on a reconnect) says nothing about the job.
        case .released, .orphanExpired, .dropped: return false
        }
    }
}

/// One job as journaled.
public struct JobRecord: Sendable, Equatable {
    public let id: Int
    public let key: String
    public let kind: JobKind
    public let seedIndex: Int
    public let dependsOn: Int?
    /// Expected cost in samples (dispatch priority).
    public let cost: Int
    public let state: JournalState
    /// Current lease's attempt (running, orphaned), next lease's (queued), or last one's (ended).
    public let attempt: Int
    public let leaseWorker: String?
    public let leaseStartedAt: Date?
    public let orphanedAt: Date?
    /// Failures counted towards the retry limit (transient failures, lost and stalled leases).
    public let retries: Int
    public let failure: JobFailure?
    public let lastError: String?
    public let finishedAt: Date?
}

/// A lease as journaled: what a restarted coordinator waits for.
public struct Lease: Sendable, Equatable, Hashable {
    public let jobId: Int
    public let attempt: Int
    public let worker: String
    public let startedAt: Date

    public init(jobId: Int, attempt: Int, worker: String, startedAt: Date) {
        self.jobId = jobId
        self.attempt = attempt
        self.worker = worker
        self.startedAt = startedAt
    }
}

/// What a RESULT did to the journal.
public enum ResultVerdict: Sendable, Equatable {
    /// The first valid result: the job is done. ACK it.
    case counted
    /// The job already holds the result of this very attempt (a re-delivery). Logged; ACK it.
    case duplicate
    /// An older attempt, or an attempt whose lease expired. Logged, never counted; ACK it.
    case stale
    /// An attempt that was never leased. Logged; answer `ERROR notLeased`.
    case notLeased
    /// No such job. Nothing written (garbage must not grow the journal); answer `ERROR unknownJob`.
    case unknownJob
}

/// What a failed RESULT did to the journal.
public enum FailureVerdict: Sendable, Equatable {
    /// The job ended failed; `blocked` are the jobs that depended on it, failed with it.
    case failed(blocked: [Int])
    /// A transient failure under the retry limit: queued again for this attempt.
    case requeued(attempt: Int)
    case duplicate
    case stale
    case notLeased
    case unknownJob
}

/// What the end of a lease without a result did.
public enum ExpiryVerdict: Sendable, Equatable {
    /// Queued again for this attempt.
    case requeued(attempt: Int)
    /// The retry limit was reached; `blocked` are the dependents failed with it.
    case failed(blocked: [Int])
}

/// Why the coordinator did not count a RESULT (PROTOCOL.md, "first valid result wins").
public enum MisfitKind: String, Sendable, CaseIterable {
    /// The job already has its counted result.
    case duplicate
    /// Any other attempt that is not the job's current lease (older, expired, failed after retries).
    case stale
}

/// What journaling an uncounted RESULT did (`Transition.misfit`). Such a result never changes a
/// job, so the transition never throws for the job's state: a round's commit must not fail
/// because of network input.
public enum MisfitVerdict: Sendable, Equatable {
    /// The event was written; the journal agrees that (job, attempt) is not the current lease.
    case journaled
    /// The event was written, but the journal holds (job, attempt) as the current lease: the
    /// coordinator and its journal disagree (a bug on one side). The job is left as it is.
    case currentLease
    /// No such job: nothing written (garbage must not grow the journal).
    case unknownJob
}

/// One state change, for `Store.commit(_:)` (many in one transaction).
public enum Transition: Sendable, Equatable {
    case lease(jobId: Int, attempt: Int, worker: String)
    case result(jobId: Int, attempt: Int, result: [UInt8], checkpoint: [UInt8]?, wallSeconds: Double, worker: String)
    case failure(jobId: Int, attempt: Int, kind: FailureKind, message: String, wallSeconds: Double, worker: String)
    case expire(jobId: Int, attempt: Int, reason: ExpiryReason, message: String)
    case adopt(jobId: Int, attempt: Int, worker: String)
    /// A worker admitted by READY (`identity` is its routing id): inserted, or its details and
    /// last-seen time updated; one `worker` event.
    case worker(identity: String, name: String, host: String, pid: Int, cores: Int, buildCPU: String, version: String)
    /// An admitted worker left (BYE), was lost or was refused: its last-seen time becomes now and
    /// one `workerGone` event holds `reason`. A worker the journal never saw gets only the event.
    case workerGone(identity: String, reason: String)
    /// A RESULT the coordinator did not count, classified by the coordinator: one `duplicate` or
    /// `stale` event naming the job, attempt, outcome and worker; no job changes.
    case misfit(jobId: Int, attempt: Int, kind: MisfitKind, outcome: Outcome, worker: String)
}

/// What one transition of a batch did.
public enum TransitionVerdict: Sendable, Equatable {
    case leased
    case adopted
    case result(ResultVerdict)
    case failure(FailureVerdict)
    case expiry(ExpiryVerdict)
    /// `Transition.worker` or `.workerGone`: the worker row and its event were written.
    case workerRecorded
    case misfit(MisfitVerdict)
}

/// How many RESULTs the journal logged without counting them (for `status`).
public struct MisfitCounts: Sendable, Equatable {
    /// Results for jobs that already had their counted result.
    public var duplicate: Int
    /// Results for attempts that were not the current lease.
    public var stale: Int

    public init(duplicate: Int = 0, stale: Int = 0) {
        self.duplicate = duplicate
        self.stale = stale
    }
}

/// A job's first valid result, for export.
public struct ResultRecord: Sendable, Equatable {
    public let jobId: Int
    public let key: String
    public let attempt: Int
    /// `.done`, or `.failed` for a deterministic failure.
    public let outcome: Outcome
    /// The result JSON (done only).
    public let result: [UInt8]?
    /// The warm start's checkpoint (only when asked for).
    public let checkpoint: [UInt8]?
    /// The failure message (failed only).
    public let message: String?
    public let wallSeconds: Double
    public let worker: String
    public let committedAt: Date
}

/// One line of the append-only event journal.
public struct EventRecord: Sendable, Equatable {
    public let seq: Int
    public let at: Date
    public let jobId: Int?
    public let attempt: Int?
    /// `dispatched`, `adopted`, `orphaned`, `lost`, `stalled`, `released`, `requeued`, `transient`,
    /// `failed`, `done`, `duplicate`, `stale`, `notLeased`, `retried`, `worker`, `workerGone`,
    /// `refusedWorker`.
    public let kind: String
    public let worker: String?
    public let message: String?
}

/// A worker that announced itself (READY). `lastSeen` is its last READY, or when the coordinator
/// saw it leave or declared it lost (the journal does not record every heartbeat).
public struct WorkerRecord: Sendable, Equatable {
    /// Routing id `host/pid/nonce`.
    public let identity: String
    public let name: String
    public let host: String
    public let pid: Int
    public let cores: Int
    public let buildCPU: String
    public let version: String
    public let firstSeen: Date
    public let lastSeen: Date

    public init(identity: String, name: String, host: String, pid: Int, cores: Int, buildCPU: String,
                version: String, firstSeen: Date, lastSeen: Date) {
        self.identity = identity
        self.name = name
        self.host = host
        self.pid = pid
        self.cores = cores
        self.buildCPU = buildCPU
        self.version = version
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}

/// Number of jobs in each state.
public struct StateCounts: Sendable, Equatable {
    public var queued = 0
    public var running = 0
    public var orphaned = 0
    public var done = 0
    public var failed = 0

    public init() {}

    public var total: Int { queued + running + orphaned + done + failed }
    /// Every job has ended (done or failed).
    public var isComplete: Bool { done + failed == total }
}

/// How the journal's connection is set up.
public struct ConnectionSettings: Sendable, Equatable {
    /// `wal` for a writable journal.
    public let journalMode: String
    /// `full`: the WAL is fsynced at every commit.
    public let synchronous: String
    public let foreignKeys: Bool
    public let busyTimeoutMs: Int

    public init(journalMode: String, synchronous: String, foreignKeys: Bool, busyTimeoutMs: Int) {
        self.journalMode = journalMode
        self.synchronous = synchronous
        self.foreignKeys = foreignKeys
        self.busyTimeoutMs = busyTimeoutMs
    }
}
