// What the journal hands back: plain values, no GRDB types, so the scheduler and the CLI never
// import GRDB.
import Foundation
import SweepProtocol

/// One job as journaled: its state. What the grid decides about it (seed index, dependency, cost,
/// spec) is its `JobDescriptor` of the same id, which the journal's job list matches on open.
public struct JobRecord: Sendable, Equatable {
    public let id: Int
    public let key: String
    public let kind: JobKind
    public let state: JobState
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
}

/// Why the coordinator did not count a RESULT (PROTOCOL.md, "first valid result wins").
public enum MisfitKind: String, Sendable, CaseIterable {
    /// The job already has its counted result.
    case duplicate
    /// Any other attempt that is not the job's current lease (older, expired, failed after retries).
    case stale
}

/// How many RESULTs the journal logged without counting them (for `status`).
public struct MisfitCounts: Sendable, Equatable {
    /// Results for jobs that already had their counted result.
    public var duplicate: Int
    /// Results for attempts that were not the current lease.
    public var stale: Int

    public init(duplicate: Int = 0, stale: Int = 0) {
        (self.duplicate, self.stale) = (duplicate, stale)
    }
}

/// A job's first valid result, for export.
/// Which results `Store.results(of:)` reads.
public enum ResultFilter: Sendable, Equatable {
    case all
    /// The results of jobs of one kind.
    case kind(JobKind)
    /// The results of jobs that are not done (failed ones), without their records.
    case notDone
}

/// One worker's share of the journaled results.
public struct WorkerTotals: Sendable, Equatable {
    public let worker: String
    public let results: Int
    public let wallSeconds: Double
    public let firstCommit: Date
    public let lastCommit: Date
}

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
    /// `dispatched`, `adopted`, `orphaned`, `lost`, `stalled`, `released`, `dropped`,
    /// `orphanExpired`, `transient`, `requeued`, `failed`, `duplicate`, `stale`, `retried`,
    /// `cancelled`, `worker`, `workerGone`; `done` in journals of releases before 0.5.0 (a counted
    /// result is its row in `results`).
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
}

/// Number of jobs in each state.
public struct StateCounts: Sendable, Equatable {
    public var queued = 0
    public var running = 0
    public var orphaned = 0
    public var done = 0
    public var failed = 0
    public var cancelled = 0

    public init() {}

    public var total: Int { queued + running + orphaned + done + failed + cancelled }
    /// Every job has ended (done, failed or cancelled).
    public var isComplete: Bool { done + failed + cancelled == total }
}

/// How the journal's connection is set up.
public struct ConnectionSettings: Sendable, Equatable {
    /// `wal` for a writable journal.
    public let journalMode: String
    /// `full`: the WAL is fsynced at every commit.
    public let synchronous: String
    public let foreignKeys: Bool
    public let busyTimeoutMs: Int
}

/// One grid a journal has held (README, "Growing a study"): the first is the grid it was created
/// with, each later one a grid it grew into or dropped values down to.
public struct GridRevision: Sendable, Equatable {
    public let seq: Int
    public let at: Date
    public let specHash: String
    /// Jobs of that grid.
    public let jobCount: Int
    /// Jobs of that grid the previous one lacked (all of them for the first), and jobs of the
    /// previous grid it left out.
    public let added: Int
    public let dropped: Int
    /// `created`, or the line `sweep` printed: `adding 4 jobs: seeds 1 → 2`.
    public let summary: String
}
