// The job state machine as journal transactions (PROTOCOL.md, "Lease expiry", "Coordinator
// restart"). Each transition reads the job's journaled state and refuses what that state does not
// allow, so a scheduler bug surfaces as an error instead of a corrupt journal:
//
//   queued ──lease──▶ running ──result──▶ done
//     ▲                │  ▲ │ └─failure deterministic──▶ failed (deterministic)
//     │                │  │ └──failure transient / expire──▶ queued (attempt + 1) or failed (exhausted)
//     │   orphanRunningLeases  adopt
//     │                ▼  │
//     └─requeueOrphans─ orphaned ──result──▶ done
//
// Network input (results and failures) never throws for its state: it is classified (counted,
// duplicate, stale, notLeased, unknownJob) so that the coordinator can answer it.
import Foundation
import GRDB
import SweepProtocol

extension Store {
    /// Leases a queued job whose dependency is done: queued → running. `attempt` must be the
    /// job's next attempt (`JobRecord.attempt`).
    public func lease(jobId: Int, attempt: Int, worker: String) throws(StoreError) {
        _ = try apply([.lease(jobId: jobId, attempt: attempt, worker: worker)], "lease job \(jobId)")
    }

    /// Records a RESULT `done`. Counted only when (job, attempt) is the current running or
    /// orphaned lease; the result row is written once per job, ever. A warm-start result must carry
    /// its checkpoint, other kinds none.
    public func recordResult(jobId: Int, attempt: Int, result: [UInt8], checkpoint: [UInt8]?, wallSeconds: Double,
                             worker: String) throws(StoreError) -> ResultVerdict {
        let transition = Transition.result(jobId: jobId, attempt: attempt, result: result, checkpoint: checkpoint,
                                           wallSeconds: wallSeconds, worker: worker)
        guard case let .result(verdict) = try apply([transition], "record the result of job \(jobId)")[0] else {
            fatalError("a result transition answered with another verdict")
        }
        return verdict
    }

    /// Records a RESULT `failed`. Deterministic: the job ends failed with the message as its
    /// result (never retried). Transient: counted towards the retry limit, then queued again with
    /// attempt + 1, or failed (exhausted) at the limit.
    public func recordFailure(jobId: Int, attempt: Int, kind: FailureKind, message: String, wallSeconds: Double,
                              worker: String) throws(StoreError) -> FailureVerdict {
        let transition = Transition.failure(jobId: jobId, attempt: attempt, kind: kind, message: message,
                                            wallSeconds: wallSeconds, worker: worker)
        guard case let .failure(verdict) = try apply([transition], "record the failure of job \(jobId)")[0] else {
            fatalError("a failure transition answered with another verdict")
        }
        return verdict
    }

    /// Ends the current lease without a result: queued again with attempt + 1, or failed
    /// (exhausted) when a counted reason reaches the retry limit.
    public func expire(jobId: Int, attempt: Int, reason: ExpiryReason, message: String) throws(StoreError)
        -> ExpiryVerdict {
        let transition = Transition.expire(jobId: jobId, attempt: attempt, reason: reason, message: message)
        guard case let .expiry(verdict) = try apply([transition], "expire the lease of job \(jobId)")[0] else {
            fatalError("an expiry transition answered with another verdict")
        }
        return verdict
    }

    /// Re-adopts an orphaned lease for the worker that still runs it: orphaned → running.
    public func adopt(jobId: Int, attempt: Int, worker: String) throws(StoreError) {
        _ = try apply([.adopt(jobId: jobId, attempt: attempt, worker: worker)], "adopt the lease of job \(jobId)")
    }

    /// Applies many transitions in one transaction (one fsync): all of them or, if any throws,
    /// none. The event loop batches what one poll round received, commits, then ACKs.
    public func commit(_ transitions: [Transition]) throws(StoreError) -> [TransitionVerdict] {
        if transitions.isEmpty { return [] }
        return try apply(transitions, "commit \(transitions.count) transitions")
    }

    private func apply(_ transitions: [Transition], _ operation: String) throws(StoreError) -> [TransitionVerdict] {
        let limit = options.retryLimit
        return try write(operation) { db, now in
            var verdicts: [TransitionVerdict] = []
            verdicts.reserveCapacity(transitions.count)
            for transition in transitions {
                switch transition {
                case let .lease(jobId, attempt, worker):
                    try applyLease(db, now: now, jobId: jobId, attempt: attempt, worker: worker)
                    verdicts.append(.leased)
                case let .result(jobId, attempt, result, checkpoint, wallSeconds, worker):
                    verdicts.append(.result(try applyResult(db, now: now, jobId: jobId, attempt: attempt,
                                                            result: result, checkpoint: checkpoint,
                                                            wallSeconds: wallSeconds, worker: worker)))
                case let .failure(jobId, attempt, kind, message, wallSeconds, worker):
                    verdicts.append(.failure(try applyFailure(db, now: now, limit: limit, jobId: jobId,
                                                              attempt: attempt, kind: kind, message: message,
                                                              wallSeconds: wallSeconds, worker: worker)))
                case let .expire(jobId, attempt, reason, message):
                    verdicts.append(.expiry(try applyExpire(db, now: now, limit: limit, jobId: jobId, attempt: attempt,
                                                            reason: reason, message: message)))
                case let .adopt(jobId, attempt, worker):
                    try applyAdopt(db, now: now, jobId: jobId, attempt: attempt, worker: worker)
                    verdicts.append(.adopted)
                case let .worker(identity, name, host, pid, cores, buildCPU, version):
                    try applyWorker(db, now: now, identity: identity, name: name, host: host, pid: pid, cores: cores,
                                    buildCPU: buildCPU, version: version)
                    verdicts.append(.workerRecorded)
                case let .workerGone(identity, reason):
                    try db.cachedStatement(sql: "UPDATE workers SET lastSeen = ? WHERE identity = ?")
                        .execute(arguments: [now, identity])
                    try appendEvent(db, now: now, jobId: nil, attempt: nil, kind: "workerGone", worker: identity,
                                    message: reason)
                    verdicts.append(.workerRecorded)
                case let .misfit(jobId, attempt, kind, outcome, worker):
                    verdicts.append(.misfit(try applyMisfit(db, now: now, jobId: jobId, attempt: attempt, kind: kind,
                                                            outcome: outcome, worker: worker)))
                }
            }
            return verdicts
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
            for lease in leases {
                try appendEvent(db, now: now, jobId: lease.jobId, attempt: lease.attempt, kind: "orphaned",
                                worker: lease.worker, message: "coordinator restarted; waiting for re-adoption")
            }
            return leases
        }
    }

    /// Re-queues (attempt + 1, not counted as a retry) the orphans orphaned before `cutoff`:
    /// their workers did not come back within the grace. Returns (job id, new attempt).
    public func requeueOrphans(orphanedBefore cutoff: Date) throws(StoreError) -> [(jobId: Int, attempt: Int)] {
        try write("re-queue orphaned leases") { db, now in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, attempt, leaseWorker FROM jobs WHERE state = 'orphaned' AND orphanedAt < ? ORDER BY id
                """, arguments: [cutoff.timeIntervalSince1970])
            var requeued: [(jobId: Int, attempt: Int)] = []
            for row in rows {
                let id: Int = row["id"], attempt: Int = row["attempt"]
                try db.execute(sql: """
                    UPDATE jobs SET state = 'queued', attempt = attempt + 1, leaseWorker = NULL, leaseStartedAt = NULL,
                      orphanedAt = NULL WHERE id = ?
                    """, arguments: [id])
                try appendEvent(db, now: now, jobId: id, attempt: attempt + 1, kind: "requeued",
                                worker: row["leaseWorker"],
                                message: "attempt \(attempt) was not re-adopted after the coordinator restart")
                requeued.append((id, attempt + 1))
            }
            return requeued
        }
    }

    /// Gives every job that failed for circumstances (exhausted, dependency) a new round: queued,
    /// retries reset, attempt + 1 for exhausted ones so late results of old attempts stay stale.
    /// Deterministic failures are results and stay. Returns the re-queued job ids.
    public func retryFailed() throws(StoreError) -> [Int] {
        try write("retry failed jobs") { db, now in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, attempt, failure FROM jobs WHERE state = 'failed' AND failure IN ('exhausted', 'dependency')
                ORDER BY id
                """)
            for row in rows {
                let id: Int = row["id"], failure: String = row["failure"]
                let attempt: Int = row["attempt"] + (failure == JobFailure.exhausted.rawValue ? 1 : 0)
                try db.execute(sql: """
                    UPDATE jobs SET state = 'queued', attempt = ?, retries = 0, failure = NULL, finishedAt = NULL
                    WHERE id = ?
                    """, arguments: [attempt, id])
                try appendEvent(db, now: now, jobId: id, attempt: attempt, kind: "retried", worker: nil,
                                message: "failed (\(failure)) before; queued again")
            }
            return rows.map { $0["id"] }
        }
    }

    /// Journals a worker's READY (insert, or update of its last-seen time and details).
    public func recordWorker(identity: String, name: String, host: String, pid: Int, cores: Int, buildCPU: String,
                             version: String) throws(StoreError) {
        _ = try apply([.worker(identity: identity, name: name, host: host, pid: pid, cores: cores, buildCPU: buildCPU,
                               version: version)], "record the worker")
    }

    /// Journals a refused worker (REFUSE) with its reason.
    public func recordRefusal(identity: String, reason: String, message: String) throws(StoreError) {
        try write("record the refusal") { db, now in
            try appendEvent(db, now: now, jobId: nil, attempt: nil, kind: "refusedWorker", worker: identity,
                            message: "\(reason): \(message)")
        }
    }
}

// MARK: - Transition bodies (inside a write transaction)

/// The columns a transition decides on.
private struct JobRow {
    let id: Int
    let key: String
    let kind: JobKind
    let state: JournalState
    let attempt: Int
    let dependsOn: Int?
    let retries: Int
    let leaseWorker: String?
    let failure: JobFailure?

    var isLeased: Bool { state == .running || state == .orphaned }

    static func fetch(_ db: Database, _ id: Int) throws -> JobRow? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT id, key, kind, state, attempt, dependsOn, retries, leaseWorker, failure FROM jobs WHERE id = ?
            """), arguments: [id]) else { return nil }
        guard let kind = JobKind(rawValue: row["kind"]), let state = JournalState(rawValue: row["state"]) else {
            throw StoreError.invalidArgument(operation: "read job \(id)",
                                             detail: "unknown kind or state in the journal")
        }
        return JobRow(id: row["id"], key: row["key"], kind: kind, state: state, attempt: row["attempt"],
                      dependsOn: row["dependsOn"], retries: row["retries"], leaseWorker: row["leaseWorker"],
                      failure: (row["failure"] as String?).flatMap(JobFailure.init(rawValue:)))
    }
}

private func requireJob(_ db: Database, _ operation: String, _ jobId: Int, _ attempt: Int) throws -> JobRow {
    guard let job = try JobRow.fetch(db, jobId) else {
        throw StoreError.invalidTransition(operation: operation, jobId: jobId, attempt: attempt, detail: "no such job")
    }
    return job
}

/// The current lease, or a refusal naming what the journal holds instead.
private func requireLease(_ job: JobRow, _ operation: String, _ attempt: Int, states: Set<JournalState>) throws {
    guard states.contains(job.state), job.attempt == attempt else {
        throw StoreError.invalidTransition(
            operation: operation, jobId: job.id, attempt: attempt,
            detail: "the job is \(job.state.rawValue) at attempt \(job.attempt), not "
                + states.map(\.rawValue).sorted().joined(separator: " or ") + " at attempt \(attempt)")
    }
}

private func applyLease(_ db: Database, now: Double, jobId: Int, attempt: Int, worker: String) throws {
    let job = try requireJob(db, "lease", jobId, attempt)
    try requireLease(job, "lease", attempt, states: [.queued])
    if let dependency = job.dependsOn {
        let state = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM jobs WHERE id = ?"),
                                        arguments: [dependency])
        guard state == JournalState.done.rawValue else {
            throw StoreError.invalidTransition(
                operation: "lease", jobId: jobId, attempt: attempt,
                detail: "its dependency, job \(dependency), is \(state ?? "missing"), not done")
        }
    }
    try db.cachedStatement(sql: """
        UPDATE jobs SET state = 'running', leaseWorker = ?, leaseStartedAt = ? WHERE id = ?
        """).execute(arguments: [worker, now, jobId])
    try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: "dispatched", worker: worker, message: nil)
}

private func applyAdopt(_ db: Database, now: Double, jobId: Int, attempt: Int, worker: String) throws {
    let job = try requireJob(db, "adopt", jobId, attempt)
    try requireLease(job, "adopt", attempt, states: [.orphaned])
    try db.cachedStatement(sql: "UPDATE jobs SET state = 'running', leaseWorker = ?, orphanedAt = NULL WHERE id = ?")
        .execute(arguments: [worker, jobId])
    try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: "adopted", worker: worker,
                    message: job.leaseWorker == worker ? nil : "leased to \(job.leaseWorker ?? "?") before")
}

/// A RESULT that is not the current lease's: duplicate (the job holds this attempt's result),
/// stale (an attempt that was leased and ended), or notLeased (never leased).
private enum Misfit: String {
    case duplicate, stale, notLeased
}

private func classifyMisfit(_ db: Database, _ job: JobRow, attempt: Int) throws -> Misfit {
    let resultAttempt = try Int.fetchOne(db.cachedStatement(sql: "SELECT attempt FROM results WHERE jobId = ?"),
                                         arguments: [job.id])
    if resultAttempt == attempt { return .duplicate }
    if attempt < job.attempt { return .stale }
    // The job's own attempt, leased and ended without a result: failed after its last lease (a
    // job failed for its dependency never held a lease at its attempt).
    if attempt == job.attempt && job.state == .failed && job.failure != .dependency { return .stale }
    return .notLeased
}

private func applyWorker(_ db: Database, now: Double, identity: String, name: String, host: String, pid: Int,
                         cores: Int, buildCPU: String, version: String) throws {
    try db.cachedStatement(sql: """
        INSERT INTO workers (identity, name, host, pid, cores, buildCPU, version, firstSeen, lastSeen)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (identity) DO UPDATE SET name = excluded.name, host = excluded.host, pid = excluded.pid,
          cores = excluded.cores, buildCPU = excluded.buildCPU, version = excluded.version,
          lastSeen = excluded.lastSeen
        """).execute(arguments: [identity, name, host, pid, cores, buildCPU, version, now, now])
    try appendEvent(db, now: now, jobId: nil, attempt: nil, kind: "worker", worker: identity,
                    message: "\(name) on \(host), \(cores) cores, \(buildCPU), \(version)")
}

/// An uncounted RESULT as the coordinator classified it. It carries no result bytes (nothing of it
/// is kept) and is checked against nothing but the job's existence and current lease, so a
/// misbehaving worker cannot make the round's transaction fail.
private func applyMisfit(_ db: Database, now: Double, jobId: Int, attempt: Int, kind: MisfitKind, outcome: Outcome,
                         worker: String) throws -> MisfitVerdict {
    guard let job = try JobRow.fetch(db, jobId) else { return .unknownJob }
    let current = job.isLeased && job.attempt == attempt
    var message = "\(outcome.rawValue) result, not counted; the job is \(job.state.rawValue) at attempt \(job.attempt)"
    if current { message += " (the journal holds this attempt as the current lease: the coordinator disagrees)" }
    try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: kind.rawValue, worker: worker, message: message)
    return current ? .currentLease : .journaled
}

private func applyResult(_ db: Database, now: Double, jobId: Int, attempt: Int, result: [UInt8], checkpoint: [UInt8]?,
                         wallSeconds: Double, worker: String) throws -> ResultVerdict {
    guard let job = try JobRow.fetch(db, jobId) else { return .unknownJob }
    guard (job.kind == .warmStart) == (checkpoint != nil) else {
        throw StoreError.invalidArgument(
            operation: "record the result of job \(jobId)",
            detail: job.kind == .warmStart ? "a warm-start result needs its checkpoint"
                : "a \(job.kind.rawValue) result carries no checkpoint")
    }
    guard job.isLeased && job.attempt == attempt else {
        let misfit = try classifyMisfit(db, job, attempt: attempt)
        try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: misfit.rawValue, worker: worker,
                        message: "result; the job is \(job.state.rawValue) at attempt \(job.attempt)")
        switch misfit {
        case .duplicate: return .duplicate
        case .stale: return .stale
        case .notLeased: return .notLeased
        }
    }
    try db.cachedStatement(sql: """
        INSERT INTO results (jobId, attempt, outcome, result, checkpoint, wallSeconds, worker, committedAt)
        VALUES (?, ?, 'done', ?, ?, ?, ?, ?)
        """).execute(arguments: [jobId, attempt, Data(result), checkpoint.map { Data($0) }, wallSeconds, worker, now])
    try db.cachedStatement(sql: """
        UPDATE jobs SET state = 'done', leaseWorker = NULL, leaseStartedAt = NULL, orphanedAt = NULL, finishedAt = ?
        WHERE id = ?
        """).execute(arguments: [now, jobId])
    try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: "done", worker: worker, message: nil)
    return .counted
}

private func applyFailure(_ db: Database, now: Double, limit: Int, jobId: Int, attempt: Int, kind: FailureKind,
                          message: String, wallSeconds: Double, worker: String) throws -> FailureVerdict {
    guard let job = try JobRow.fetch(db, jobId) else { return .unknownJob }
    guard job.isLeased && job.attempt == attempt else {
        let misfit = try classifyMisfit(db, job, attempt: attempt)
        try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: misfit.rawValue, worker: worker,
                        message: "\(kind.rawValue) failure; the job is \(job.state.rawValue) at attempt \(job.attempt)")
        switch misfit {
        case .duplicate: return .duplicate
        case .stale: return .stale
        case .notLeased: return .notLeased
        }
    }
    switch kind {
    case .deterministic:
        try db.cachedStatement(sql: """
            INSERT INTO results (jobId, attempt, outcome, message, wallSeconds, worker, committedAt)
            VALUES (?, ?, 'failed', ?, ?, ?, ?)
            """).execute(arguments: [jobId, attempt, message, wallSeconds, worker, now])
        let blocked = try endFailed(db, now: now, job: job, failure: .deterministic, reason: message, worker: worker)
        return .failed(blocked: blocked)
    case .transient:
        try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: "transient", worker: worker,
                        message: message)
        switch try retryOrFail(db, now: now, limit: limit, job: job, counted: true, reason: message, worker: worker) {
        case let .requeued(attempt): return .requeued(attempt: attempt)
        case let .failed(blocked): return .failed(blocked: blocked)
        }
    }
}

private func applyExpire(_ db: Database, now: Double, limit: Int, jobId: Int, attempt: Int, reason: ExpiryReason,
                         message: String) throws -> ExpiryVerdict {
    let job = try requireJob(db, "expire", jobId, attempt)
    try requireLease(job, "expire", attempt, states: [.running, .orphaned])
    try appendEvent(db, now: now, jobId: jobId, attempt: attempt, kind: reason.rawValue, worker: job.leaseWorker,
                    message: message)
    return try retryOrFail(db, now: now, limit: limit, job: job, counted: reason.countsAsRetry,
                           reason: "\(reason.rawValue): \(message)", worker: job.leaseWorker)
}

/// Ends the job's current lease: queued with attempt + 1, or failed (exhausted) when a counted
/// failure reaches the retry limit.
private func retryOrFail(_ db: Database, now: Double, limit: Int, job: JobRow, counted: Bool, reason: String,
                         worker: String?) throws -> ExpiryVerdict {
    let retries = job.retries + (counted ? 1 : 0)
    if retries >= limit {
        try db.cachedStatement(sql: "UPDATE jobs SET retries = ? WHERE id = ?")
            .execute(arguments: [retries, job.id])
        let blocked = try endFailed(db, now: now, job: job, failure: .exhausted,
                                    reason: "\(retries) failed attempts; last: \(reason)", worker: worker)
        return .failed(blocked: blocked)
    }
    try db.cachedStatement(sql: """
        UPDATE jobs SET state = 'queued', attempt = attempt + 1, retries = ?, lastError = ?, leaseWorker = NULL,
          leaseStartedAt = NULL, orphanedAt = NULL WHERE id = ?
        """).execute(arguments: [retries, reason, job.id])
    try appendEvent(db, now: now, jobId: job.id, attempt: job.attempt + 1, kind: "requeued", worker: nil,
                    message: "retry \(retries) of \(limit)")
    return .requeued(attempt: job.attempt + 1)
}

/// Ends the job failed and, with it, every queued job that depends on it (transitively): they
/// could never run. Returns those dependents' ids.
private func endFailed(_ db: Database, now: Double, job: JobRow, failure: JobFailure, reason: String,
                       worker: String?) throws -> [Int] {
    try db.cachedStatement(sql: """
        UPDATE jobs SET state = 'failed', failure = ?, lastError = ?, finishedAt = ?, leaseWorker = NULL,
          leaseStartedAt = NULL, orphanedAt = NULL WHERE id = ?
        """).execute(arguments: [failure.rawValue, reason, now, job.id])
    try appendEvent(db, now: now, jobId: job.id, attempt: job.attempt, kind: "failed", worker: worker,
                    message: "\(failure.rawValue): \(reason)")
    var blocked: [Int] = []
    var frontier = [job.id]
    while let parent = frontier.popLast() {
        let children = try Int.fetchAll(
            db.cachedStatement(sql: "SELECT id FROM jobs WHERE dependsOn = ? AND state = 'queued' ORDER BY id"),
            arguments: [parent])
        for child in children {
            try db.cachedStatement(sql: """
                UPDATE jobs SET state = 'failed', failure = 'dependency', lastError = ?, finishedAt = ? WHERE id = ?
                """).execute(arguments: ["job \(job.id) (\(job.key)) failed: \(reason)", now, child])
            try appendEvent(db, now: now, jobId: child, attempt: nil, kind: "failed", worker: nil,
                            message: "dependency: job \(job.id) failed")
        }
        blocked += children
        frontier += children
    }
    return blocked.sorted()
}

func appendEvent(_ db: Database, now: Double, jobId: Int?, attempt: Int?, kind: String, worker: String?,
                 message: String?) throws {
    try db.cachedStatement(sql: """
        INSERT INTO events (at, jobId, attempt, kind, worker, message) VALUES (?, ?, ?, ?, ?, ?)
        """)
        .execute(arguments: [now, jobId, attempt, kind, worker, message])
}
