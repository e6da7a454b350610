// Read-only views of the journal: what the scheduler loads on start, what `status`, `export` and
// `fit` show. Each is one read transaction, so it sees one consistent state.
import Foundation
import GRDB
import SweepProtocol

extension Store {
    /// Number of jobs in each state.
    public func counts() throws(StoreError) -> StateCounts {
        try read("count jobs") { db in
            var counts = StateCounts()
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
                let n: Int = row["n"]
                switch JobState(rawValue: row["state"]) {
                case .queued: counts.queued = n
                case .running: counts.running = n
                case .orphaned: counts.orphaned = n
                case .done: counts.done = n
                case .failed: counts.failed = n
                case .cancelled: counts.cancelled = n
                case nil: break
                }
            }
            return counts
        }
    }

    /// Queued jobs whose dependency is done, longest first (cost descending, then id). A scan of
    /// the job table: the scheduler keeps its own queue, and this answers checks of the journal.
    public func readyJobs(limit: Int? = nil) throws(StoreError) -> [JobRecord] {
        try read("list ready jobs") { db in
            try Row.fetchAll(db, sql: """
                SELECT \(jobColumns.split(separator: ", ").map { "j.\($0)" }.joined(separator: ", "))
                FROM jobs j LEFT JOIN jobs d ON d.id = j.dependsOn
                WHERE j.state = 'queued' AND (j.dependsOn IS NULL OR d.state = 'done')
                ORDER BY j.cost DESC, j.id LIMIT ?
                """, arguments: [limit ?? -1]).map(jobRecord)
        }
    }

    /// One job, or nil if there is no such id.
    public func job(_ id: Int) throws(StoreError) -> JobRecord? {
        try read("read job \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT \(jobColumns) FROM jobs WHERE id = ?", arguments: [id]).map(jobRecord)
        }
    }

    /// Every job in id order (what a starting scheduler loads); with `notDone`, only those not done.
    public func jobs(notDone: Bool = false) throws(StoreError) -> [JobRecord] {
        try read("list jobs") { db in
            // A cursor reads each row in place; `fetchAll` would copy every row's values first.
            try Array(Row.fetchCursor(db, sql: "SELECT \(jobColumns) FROM jobs \(notDone ? "WHERE state != 'done' " : "")ORDER BY id")
                .map(jobRecord))
        }
    }

    /// The ids of the done jobs, in id order.
    public func doneJobIds() throws(StoreError) -> [Int] {
        try read("list done jobs") { db in
            try Array(Int.fetchCursor(db, sql: "SELECT id FROM jobs WHERE state = 'done' ORDER BY id"))
        }
    }

    /// Every job's first valid result in job id order, for export; checkpoints only when asked
    /// (they are megabytes each); only the results of `filter`'s jobs when it is given.
    public func results(includingCheckpoints: Bool = false, of filter: ResultFilter = .all) throws(StoreError) -> [ResultRecord] {
        try read("read results") { db in
            let checkpoint = includingCheckpoints ? "r.checkpoint" : "NULL AS checkpoint"
            let result = filter == .notDone ? "NULL AS result" : "r.result"
            let condition = switch filter {
            case .all: ""
            case .kind(let kind): "WHERE j.kind = '\(kind.rawValue)'"
            case .notDone: "WHERE j.state != 'done'"
            }
            // From the jobs to their results: a filter on the job reads only its jobs' results.
            return try Array(Row.fetchCursor(db, sql: """
                SELECT r.jobId, j.key, r.attempt, r.outcome, \(result), \(checkpoint), r.message, r.wallSeconds,
                  r.worker, r.committedAt
                FROM jobs j JOIN results r ON r.jobId = j.id \(condition) ORDER BY j.id
                """).map { row in
                // By position: a lookup by name lower-cases it, and this reads every result. The
                // bytes are copied once, from SQLite's buffer.
                let result = try row.withUnsafeData(atIndex: 4) { $0.map { Array($0) } }
                let checkpoint = try row.withUnsafeData(atIndex: 5) { $0.map { Array($0) } }
                return ResultRecord(jobId: row[0], key: row[1], attempt: row[2],
                                    outcome: Outcome(rawValue: row[3]) ?? .failed,
                                    result: result, checkpoint: checkpoint,
                                    message: row[6], wallSeconds: row[7], worker: row[8],
                                    committedAt: Date(timeIntervalSince1970: row[9]))
            })
        }
    }

    /// Per worker: its journaled results, their wall seconds, its first and last commit (what
    /// `status` sums per host), without reading a result.
    public func workerTotals() throws(StoreError) -> [WorkerTotals] {
        try read("sum the results per worker") { db in
            try Row.fetchAll(db, sql: """
                SELECT worker, COUNT(*), SUM(wallSeconds), MIN(committedAt), MAX(committedAt) FROM results GROUP BY worker
                """).map { row in
                WorkerTotals(worker: row[0], results: row[1], wallSeconds: row[2],
                             firstCommit: Date(timeIntervalSince1970: row[3]), lastCommit: Date(timeIntervalSince1970: row[4]))
            }
        }
    }

    /// The checkpoint a done warm-start job produced (what its measure jobs receive), or nil.
    public func checkpoint(jobId: Int) throws(StoreError) -> [UInt8]? {
        try read("read the checkpoint of job \(jobId)") { db in
            try Data.fetchOne(db, sql: "SELECT checkpoint FROM results WHERE jobId = ?", arguments: [jobId])
                .map { Array($0) }
        }
    }

    /// Every done warm start's checkpoint by job id (what a restarting scheduler hands its measure
    /// jobs).
    public func checkpoints() throws(StoreError) -> [Int: [UInt8]] {
        try read("read checkpoints") { db in
            var checkpoints: [Int: [UInt8]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT jobId, checkpoint FROM results WHERE checkpoint IS NOT NULL") {
                let bytes: Data = row["checkpoint"]
                checkpoints[row["jobId"]] = Array(bytes)
            }
            return checkpoints
        }
    }

    /// The warm-start checkpoint of seed index `seedIndex`, or nil if that warm start is not done.
    public func warmStartCheckpoint(seedIndex: Int) throws(StoreError) -> [UInt8]? {
        try read("read the warm start of seed \(seedIndex)") { db in
            try Data.fetchOne(db, sql: """
                SELECT r.checkpoint FROM results r JOIN jobs j ON j.id = r.jobId
                WHERE j.kind = 'warm-start' AND j.seedIndex = ?
                """, arguments: [seedIndex]).map { Array($0) }
        }
    }

    /// The last `limit` events in journal order, of one job or of all.
    public func events(jobId: Int? = nil, limit: Int = 100) throws(StoreError) -> [EventRecord] {
        try read("read events") { db in
            let filter = jobId == nil ? "" : "WHERE jobId = ?"
            let arguments: StatementArguments = jobId.map { [$0, limit] } ?? [limit]
            return try Row.fetchAll(db, sql: """
                SELECT * FROM (SELECT * FROM events \(filter) ORDER BY seq DESC LIMIT ?) ORDER BY seq
                """, arguments: arguments).map { row in
                EventRecord(seq: row["seq"], at: Date(timeIntervalSince1970: row["at"]), jobId: row["jobId"],
                            attempt: row["attempt"], kind: row["kind"], worker: row["worker"], message: row["message"])
            }
        }
    }

    /// How many RESULTs were logged as duplicate and as stale, never counted (for `status`).
    /// Reads the partial index `events_misfits`, so it stays cheap however long the journal is.
    public func misfitCounts() throws(StoreError) -> MisfitCounts {
        try read("count duplicate and stale results") { db in
            var counts = MisfitCounts()
            for row in try Row.fetchAll(db, sql: """
                SELECT kind, COUNT(*) AS n FROM events WHERE kind IN ('duplicate', 'stale') GROUP BY kind
                """) {
                let n: Int = row["n"]
                switch MisfitKind(rawValue: row["kind"]) {
                case .duplicate: counts.duplicate = n
                case .stale: counts.stale = n
                case nil: break
                }
            }
            return counts
        }
    }

    /// The connection's durability settings as SQLite reports them (for `status` and tests).
    public func connectionSettings() throws(StoreError) -> ConnectionSettings {
        try read("read the connection settings") { db in
            let synchronous = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            return ConnectionSettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?",
                synchronous: ["off", "normal", "full", "extra"].indices.contains(synchronous)
                    ? ["off", "normal", "full", "extra"][synchronous] : "\(synchronous)",
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                busyTimeoutMs: try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0)
        }
    }

    /// Every grid the journal has held, oldest first; the last is `spec`. Empty for a journal
    /// of schema 2 or older read before a sweep migrated it (it has held one grid).
    public func gridHistory() throws(StoreError) -> [GridRevision] {
        try read("read the grid history") { db in
            guard try db.tableExists("gridHistory") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM gridHistory ORDER BY seq").map { row in
                GridRevision(seq: row["seq"], at: Date(timeIntervalSince1970: row["at"]), specHash: row["specHash"],
                             jobCount: row["jobCount"], added: row["added"], dropped: row["dropped"],
                             summary: row["summary"])
            }
        }
    }

    /// Every worker that announced itself, by first appearance.
    public func workers() throws(StoreError) -> [WorkerRecord] {
        try read("read workers") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY firstSeen, identity").map { row in
                WorkerRecord(identity: row["identity"], name: row["name"], host: row["host"], pid: row["pid"],
                             cores: row["cores"], buildCPU: row["buildCPU"], version: row["version"],
                             firstSeen: Date(timeIntervalSince1970: row["firstSeen"]),
                             lastSeen: Date(timeIntervalSince1970: row["lastSeen"]))
            }
        }
    }
}

/// The columns `jobRecord` reads, in its order.
private let jobColumns = """
    id, key, kind, state, attempt, leaseWorker, leaseStartedAt, orphanedAt, retries, failure, lastError, finishedAt
    """

/// A row of `SELECT \(jobColumns)`, read by position: a lookup by name lower-cases the name, and
/// a starting coordinator reads every job.
private func jobRecord(_ row: Row) -> JobRecord {
    func date(_ index: Int) -> Date? {
        (row[index] as Double?).map { Date(timeIntervalSince1970: $0) }
    }
    return JobRecord(id: row[0], key: row[1], kind: JobKind(rawValue: row[2]) ?? .trivial,
                     state: JobState(rawValue: row[3]) ?? .failed, attempt: row[4],
                     leaseWorker: row[5], leaseStartedAt: date(6), orphanedAt: date(7), retries: row[8],
                     failure: (row[9] as String?).flatMap(JobFailure.init(rawValue:)),
                     lastError: row[10], finishedAt: date(11))
}
