// The statements every job runs through twice (its lease, its result, and their events), prepared
// once on the journal's connection and bound through SQLite's C interface.
//
// Through GRDB (`db.cachedStatement(sql:).execute(arguments:)`) each run looked its statement up by
// hashing the SQL text, boxed every argument as a `DatabaseValue` (a result's bytes copied into a
// `Data` on the way) and bound it: in a profile of the coordinator through 20,000 trivial jobs,
// that was about as much CPU as SQLite's own work for the five statements of a job
// (docs/SCALING.md). The rarer transitions keep GRDB.
import GRDB
import GRDBSQLite

/// The hot statements of one connection. Used only inside the Store's write transactions, on the
/// thread that holds the connection; `finalize()` before the connection closes.
final class JournalStatements {
    enum Name: Int, CaseIterable {
        /// ?1 worker, ?2 now, ?3 job id.
        case lease
        /// ?1 job id, ?2 attempt, ?3 result, ?4 checkpoint, ?5 wall seconds, ?6 worker, ?7 now.
        case result
        /// ?1 now, ?2 job id.
        case done
        /// ?1 now, ?2 job id, ?3 attempt, ?4 kind, ?5 worker, ?6 message.
        case event

        var sql: String {
            switch self {
            case .lease:
                "UPDATE jobs SET state = 'running', leaseWorker = ?1, leaseStartedAt = ?2 WHERE id = ?3"
            case .result:
                """
                INSERT INTO results (jobId, attempt, outcome, result, checkpoint, wallSeconds, worker, committedAt)
                VALUES (?1, ?2, 'done', ?3, ?4, ?5, ?6, ?7)
                """
            case .done:
                """
                UPDATE jobs SET state = 'done', leaseWorker = NULL, leaseStartedAt = NULL, orphanedAt = NULL,
                  finishedAt = ?1 WHERE id = ?2
                """
            case .event:
                "INSERT INTO events (at, jobId, attempt, kind, worker, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            }
        }
    }

    private let connection: OpaquePointer
    private var statements: [OpaquePointer] = []

    init(_ db: Database) throws {
        guard let connection = db.sqliteConnection else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the journal's connection is closed")
        }
        self.connection = connection
        for name in Name.allCases {
            var statement: OpaquePointer?
            let code = sqlite3_prepare_v3(connection, name.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard code == SQLITE_OK, let statement else {
                let error = DatabaseError(resultCode: ResultCode(rawValue: code),
                                          message: String(cString: sqlite3_errmsg(connection)), sql: name.sql)
                finalize()
                throw error
            }
            statements.append(statement)
        }
    }

    deinit { finalize() }

    /// Binds the arguments (`bind`), runs the statement to its end and clears it. A failure (a
    /// constraint, a full disk, an argument SQLite refused) throws SQLite's error as GRDB reports
    /// one, with the statement's SQL.
    func run(_ name: Name, _ bind: (inout Bindings) -> Void) throws {
        try Self.run(statements[name.rawValue], on: connection, sql: name.sql, bind)
    }

    /// The same for any prepared `statement` of `connection`.
    static func run(_ statement: OpaquePointer, on connection: OpaquePointer, sql: String,
                    _ bind: (inout Bindings) -> Void) throws {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)  // a blob bound without a copy must not outlive `run`
        }
        var bindings = Bindings(statement: statement)
        bind(&bindings)
        var code = bindings.code
        if code == SQLITE_OK {
            code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            code = sqlite3_extended_errcode(connection)
        }
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)),
                            sql: sql)
    }

    func finalize() {
        for statement in statements { sqlite3_finalize(statement) }
        statements = []
    }
}

/// The arguments of one run; the first binding SQLite refuses is kept in `code`.
struct Bindings {
    let statement: OpaquePointer
    private(set) var code = SQLITE_OK

    init(statement: OpaquePointer) { self.statement = statement }

    private mutating func keep(_ result: Int32) { if code == SQLITE_OK { code = result } }

    mutating func int(_ index: Int32, _ value: Int?) {
        keep(value.map { sqlite3_bind_int64(statement, index, Int64($0)) } ?? sqlite3_bind_null(statement, index))
    }

    mutating func double(_ index: Int32, _ value: Double) { keep(sqlite3_bind_double(statement, index, value)) }

    /// Copied by SQLite.
    mutating func text(_ index: Int32, _ value: String?) {
        guard var value else { return keep(sqlite3_bind_null(statement, index)) }
        keep(value.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { text in
                guard let start = text.baseAddress else {
                    return sqlite3_bind_text64(statement, index, "", 0, sqliteTransient, UInt8(SQLITE_UTF8))
                }
                return sqlite3_bind_text64(statement, index, start, sqlite3_uint64(text.count), sqliteTransient,
                                           UInt8(SQLITE_UTF8))
            }
        })
    }

    /// Not copied: `bytes` must stay valid until `run` returns.
    mutating func blob(_ index: Int32, _ bytes: UnsafeRawBufferPointer?) {
        guard let bytes else { return keep(sqlite3_bind_null(statement, index)) }
        // A zero-length blob is a blob, not NULL: SQLite needs a non-null pointer for that.
        keep(sqlite3_bind_blob64(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                 sqlite3_uint64(bytes.count), nil))
    }
}

/// SQLite's SQLITE_TRANSIENT: copy the bytes before the bind returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
