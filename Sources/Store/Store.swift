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
import Foundation
import GRDB
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
    public let options: StoreOptions
    /// True for a journal opened by `openReadOnly`.
    public let isReadOnly: Bool

    let queue: DatabaseQueue
    private var lock: LockFile?
    /// The first storage failure: after it every write is refused with the same error, so nothing
    /// goes on from state that could not be recorded.
    private var storageFailure: StoreError?
    /// Device and inode of the database and its WAL when opened. SQLite keeps writing to a file
    /// that was deleted or replaced under it (the data then vanishes with the process), so every
    /// commit checks that the files at `path` are still the ones it wrote.
    private var fileIdentities: [(path: String, identity: FileIdentity)] = []

    private init(path: String, spec: GridSpec, specHash: String, options: StoreOptions, isReadOnly: Bool,
                 queue: DatabaseQueue, lock: LockFile?) {
        self.path = path
        self.spec = spec
        self.specHash = specHash
        self.options = options
        self.isReadOnly = isReadOnly
        self.queue = queue
        self.lock = lock
    }

    deinit {
        try? queue.close()
        lock?.release()
    }

    /// Creates the journal of `spec` (and its folder), or resumes it; refuses another grid with
    /// the difference, a newer schema, a foreign file and a file another coordinator holds.
    /// A resumed journal may hold running leases of the previous coordinator: call
    /// `orphanRunningLeases()` before dispatching.
    public static func open(path: String, spec: GridSpec, options: StoreOptions = StoreOptions())
        throws(StoreError) -> Store {
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
        let queue = try connect(path: path, readOnly: false, options: options)
        let now = options.clock().timeIntervalSince1970
        do {
            try queue.write { db in
                try refuseForeignOrNewer(db, path: path)
            }
            try Schema.migrator.migrate(queue)
            try queue.write { db in
                if let row = try Row.fetchOne(db, sql: "SELECT specJSON, specHash FROM meta WHERE id = 1") {
                    let stored: Data = row["specJSON"]
                    if Array(stored) != canonical {
                        let storedHash: String = row["specHash"]
                        let old = try? GridSpec.decode(Array(stored))
                        let differences = old.map { GridSpec.differences($0, normalized) } ?? []
                        throw StoreError.specMismatch(path: path, differences: differences, storedHash: storedHash,
                                                      requestedHash: hash)
                    }
                    try checkJobList(db, spec: normalized, path: path)
                } else {
                    try insertGrid(db, spec: normalized, canonical: canonical, hash: hash, now: now)
                }
            }
        } catch {
            try? queue.close()
            lock.release()
            throw storeError(error, path: path, operation: "open")
        }
        let store = Store(path: path, spec: normalized, specHash: hash, options: options, isReadOnly: false,
                          queue: queue, lock: lock)
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
            throw .io(path: path, detail: "no such journal; give the --db of an existing sweep.")
        }
        let queue = try connect(path: path, readOnly: true, options: StoreOptions())
        do {
            let (spec, hash) = try queue.read { db -> (GridSpec, String) in
                try refuseForeignOrNewer(db, path: path)
                guard let row = try Row.fetchOne(db, sql: "SELECT specJSON, specHash FROM meta WHERE id = 1") else {
                    throw StoreError.notAJournal(path: path, detail: "it holds no grid")
                }
                let json: Data = row["specJSON"]
                do {
                    return (try GridSpec.decode(Array(json)), row["specHash"])
                } catch {
                    throw StoreError.notAJournal(path: path, detail: "its grid cannot be read: \(error)")
                }
            }
            return Store(path: path, spec: spec, specHash: hash, options: StoreOptions(), isReadOnly: true,
                         queue: queue, lock: nil)
        } catch {
            try? queue.close()
            throw storeError(error, path: path, operation: "open")
        }
    }

    /// Closes the connection and releases the lock; the Store is unusable afterwards.
    public func close() throws(StoreError) {
        defer {
            lock?.release()
            lock = nil
        }
        do { try queue.close() } catch { throw Store.storeError(error, path: path, operation: "close") }
    }

    // MARK: - Plumbing

    /// Runs `body` as one write transaction; any thrown error rolls the whole of it back.
    func write<T>(_ operation: String, _ body: (Database, Double) throws -> T) throws(StoreError) -> T {
        if isReadOnly { throw .readOnly(path: path, operation: operation) }
        if let storageFailure { throw storageFailure }
        let now = options.clock().timeIntervalSince1970
        let value: T
        do {
            value = try queue.write { db in try body(db, now) }
        } catch {
            let failure = Store.storeError(error, path: path, operation: operation)
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

    static func storeError(_ error: any Error, path: String, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            var message = error.message ?? "\(error.resultCode)"
            if error.extendedResultCode == .SQLITE_READONLY_DBMOVED {
                message += " (the file was moved or deleted while open)"
            }
            return .sqlite(path: path, operation: operation, code: error.extendedResultCode.rawValue, message: message)
        }
        return .io(path: path, detail: "\(operation) failed: \(error)")
    }

    private static func connect(path: String, readOnly: Bool, options: StoreOptions) throws(StoreError)
        -> DatabaseQueue {
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

    private static func insertGrid(_ db: Database, spec: GridSpec, canonical: [UInt8], hash: String,
                                   now: Double) throws {
        let jobs = spec.jobs()
        try db.execute(sql: """
            INSERT INTO meta (id, schemaVersion, specJSON, specHash, jobCount, createdAt) VALUES (1, ?, ?, ?, ?, ?)
            """, arguments: [Schema.version, Data(canonical), hash, jobs.count, now])
        let insert = try db.makeStatement(sql: """
            INSERT INTO jobs (id, key, kind, seedIndex, dependsOn, cost) VALUES (?, ?, ?, ?, ?, ?)
            """)
        for job in jobs {
            try insert.execute(arguments: [job.id, job.key, job.kind.rawValue, job.seedIndex, job.dependsOn, job.cost])
        }
    }

    /// On resume, the journaled job list must be the one this build derives from the grid: ids,
    /// keys, dependencies and costs. Otherwise results would be attributed to the wrong cells.
    private static func checkJobList(_ db: Database, spec: GridSpec, path: String) throws {
        let expected = spec.jobs()
        let rows = try Row.fetchAll(db, sql: "SELECT id, key, kind, dependsOn, cost FROM jobs ORDER BY id")
        guard rows.count == expected.count else {
            throw StoreError.notAJournal(path: path,
                                         detail: "it holds \(rows.count) jobs, its grid has \(expected.count)")
        }
        for (row, job) in zip(rows, expected) {
            let id: Int = row["id"], key: String = row["key"], kind: String = row["kind"]
            let dependsOn: Int? = row["dependsOn"], cost: Int = row["cost"]
            guard id == job.id, key == job.key, kind == job.kind.rawValue, dependsOn == job.dependsOn,
                  cost == job.cost else {
                throw StoreError.notAJournal(
                    path: path,
                    detail: "job \(id) is '\(key)' (cost \(cost)) there, but '\(job.key)' (cost \(job.cost)) "
                        + "in this build; it was written by a build that derives jobs differently")
            }
        }
    }
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

/// An exclusive `flock` on `<db>-lock`, held while a coordinator has the journal open, so that a
/// second coordinator on the same file is refused instead of dispatching the same jobs.
final class LockFile {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    static func acquire(_ lockPath: String, database: String) throws(StoreError) -> LockFile {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .io(path: lockPath, detail: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
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
        let text = Array("pid \(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
        return LockFile(fd: fd)
    }

    func release() {
        guard fd >= 0 else { return }
        close(fd)  // closing the descriptor releases the flock
        fd = -1
    }

    deinit { release() }
}
