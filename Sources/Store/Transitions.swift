// The journal side of the job life cycle (Lifecycle.swift): each `Transition` is a decision the
// scheduler made; applying it checks that the job's journaled state allows it and records it,
// with its events. Nothing here decides a retry, a failure or a cascade.
import Foundation
import GRDB
import SweepProtocol

extension Store {
    /// Records the decisions of one poll round in one transaction (one fsync): all of them or,
    /// if any is not a legal step from what the journal holds, none (`invalidTransition`).
    public func commit(_ transitions: [Transition]) throws(StoreError) {
        if transitions.isEmpty { return }
        var rows = try journalRows()
        journalRowCache = nil  // one owner while the commit changes them (no copy); read again if it fails
        try write("commit \(transitions.count) transitions", keepingJournalRows: true) { db, now in
            let statements = try journalStatements(db)
            for transition in transitions {
                try apply(transition, db, statements, now: now, rows: &rows)
            }
        }
        journalRowCache = rows
    }

    /// The rows transitions are checked against: read once, then kept in step by `commit`.
    private func journalRows() throws(StoreError) -> JournalRows {
        if let journalRowCache { return journalRowCache }
        return try read("read the job states") { db in
            var rows = JournalRows()
            let statement = try db.makeStatement(sql: """
                SELECT id, kind, state, attempt, dependsOn, retries, leaseWorker, failure FROM jobs
                """)
            let cursor = try Row.fetchCursor(statement)
            while let row = try cursor.next() {
                let id: Int = row[0]
                guard let kind = JobKind(rawValue: row[1]), let state = JobState(rawValue: row[2]) else {
                    throw StoreError.invalidArgument(operation: "read job \(id)",
                                                     detail: "unknown kind or state in the journal")
                }
                rows.byId[id] = JobRow(id: id, kind: kind, state: state, attempt: row[3], dependsOn: row[4],
                                       retries: row[5], leaseWorker: row[6], failure: row[7])
            }
            return rows
        }
    }

    /// On coordinator start: every running lease becomes orphaned (orphans of an earlier restart
    /// get a new grace), and is returned so the scheduler can wait for its worker.
    public func orphanRunningLeases() throws(StoreError) -> [Lease] {
        try write("orphan the running leases") { db, now in
            let leases = try Row.fetchAll(db, sql: """
                SELECT id, attempt, leaseWorker, leaseStartedAt FROM jobs
                WHERE state IN ('running', 'orphaned') ORDER BY id
                """).map { row in
                Lease(jobId: row["id"], attempt: row["attempt"], worker: row["leaseWorker"],
                      startedAt: Date(timeIntervalSince1970: row["leaseStartedAt"]))
            }
            try db.execute(sql: """
                UPDATE jobs SET state = 'orphaned', orphanedAt = ? WHERE state IN ('running', 'orphaned')
                """, arguments: [now])
            let statements = try journalStatements(db)
            for lease in leases {
                try appendEvent(statements, now: now, jobId: lease.jobId, attempt: lease.attempt, kind: "orphaned",
                                worker: lease.worker, message: "coordinator restarted; waiting for re-adoption")
            }
            return leases
        }
    }
}

// MARK: - Transition bodies (inside a write transaction)

/// The columns a transition is checked against.
struct JobRow {
    let id: Int
    let kind: JobKind
    var state: JobState
    var attempt: Int
    let dependsOn: Int?
    var retries: Int
    var leaseWorker: String?
    var failure: String?
}

/// Every journaled job's `JobRow`, as the journal holds it. The Store is the journal's only writer
/// (its lock file keeps every other process out), so the rows stay what a SELECT would return:
/// each commit updates them with its SQL, and a commit that fails or any other write drops them,
/// to be read again.
struct JournalRows {
    var byId: [Int: JobRow] = [:]

    subscript(id: Int) -> JobRow? { byId[id] }

    mutating func update(_ id: Int, _ change: (inout JobRow) -> Void) {
        guard var row = byId[id] else { return }
        change(&row)
        byId[id] = row
    }
}

/// The job, if `transition` (named `operation`) is a legal step from its journaled state: in one
/// of `states` at `attempt`. Refusals name what the journal holds instead.
private func require(_ rows: JournalRows, _ operation: String, _ jobId: Int, _ attempt: Int,
                     in states: Set<JobState>) throws -> JobRow {
    guard let job = rows[jobId] else {
        throw StoreError.invalidTransition(operation: operation, jobId: jobId, attempt: attempt, detail: "no such job")
    }
    guard states.contains(job.state), job.attempt == attempt else {
        throw StoreError.invalidTransition(
            operation: operation, jobId: jobId, attempt: attempt,
            detail: "the job is \(job.state.rawValue) at attempt \(job.attempt), not "
                + states.map(\.rawValue).sorted().joined(separator: " or ") + " at attempt \(attempt)")
    }
    return job
}

private let leased: Set<JobState> = [.running, .orphaned]

private func apply(_ transition: Transition, _ db: Database, _ statements: JournalStatements, now: Double,
                   rows: inout JournalRows) throws {
    switch transition {
    case let .lease(jobId, attempt, worker):
        let job = try require(rows, "lease", jobId, attempt, in: [.queued])
        if let dependency = job.dependsOn {
            let state = rows[dependency]?.state
            guard state == .done else {
                throw StoreError.invalidTransition(operation: "lease", jobId: jobId, attempt: attempt,
                                                   detail: "its dependency, job \(dependency), is \(state?.rawValue ?? "missing"), not done")
            }
        }
        try statements.run(.lease) { $0.text(1, worker); $0.double(2, now); $0.int(3, jobId) }
        rows.update(jobId) { $0.state = .running; $0.leaseWorker = worker }
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt, kind: "dispatched", worker: worker, message: nil)

    case let .adopt(jobId, attempt, worker):
        let job = try require(rows, "adopt", jobId, attempt, in: [.orphaned])
        try db.cachedStatement(sql: "UPDATE jobs SET state = 'running', leaseWorker = ?, orphanedAt = NULL WHERE id = ?")
            .execute(arguments: [worker, jobId])
        rows.update(jobId) { $0.state = .running; $0.leaseWorker = worker }
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt, kind: "adopted", worker: worker,
                        message: job.leaseWorker == worker ? nil : "leased to \(job.leaseWorker ?? "?") before")

    case let .result(jobId, attempt, result, checkpoint, wallSeconds, worker):
        let job = try require(rows, "record the result", jobId, attempt, in: leased)
        guard (job.kind == .warmStart) == (checkpoint != nil) else {
            throw StoreError.invalidArgument(
                operation: "record the result of job \(jobId)",
                detail: job.kind == .warmStart ? "a warm-start result needs its checkpoint"
                    : "a \(job.kind.rawValue) result carries no checkpoint")
        }
        try result.withUnsafeBytes { result in
            try withOptionalBytes(checkpoint) { checkpoint in
                try statements.run(.result) {
                    $0.int(1, jobId); $0.int(2, attempt); $0.blob(3, result); $0.blob(4, checkpoint)
                    $0.double(5, wallSeconds); $0.text(6, worker); $0.double(7, now)
                }
            }
        }
        try statements.run(.done) { $0.double(1, now); $0.int(2, jobId) }
        rows.update(jobId) { $0.state = .done; $0.leaseWorker = nil }
        // No `done` event: the result row says the same (job, attempt, worker, committedAt).

    case let .deterministicFailure(jobId, attempt, message, wallSeconds, worker):
        let job = try require(rows, "record the failure", jobId, attempt, in: leased)
        try db.cachedStatement(sql: """
            INSERT INTO results (jobId, attempt, outcome, message, wallSeconds, worker, committedAt)
            VALUES (?, ?, 'failed', ?, ?, ?, ?)
            """).execute(arguments: [jobId, attempt, message, wallSeconds, worker, now])
        try endFailed(db, statements, now: now, job: job, failure: .deterministic, reason: message, retries: job.retries,
                      worker: worker, rows: &rows)

    case let .requeue(jobId, attempt, end, worker, failures):
        let job = try require(rows, "re-queue", jobId, attempt, in: leased)
        try requireFailures(job, "re-queue", failures, end: end)
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt, kind: end.eventKind, worker: worker ?? job.leaseWorker,
                        message: end.reason)
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'queued', attempt = attempt + 1, retries = ?, lastError = ?, leaseWorker = NULL,
              leaseStartedAt = NULL, orphanedAt = NULL WHERE id = ?
            """).execute(arguments: [failures, end.reason, jobId])
        rows.update(jobId) { $0.state = .queued; $0.attempt += 1; $0.retries = failures; $0.leaseWorker = nil }
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt + 1, kind: "requeued", worker: nil,
                        message: "\(failures) failed attempt\(failures == 1 ? "" : "s") so far")

    case let .fail(jobId, attempt, failure, reason, end, worker, failures):
        switch failure {
        case .exhausted:
            guard let end else {
                throw StoreError.invalidArgument(operation: "fail job \(jobId)", detail: "an exhausted job ends a lease")
            }
            let job = try require(rows, "fail (exhausted)", jobId, attempt, in: leased)
            try requireFailures(job, "fail (exhausted)", failures, end: end)
            try appendEvent(statements, now: now, jobId: jobId, attempt: attempt, kind: end.eventKind,
                            worker: worker ?? job.leaseWorker, message: end.reason)
            try endFailed(db, statements, now: now, job: job, failure: .exhausted, reason: reason, retries: failures, worker: worker,
                          rows: &rows)
        case .dependency:
            let job = try require(rows, "fail (dependency)", jobId, attempt, in: [.queued, .running, .orphaned])
            try endFailed(db, statements, now: now, job: job, failure: .dependency, reason: reason, retries: job.retries,
                          worker: worker, rows: &rows)
        case .deterministic:
            throw StoreError.invalidArgument(operation: "fail job \(jobId)",
                                             detail: "a deterministic failure is recorded with its message as a result")
        }

    case let .retry(jobId, attempt, failures, reason):
        let job = try require(rows, "retry", jobId, attempt, in: [.failed, .cancelled])
        guard job.failure != JobFailure.deterministic.rawValue else {
            throw StoreError.invalidTransition(operation: "retry", jobId: jobId, attempt: attempt,
                                               detail: "its deterministic failure is its result")
        }
        guard failures >= 0 && failures <= job.retries else {
            throw StoreError.invalidTransition(
                operation: "retry", jobId: jobId, attempt: attempt,
                detail: "\(failures) counted failures after a retry; the journal counts \(job.retries), and a retry never adds one")
        }
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt + 1, kind: "retried", worker: nil, message: reason)
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'queued', attempt = attempt + 1, retries = ?, failure = NULL, finishedAt = NULL
            WHERE id = ?
            """).execute(arguments: [failures, jobId])
        rows.update(jobId) { $0.state = .queued; $0.attempt += 1; $0.retries = failures; $0.failure = nil }

    case let .cancel(jobId, attempt, reason):
        let job = try require(rows, "cancel", jobId, attempt, in: [.queued, .running, .orphaned, .failed])
        guard job.failure != JobFailure.deterministic.rawValue else {
            throw StoreError.invalidTransition(operation: "cancel", jobId: jobId, attempt: attempt,
                                               detail: "its deterministic failure is its result")
        }
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt, kind: "cancelled", worker: job.leaseWorker,
                        message: reason)
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'cancelled', failure = NULL, lastError = ?, finishedAt = ?, leaseWorker = NULL,
              leaseStartedAt = NULL, orphanedAt = NULL WHERE id = ?
            """).execute(arguments: ["cancelled: \(reason)", now, jobId])
        rows.update(jobId) { $0.state = .cancelled; $0.failure = nil; $0.leaseWorker = nil }

    case let .worker(identity, name, host, pid, cores, buildCPU, version):
        try db.cachedStatement(sql: """
            INSERT INTO workers (identity, name, host, pid, cores, buildCPU, version, firstSeen, lastSeen)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (identity) DO UPDATE SET name = excluded.name, host = excluded.host, pid = excluded.pid,
              cores = excluded.cores, buildCPU = excluded.buildCPU, version = excluded.version,
              lastSeen = excluded.lastSeen
            """).execute(arguments: [identity, name, host, pid, cores, buildCPU, version, now, now])
        try appendEvent(statements, now: now, jobId: nil, attempt: nil, kind: "worker", worker: identity,
                        message: "\(name) on \(host), \(cores) cores, \(buildCPU), \(version)")

    case let .workerGone(identity, reason):
        try db.cachedStatement(sql: "UPDATE workers SET lastSeen = ? WHERE identity = ?").execute(arguments: [now, identity])
        try appendEvent(statements, now: now, jobId: nil, attempt: nil, kind: "workerGone", worker: identity, message: reason)

    case let .misfit(jobId, attempt, kind, outcome, worker):
        guard let job = rows[jobId] else { return }  // garbage must not grow the journal
        var message = "\(outcome.rawValue) result, not counted; the job is \(job.state.rawValue) at attempt \(job.attempt)"
        if job.state.isLeased && job.attempt == attempt {
            message += " (the journal holds this attempt as the current lease: the coordinator disagrees)"
        }
        try appendEvent(statements, now: now, jobId: jobId, attempt: attempt, kind: kind.rawValue, worker: worker, message: message)
    }
}

/// A lease end may add one counted failure to the job's count, or none; the count never shrinks.
private func requireFailures(_ job: JobRow, _ operation: String, _ failures: Int, end: LeaseEnd) throws {
    let expected = job.retries + (end.countsAsFailure ? 1 : 0)
    guard failures == expected else {
        throw StoreError.invalidTransition(
            operation: operation, jobId: job.id, attempt: job.attempt,
            detail: "\(failures) counted failures after a \(end.eventKind) lease; the journal counts \(expected)")
    }
}

/// Ends the job failed (the scheduler fails its dependents with transitions of their own).
private func endFailed(_ db: Database, _ statements: JournalStatements, now: Double, job: JobRow, failure: JobFailure, reason: String, retries: Int,
                       worker: String?, rows: inout JournalRows) throws {
    try db.cachedStatement(sql: """
        UPDATE jobs SET state = 'failed', failure = ?, lastError = ?, finishedAt = ?, retries = ?, leaseWorker = NULL,
          leaseStartedAt = NULL, orphanedAt = NULL WHERE id = ?
        """).execute(arguments: [failure.rawValue, reason, now, retries, job.id])
    rows.update(job.id) { $0.state = .failed; $0.failure = failure.rawValue; $0.retries = retries; $0.leaseWorker = nil }
    try appendEvent(statements, now: now, jobId: job.id, attempt: job.attempt, kind: "failed", worker: worker,
                    message: "\(failure.rawValue): \(reason)")
}

func appendEvent(_ statements: JournalStatements, now: Double, jobId: Int?, attempt: Int?, kind: String, worker: String?,
                 message: String?) throws {
    try statements.run(.event) {
        $0.double(1, now); $0.int(2, jobId); $0.int(3, attempt); $0.text(4, kind); $0.text(5, worker); $0.text(6, message)
    }
}

/// `body` with the bytes of `bytes`, or with nil.
private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}
