// The sweep's journal: one SQLite file that only the coordinator writes, through one connection.
// Every method is synchronous and is one transaction, committed (WAL appended and fsynced) before
// it returns, so the caller may acknowledge what it returns. A single-threaded event loop owns the
// Store; it is deliberately not Sendable.
//
// Durability: WAL with `synchronous = FULL` fsyncs the WAL at every commit, so a committed change
// survives a process kill (kill -9: the WAL is written before the commit returns) and a power
// loss or kernel panic (the WAL is on disk). NORMAL would survive the kill but could lose the last
// commits on power loss, and those may already be ACKed: it would break "nothing that was ACKed is
// ever lost". Throughput comes from `commit(_:)` (many transitions, one fsync) instead.
//
// The database file alone is always a whole journal (README, "Files"): SQLite's own
// checkpoints are off, because one that runs out of disk half way leaves the file a mix of old
// and new pages that only its WAL makes whole again. The Store checkpoints itself, every
// `Checkpointing.walFrames` frames and on close, and only after the file has been extended to
// the size the checkpoint needs; when the disk has no room for that, the commits stay in the WAL
// and the file keeps its last whole state. After each checkpoint the file is extended by a reserve,
// so that the checkpoint on the way out of a disk-full stop still fits.
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import SweepProtocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of an open journal.
public struct StoreOptions: Sendable {
    /// How long a write waits for a lock held by a reader (a `status` process checkpointing), in s.
    public var busyTimeout: TimeInterval
    /// The time written into the journal; tests inject a fixed clock.
    public var clock: @Sendable () -> Date

    public init(busyTimeout: TimeInterval = 5, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.busyTimeout = busyTimeout
        self.clock = clock
    }
}

/// The SQLite journal of one sweep: jobs, leases, results, events, workers.
public final class Store {
    /// Path of the database file.
    public let path: String
    /// The grid this journal belongs to (normalized).
    public let spec: GridSpec
    /// `spec.hash()`.
    public let specHash: String
    /// The grid's jobs in grid order, with the ids the journal gave them (`GridSpec.jobs(keeping:)`).
    /// The journal may hold more: jobs a `--drop` left out of the grid, kept but not run or exported.
    public let jobList: [JobDescriptor]
    /// How this open changed the journal's grid (grown, values dropped, data moved); nil when it
    /// created the journal or resumed the same grid.
    public let change: GridChange?
    public let options: StoreOptions
    /// True for a journal opened by `openReadOnly`.
    public let isReadOnly: Bool

    let queue: DatabaseQueue
    private var lock: LockFile?
    /// WAL frames not yet checkpointed (writable journals only).
    private let walMeter: WALMeter?
    /// The first storage failure: after it every write is refused with the same error, so nothing
    /// goes on from state that could not be recorded.
    private var storageFailure: StoreError?
    /// Device and inode of the database and its WAL when opened. SQLite keeps writing to a file
    /// that was deleted or replaced under it (the data then vanishes with the process), so every
    /// commit checks that the files at `path` are still the ones it wrote.
    private var fileIdentities: [(path: String, identity: FileIdentity)] = []
    /// The job rows `commit` checks transitions against (Transitions.swift); nil until first read,
    /// after a commit that failed and after any other write.
    var journalRowCache: JournalRows?
    /// The statements of the hot transitions, prepared on first use (writable journals only).
    private var statements: JournalStatements?

    /// The hot statements of this connection (inside a write).
    func journalStatements(_ db: Database) throws -> JournalStatements {
        if let statements { return statements }
        let prepared = try JournalStatements(db)
        statements = prepared
        return prepared
    }

    private init(path: String, spec: GridSpec, specHash: String, jobList: [JobDescriptor], change: GridChange?,
                 options: StoreOptions, isReadOnly: Bool, queue: DatabaseQueue, lock: LockFile?, walMeter: WALMeter?) {
        self.path = path
        self.spec = spec
        self.specHash = specHash
        self.jobList = jobList
        self.change = change
        self.options = options
        self.isReadOnly = isReadOnly
        self.queue = queue
        self.lock = lock
        self.walMeter = walMeter
    }

    deinit {
        try? close()
    }

    /// Creates the journal of `spec` (and its folder), or resumes it; refuses another grid with
    /// the difference, a newer schema, a foreign file and a file another coordinator holds.
    /// A grid that only adds axis values or seeds grows the journal (new jobs, new ids; every
    /// journaled job and result stays as it is); one that leaves some out is refused unless
    /// `dropping`, and then their jobs stay in the journal outside the grid (`jobList`).
    /// A resumed journal may hold running leases of the previous coordinator: call
    /// `orphanRunningLeases()` before dispatching.
    public static func open(path: String, spec: GridSpec, dropping: Bool = false,
                            options: StoreOptions = StoreOptions()) throws(StoreError) -> Store {
        do { try spec.validate() } catch { throw .invalidSpec(error.description) }
        let normalized = spec.normalized
        let canonical: [UInt8], hash: String
        do {
            canonical = try normalized.canonicalJSON()
            hash = try normalized.hash()
        } catch { throw .invalidSpec(error.description) }

        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw .io(path: folder, detail: "cannot create the folder: \(error.localizedDescription)")
            }
        }
        let lock = try LockFile.acquire(path + "-lock", database: path)
        let meter = WALMeter()
        let queue: DatabaseQueue
        do { queue = try connect(path: path, readOnly: false, options: options, walMeter: meter) } catch {
            lock.release()
            throw error
        }
        let now = options.clock().timeIntervalSince1970
        let jobList: [JobDescriptor], change: GridChange?
        do {
            try queue.write { db in
                try refuseForeignOrNewer(db, path: path)
            }
            try Schema.migrator.migrate(queue)
            (jobList, change) = try queue.write { db -> ([JobDescriptor], GridChange?) in
                var change: GridChange?
                if let row = try Row.fetchOne(db, sql: "SELECT specJSON, specHash FROM meta WHERE id = 1") {
                    let stored: Data = row["specJSON"]
                    if Array(stored) != canonical {
                        let storedHash: String = row["specHash"]
                        guard let old = try? GridSpec.decode(Array(stored)) else {
                            throw StoreError.specMismatch(path: path, differences: [], storedHash: storedHash,
                                                          requestedHash: hash)
                        }
                        var grown = GridChange(from: old, to: normalized)
                        // A change is accepted only for what it names: jobs added or removed, or
                        // the data moved; any other difference in the stored bytes is refused.
                        let names = !grown.addedKeys.isEmpty || grown.removes || grown.movedData != nil
                        guard grown.isExtension && names else {
                            throw StoreError.specMismatch(path: path, differences: GridSpec.differences(old, normalized),
                                                          storedHash: storedHash, requestedHash: hash)
                        }
                        guard !grown.removes || dropping else {
                            throw StoreError.gridShrinks(path: path, removed: grown.removalLines, storedHash: storedHash,
                                                         requestedHash: hash)
                        }
                        _ = try checkJobList(db, spec: old, path: path)
                        try changeGrid(db, change: &grown, canonical: canonical, hash: hash, now: now)
                        change = grown
                    }
                } else {
                    // A new journal: its rows were just written from this list.
                    return (try insertGrid(db, spec: normalized, canonical: canonical, hash: hash, now: now), nil)
                }
                return (try checkJobList(db, spec: normalized, path: path), change)
            }
        } catch {
            try? closeWritable(queue, descriptor: lock.databaseDescriptor)
            lock.release()
            throw storeError(error, path: path, operation: "open")
        }
        let store = Store(path: path, spec: normalized, specHash: hash, jobList: jobList, change: change,
                          options: options, isReadOnly: false, queue: queue, lock: lock, walMeter: meter)
        _ = store.checkpoint()  // the grid and the schema into the file itself
        for file in [path, path + "-wal"] {
            guard let identity = FileIdentity(path: file) else {
                throw .io(path: file, detail: "the journal file is missing right after opening it")
            }
            store.fileIdentities.append((file, identity))
        }
        return store
    }

    /// Copies the journal at `path` to a new single file `destination` (SQLite's online backup:
    /// consistent even while a sweep writes it, and including what only its WAL holds). Refuses to
    /// replace an existing file.
    public static func backup(path: String, to destination: String) throws(StoreError) {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw .io(path: destination, detail: "exists; a backup never replaces a file: give a new --to.")
        }
        let source = try openReadOnly(path: path)
        defer { try? source.close() }
        do {
            let copy = try DatabaseQueue(path: destination)
            try source.queue.backup(to: copy)
            // One file: the copy's WAL, if any, folded in and removed.
            try copy.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try copy.close()
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw storeError(error, path: destination, operation: "write the backup")
        }
    }

    /// Opens an existing journal for reading only (`status`, `export`, `fit`): takes no lock, so it
    /// works while a coordinator runs; every write throws `.readOnly`.
    public static func openReadOnly(path: String) throws(StoreError) -> Store {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .notFound(path: path)
        }
        let queue = try connect(path: path, readOnly: true, options: StoreOptions(), walMeter: nil)
        do {
            let (spec, hash, jobList) = try queue.read { db -> (GridSpec, String, [JobDescriptor]) in
                try refuseForeignOrNewer(db, path: path)
                guard let row = try Row.fetchOne(db, sql: "SELECT specJSON, specHash FROM meta WHERE id = 1") else {
                    throw StoreError.notAJournal(path: path, detail: "it holds no grid")
                }
                let json: Data = row["specJSON"]
                do {
                    let spec = try GridSpec.decode(Array(json))
                    return (spec, row["specHash"], spec.jobs(keeping: try journalIds(db)))
                } catch {
                    throw StoreError.notAJournal(path: path, detail: "its grid cannot be read: \(error)")
                }
            }
            return Store(path: path, spec: spec, specHash: hash, jobList: jobList, change: nil, options: StoreOptions(),
                         isReadOnly: true, queue: queue, lock: nil, walMeter: nil)
        } catch {
            try? queue.close()
            throw storeError(error, path: path, operation: "open")
        }
    }

    /// Checkpoints what the disk has room for, closes the connection and releases the lock; the
    /// Store is unusable afterwards. When the file cannot be extended to hold the WAL's commits
    /// (disk full), the connection is left open until the process ends: SQLite's close would start
    /// a checkpoint of its own that could stop half way. The database and its WAL then hold every
    /// commit together, and the database alone its last whole state.
    public func close() throws(StoreError) {
        guard !closed else { return }
        closed = true
        statements?.finalize()
        statements = nil
        defer {
            lock?.release()
            lock = nil
        }
        guard walMeter != nil else {
            do { try queue.close() } catch { throw Store.storeError(error, path: path, operation: "close") }
            return
        }
        do { try Store.closeWritable(queue, descriptor: lock?.databaseDescriptor, allocated: allocatedBytes) } catch { throw Store.storeError(error, path: path, operation: "close") }
    }

    /// Closes a writable connection after a last checkpoint, or leaves it open (see `close()`).
    private static func closeWritable(_ queue: DatabaseQueue, descriptor: Int32? = nil, allocated: Int64 = 0) throws {
        var allocated = allocated
        guard foldIn(queue, closing: true, descriptor: descriptor, allocated: &allocated) else {
            keptOpen.withLock { $0.append(KeptOpen(queue: queue)) }
            return
        }
        try queue.close()
    }

    private var closed = false
    /// Bytes of the database file that checkpoints have written (so none of them is a hole).
    private var allocatedBytes: Int64 = 0

    /// Connections `close()` left open because a checkpoint found no room (see `close()`).
    private static let keptOpen = Mutex<[KeptOpen]>([])

    private struct KeptOpen: @unchecked Sendable {
        let queue: DatabaseQueue
    }

    // MARK: - Checkpoints

    /// When and how far the Store checkpoints (see the file's header).
    enum Checkpointing {
        /// A checkpoint after the commit that brings the WAL to this many frames (1 MiB of 4 KiB pages).
        static let walFrames: Int32 = 256
        /// SQLite sizes the database file in whole steps of this size (SQLITE_FCNTL_CHUNK_SIZE): a
        /// checkpoint that shrinks or grows it `ftruncate`s it to one (`extend` allocates).
        static let chunkBytes: Int32 = 64 << 10
        /// Room kept allocated past the file's content after each checkpoint, for the next ones.
        static let reserveBytes: Int64 = 2 << 20
    }

    /// A checkpoint now (`foldIn`); false when the file had no room for it.
    @discardableResult
    func checkpoint() -> Bool {
        guard let walMeter else { return false }
        let done = Store.foldIn(queue, closing: false, descriptor: lock?.databaseDescriptor, allocated: &allocatedBytes)
        if done { walMeter.frames = 0 }
        return done
    }

    /// Copies the WAL's commits into the database file if the file can first be extended to hold
    /// them; returns false when it could not (no room, or an I/O error), so that SQLite must not
    /// try either. A reader's snapshot may hold some commits back; they stay in the WAL, safe, until
    /// a later checkpoint. Never fails the caller. `closing`: no reserve is kept, and the file is cut
    /// back to its content.
    private static func foldIn(_ queue: DatabaseQueue, closing: Bool, descriptor: Int32?, allocated: inout Int64) -> Bool {
        let known = allocated
        do {
            let content = try queue.writeWithoutTransaction { db -> Int64? in
                let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                let content = pageSize * pages
                guard Store.extend(db, to: content, from: known, descriptor: descriptor) else { return nil }
                let (walFrames, checkpointed) = try db.checkpoint(.passive)
                if !closing {
                    _ = Store.extend(db, to: content + Checkpointing.reserveBytes, from: content, descriptor: descriptor)
                } else if checkpointed == walFrames {
                    Store.truncate(db, to: content)
                }
                return content
            }
            guard let content else { return false }
            allocated = content
            return true
        } catch {
            return false
        }
    }

    /// Cuts the database file back to `bytes` (its content, rounded up to a chunk) through SQLite's
    /// own file handle, as SQLite does after a checkpoint that shrank it.
    private static func truncate(_ db: Database, to bytes: Int64) {
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
              let file, let truncate = file.pointee.pMethods?.pointee.xTruncate else { return }
        _ = truncate(file, bytes)
    }

    /// Allocates the database file up to `bytes`; false when the disk has no room. With the
    /// descriptor the Store's lock holds on the file, one `fallocate` from `from` (what earlier
    /// checkpoints are known to have written: below it, nothing is a hole). The file's size alone
    /// does not say that it is allocated: after a checkpoint SQLite sets it to a whole number of
    /// chunks with `ftruncate`, which leaves a hole past the content. Only where the file system has
    /// no `fallocate` (or on a system without one), SQLite's size hint, which this SQLite (built
    /// without `posix_fallocate`) carries out by writing one byte into each 4 KiB block past the
    /// file's size, and which trusts that size.
    static func extend(_ db: Database, to bytes: Int64, from: Int64, descriptor: Int32?) -> Bool {
        if bytes <= from { return true }
        #if os(Linux)
        if let descriptor {
            var code: Int32
            repeat { code = posix_fallocate(descriptor, off_t(from), off_t(bytes - from)) } while code == EINTR
            if code == 0 { return true }
            // No room (ENOSPC, EDQUOT, EFBIG), an I/O error: no checkpoint. The size hint would
            // answer yes for a file already that long, holes and all.
            guard code == EOPNOTSUPP || code == ENOSYS || code == EINVAL else { return false }
        }
        #endif
        var size = bytes
        return sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_SIZE_HINT, &size) == SQLITE_OK
    }

    // MARK: - Plumbing

    /// Runs `body` as one write transaction; any thrown error rolls the whole of it back.
    func write<T>(_ operation: String, keepingJournalRows: Bool = false,
                  _ body: (Database, Double) throws -> T) throws(StoreError) -> T {
        if isReadOnly { throw .readOnly(path: path, operation: operation) }
        if !keepingJournalRows { journalRowCache = nil }
        if let storageFailure { throw storageFailure }
        let now = options.clock().timeIntervalSince1970
        let value: T
        do {
            value = try queue.write { db in try body(db, now) }
            if let walMeter, walMeter.frames >= Checkpointing.walFrames { checkpoint() }
        } catch {
            let failure = Store.storeError(error, path: path, operation: operation, writing: true)
            if failure.isStorageFailure { storageFailure = failure }
            throw failure
        }
        for (file, identity) in fileIdentities where FileIdentity(path: file) != identity {
            let failure = StoreError.io(
                path: file,
                detail: "could not \(operation): the file was deleted or replaced while the coordinator "
                    + "had it open, so the change went to a vanished file. The coordinator stops here; restore the "
                    + "file and re-run the same command to resume.")
            storageFailure = failure
            throw failure
        }
        return value
    }

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.read(body)
        } catch {
            throw Store.storeError(error, path: path, operation: operation)
        }
    }

    static func storeError(_ error: any Error, path: String, operation: String, writing: Bool = false) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_NOTADB {
                return .notAJournal(path: path, detail: "it is not an SQLite database")
            }
            var message = error.message ?? "\(error.resultCode)"
            if error.extendedResultCode == .SQLITE_READONLY_DBMOVED {
                message += " (the file was moved or deleted while open)"
            }
            return .sqlite(path: path, operation: operation, code: error.extendedResultCode.rawValue, message: message,
                           writing: writing)
        }
        return .io(path: path, detail: "\(operation) failed: \(error)")
    }

    private static func connect(path: String, readOnly: Bool, options: StoreOptions, walMeter: WALMeter?)
        throws(StoreError) -> DatabaseQueue {
        var config = Configuration()
        config.readonly = readOnly
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(options.busyTimeout)
        config.label = "thermosweep.journal"
        config.prepareDatabase { db in
            if !readOnly {
                // Persistent in the file, but set on every open in case it was created elsewhere.
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                guard mode?.lowercased() == "wal" else {
                    throw StoreError.io(path: path, detail: "SQLite refused WAL mode (got \(mode ?? "nothing")); "
                                            + "put the journal on a local file system")
                }
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
            if let walMeter {
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
                var chunk = Checkpointing.chunkBytes
                _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk)
                sqlite3_wal_hook(db.sqliteConnection, { context, _, _, frames in
                    Unmanaged<WALMeter>.fromOpaque(context!).takeUnretainedValue().frames = frames
                    return SQLITE_OK
                }, Unmanaged.passUnretained(walMeter).toOpaque())
            }
        }
        do {
            return try DatabaseQueue(path: path, configuration: config)
        } catch {
            throw storeError(error, path: path, operation: "open")
        }
    }

    /// Refuses a database that is not a journal (tables but no migrations) or comes from a newer
    /// build (migrations unknown here).
    private static func refuseForeignOrNewer(_ db: Database, path: String) throws {
        let tables = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
            """)
        guard !tables.isEmpty else { return }
        guard tables.contains("grdb_migrations") else {
            let names = tables.sorted().joined(separator: ", ")
            throw StoreError.notAJournal(path: path, detail: "it holds tables \(names) and no journal schema")
        }
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        let known = Set(Schema.migrator.migrations)
        let unknown = applied.filter { !known.contains($0) }
        if !unknown.isEmpty { throw StoreError.newerSchema(path: path, unknownMigrations: unknown.sorted()) }
    }

    /// Writes a new journal's grid and its jobs; returns the jobs.
    private static func insertGrid(_ db: Database, spec: GridSpec, canonical: [UInt8], hash: String,
                                   now: Double) throws -> [JobDescriptor] {
        let jobs = spec.jobs()
        try db.execute(sql: """
            INSERT INTO meta (id, schemaVersion, specJSON, specHash, jobCount, createdAt) VALUES (1, ?, ?, ?, ?, ?)
            """, arguments: [Schema.version, Data(canonical), hash, jobs.count, now])
        try recordGrid(db, canonical: canonical, hash: hash, jobCount: jobs.count, added: jobs.count, dropped: 0,
                       summary: "created", now: now)
        try insertJobs(db, jobs)
        return jobs
    }

    /// Grows (or, dropping, shrinks) the journal's grid: inserts the jobs of new keys with new ids,
    /// makes `change.new` the grid, and appends it to the history. Journaled jobs are not touched:
    /// a dropped one stays as it is, outside the grid, and comes back if a later grid has its key.
    /// Sets `change.returningKeys`: the added keys the journal already holds (dropped before),
    /// once its keys name the new grid's axes.
    private static func changeGrid(_ db: Database, change: inout GridChange, canonical: [UInt8], hash: String,
                                   now: Double) throws {
        try renameAxisKeys(db, from: change.old, to: change.new)
        let ids = try journalIds(db)
        change.returningKeys = Set(change.addedKeys.filter { ids[$0] != nil })
        let jobs = change.new.jobs(keeping: ids)
        try insertJobs(db, jobs.filter { ids[$0.key] == nil })
        try db.execute(sql: "UPDATE meta SET specJSON = ?, specHash = ?, jobCount = ? WHERE id = 1",
                       arguments: [Data(canonical), hash, jobs.count])
        try recordGrid(db, canonical: canonical, hash: hash, jobCount: jobs.count,
                       added: change.addedKeys.count - change.returningKeys.count,
                       dropped: change.removedKeys.count, summary: change.summary(width: 1000), now: now)
    }

    /// Job keys name the momentum and the batch mode only in a grid that varies them
    /// (`GridSpec.jobs()`), so a journal's cell keys without m (or mode) are those of the one value
    /// its grid had. When the grid goes from one value to several (or back, or to another), the
    /// journaled keys follow: first every key names the old grid's one values, then those of the
    /// new grid's one values lose them. Only keys change: ids, states and results stay, so no
    /// finished cell runs again.
    private static func renameAxisKeys(_ db: Database, from old: GridSpec, to new: GridSpec) throws {
        guard old.momentumValues != new.momentumValues || old.batchModeValues != new.batchModeValues else { return }
        let update = try db.makeStatement(sql: "UPDATE jobs SET key = ? WHERE id = ?")
        for rename in [old.namingAxes, new.droppingAxes] {
            for row in try Row.fetchAll(db, sql: "SELECT id, key FROM jobs") {
                let key: String = row["key"]
                let renamed = rename(key)
                if renamed != key { try update.execute(arguments: [renamed, row["id"] as Int]) }
            }
        }
    }

    private static func insertJobs(_ db: Database, _ jobs: [JobDescriptor]) throws {
        let sql = "INSERT INTO jobs (id, key, kind, seedIndex, dependsOn, cost) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        let insert = try db.makeStatement(sql: sql)
        guard let connection = db.sqliteConnection else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the journal's connection is closed")
        }
        // Bound through SQLite's C interface, as `JournalStatements` are: GRDB's boxed arguments
        // were a quarter of the cost of creating a journal's rows.
        for job in jobs {
            try JournalStatements.run(insert.sqliteStatement, on: connection, sql: sql) { row in
                row.int(1, job.id)
                row.text(2, job.key)
                row.text(3, job.kind.rawValue)
                row.int(4, job.seedIndex)
                row.int(5, job.dependsOn)
                row.int(6, job.cost)
            }
        }
    }

    private static func recordGrid(_ db: Database, canonical: [UInt8], hash: String, jobCount: Int, added: Int,
                                   dropped: Int, summary: String, now: Double) throws {
        try db.execute(sql: """
            INSERT INTO gridHistory (at, specJSON, specHash, jobCount, added, dropped, summary)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [now, Data(canonical), hash, jobCount, added, dropped, summary])
    }

    /// Every journaled job's id by key.
    static func journalIds(_ db: Database) throws -> [String: Int] {
        var ids: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, key FROM jobs") { ids[row["key"]] = row["id"] as Int }
        return ids
    }

    /// On resume, every job of the grid must be journaled as this build derives it: kind, seed,
    /// dependency and cost under its key (ids as the journal gave them). Otherwise results would
    /// be attributed to the wrong cells. A journal whose grid never changed holds exactly the
    /// grid's jobs, numbered in grid order. Returns the grid's jobs with their journal ids.
    @discardableResult
    private static func checkJobList(_ db: Database, spec: GridSpec, path: String) throws -> [JobDescriptor] {
        // Columns by position (GRDB lower-cases each name it looks up): id, key, kind, seedIndex,
        // dependsOn, cost.
        let rows = try Row.fetchAll(db, sql: "SELECT id, key, kind, seedIndex, dependsOn, cost FROM jobs ORDER BY id")
        var byKey: [String: Row] = [:]
        for row in rows { byKey[row[1]] = row }
        let expected: [JobDescriptor]
        let changes = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM gridHistory") ?? 0
        if changes <= 1 {
            // Never grown: the ids are the grid's order.
            expected = spec.jobs()
            guard rows.count == expected.count else {
                throw StoreError.notAJournal(path: path,
                                             detail: "it holds \(rows.count) jobs, its grid has \(expected.count)")
            }
            for (row, job) in zip(rows, expected) where (row[0] as Int) != job.id || (row[1] as String) != job.key {
                let id: Int = row[0], key: String = row[1]
                throw StoreError.notAJournal(
                    path: path, detail: "job \(id) is '\(key)' there, but '\(job.key)' in this build; it was written "
                        + "by a build that derives jobs differently")
            }
        } else {
            expected = spec.jobs(keeping: byKey.mapValues { $0[0] as Int })
        }
        for job in expected {
            guard let row = byKey[job.key] else {
                throw StoreError.notAJournal(path: path, detail: "its grid's job '\(job.key)' is missing")
            }
            let id: Int = row[0], kind: String = row[2], seedIndex: Int = row[3]
            let dependsOn: Int? = row[4], cost: Int = row[5]
            guard kind == job.kind.rawValue, seedIndex == job.seedIndex, dependsOn == job.dependsOn,
                  cost == job.cost else {
                throw StoreError.notAJournal(
                    path: path,
                    detail: "job \(id) '\(job.key)' is a \(kind) job of seed \(seedIndex) after \(dependsOn.map { "#\($0)" } ?? "none") "
                        + "(cost \(cost)) there, but a \(job.kind.rawValue) job of seed \(job.seedIndex) after "
                        + "\(job.dependsOn.map { "#\($0)" } ?? "none") (cost \(job.cost)) in this build; it was written "
                        + "by a build that derives jobs differently")
            }
        }
        return expected
    }
}

/// How many frames the WAL holds after the last commit, as SQLite's WAL hook reports it. The
/// Store keeps it alive as long as its connection.
final class WALMeter: @unchecked Sendable {
    var frames: Int32 = 0
}

/// Device and inode of a file, to notice that it was deleted or replaced.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// Exclusive `flock`s held while a coordinator has the journal open, so that a second coordinator
/// on the same file is refused instead of dispatching the same jobs: one on `<db>-lock`, which
/// names the holder's pid, and one on the database file itself, which no other name for the file
/// (a hard link, a path through another mount) can side-step. SQLite's own locks are `fcntl`
/// locks, which `flock` does not touch; the database's descriptor is closed only after SQLite
/// closed its connection (closing any descriptor of the file drops the process's `fcntl` locks).
/// The `-lock` file is removed on release, so a clean exit leaves the database as one file; the
/// lock on the database file keeps that safe (a process that opened the removed `-lock` still
/// meets it).
final class LockFile {
    private var descriptors: [Int32]
    private let lockPath: String
    /// The database file's descriptor (open until `release()`).
    var databaseDescriptor: Int32? { descriptors.count == 2 ? descriptors[1] : nil }

    private init(descriptors: [Int32], lockPath: String) {
        self.descriptors = descriptors
        self.lockPath = lockPath
    }

    static func acquire(_ lockPath: String, database: String) throws(StoreError) -> LockFile {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .io(path: lockPath, detail: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        if let code = lockExclusively(fd) {
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            if code == EWOULDBLOCK {
                let holder = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : "unknown pid"
                throw .inUse(path: database, detail: "\(holder.trimmingCharacters(in: .whitespacesAndNewlines)), "
                                 + "lock \(lockPath)")
            }
            throw .io(path: lockPath, detail: "cannot lock: \(String(cString: strerror(code)))")
        }
        let databaseFD = open(database, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard databaseFD >= 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .io(path: database, detail: "cannot open the database file: \(reason)")
        }
        if let code = lockExclusively(databaseFD) {
            close(databaseFD)
            close(fd)
            if code == EWOULDBLOCK {
                throw .inUse(path: database, detail: "another process holds the database file, under this name "
                                 + "or another (a hard link, another mount of its folder)")
            }
            throw .io(path: database, detail: "cannot lock: \(String(cString: strerror(code)))")
        }
        let text = Array("pid \(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
        return LockFile(descriptors: [fd, databaseFD], lockPath: lockPath)
    }

    /// Takes an exclusive `flock` on `fd`, waiting up to 1 s for one that is held: a child process
    /// forked (by any thread) just before the holder closed its descriptor keeps the lock until it
    /// execs, and a closed journal must not look busy for that moment.
    /// Returns nil when locked, else the errno of the last try.
    private static func lockExclusively(_ fd: Int32) -> Int32? {
        let deadline = ContinuousClock.now + .seconds(1)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK, ContinuousClock.now < deadline else { return code }
            usleep(20_000)
        }
        return nil
    }

    func release() {
        guard !descriptors.isEmpty else { return }
        unlink(lockPath)
        for fd in descriptors { close(fd) }  // closing a descriptor releases its flock
        descriptors = []
    }

    deinit { release() }
}
