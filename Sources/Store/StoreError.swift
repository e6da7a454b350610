// Every way the journal can refuse: each message names the file and says what to do next. An
// `.sqlite` or `.io` error during a write means the change was NOT recorded: the coordinator must
// stop (RELIABILITY.md: it never goes on with state it could not record).

/// Why the journal refused to open or to record a change.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database holds another grid; `differences` are `GridSpec.differences` lines.
    case specMismatch(path: String, differences: [String], storedHash: String, requestedHash: String)
    /// The requested grid leaves out values or seeds of the journal's (`removed`: `GridChange`
    /// removal lines) and `--drop` was not given.
    case gridShrinks(path: String, removed: [String], storedHash: String, requestedHash: String)
    /// The database was written by a newer build (migrations this build does not know).
    case newerSchema(path: String, unknownMigrations: [String])
    /// The file is an SQLite database but not a ThermoSweep journal, or its job list is not the
    /// one this build derives from its grid.
    case notAJournal(path: String, detail: String)
    /// Another coordinator holds the database.
    case inUse(path: String, detail: String)
    /// No file at the path of a journal to read.
    case notFound(path: String)
    /// The grid spec cannot be used (invalid, or cannot be encoded).
    case invalidSpec(String)
    /// A transition that the job's journaled state does not allow: a scheduler bug. Nothing was
    /// written.
    case invalidTransition(operation: String, jobId: Int, attempt: Int, detail: String)
    /// An argument that can never be valid (e.g. a warm-start result without its checkpoint).
    case invalidArgument(operation: String, detail: String)
    /// A write on a journal opened read-only.
    case readOnly(path: String, operation: String)
    /// SQLite failed (disk full, read-only or moved file, I/O error); `writing`: a change of the
    /// running sweep, which was not recorded. `code` is SQLite's extended result code.
    case sqlite(path: String, operation: String, code: Int32, message: String, writing: Bool)
    /// A file-system step outside SQLite failed (creating the folder, the lock file).
    case io(path: String, detail: String)

    public var description: String {
        switch self {
        case let .specMismatch(path, differences, storedHash, requestedHash):
            let lines = differences.isEmpty
                ? ["(the canonical specs differ, but in no labelled setting)"] : differences
            return "\(path) holds another grid (spec \(storedHash)) than the one requested (spec \(requestedHash)):\n"
                + lines.map { "  " + $0 }.joined(separator: "\n")
                + "\nTo resume that sweep, re-run it with its original flags; to start a new one, give another --db."
        case let .gridShrinks(path, removed, storedHash, requestedHash):
            return "\(path) holds a grid (spec \(storedHash)) with cells the one requested (spec \(requestedHash)) "
                + "leaves out:\n"
                + removed.map { "  " + $0 }.joined(separator: "\n")
                + "\nTo resume that sweep, re-run it with its original flags; to leave those cells out, add --drop "
                + "(their jobs stay in the journal, not exported); to start a new sweep, give another --db."
        case let .newerSchema(path, unknown):
            return "\(path) was written by a newer thermosweep (schema steps \(unknown.joined(separator: ", ")) "
                + "are unknown to this build): use that version, or give another --db."
        case let .notAJournal(path, detail):
            return "\(path) is not a thermosweep journal this build can use: \(detail). Give another --db."
        case let .inUse(path, detail):
            return "\(path) is in use by another coordinator (\(detail)): stop it first, or give another --db."
        case let .notFound(path):
            return "no database at \(path): give the --db of a sweep (`thermosweep sweep` creates it)."
        case let .invalidSpec(detail):
            return "grid spec refused: \(detail)"
        case let .invalidTransition(operation, jobId, attempt, detail):
            return "journal refused \(operation) of job \(jobId) attempt \(attempt): \(detail) (nothing was written)."
        case let .invalidArgument(operation, detail):
            return "journal refused \(operation): \(detail) (nothing was written)."
        case let .readOnly(path, operation):
            return "\(path) is open read-only: cannot \(operation)."
        case let .sqlite(path, operation, code, message, writing):
            let cause = "\(path): could not \(operation): SQLite error \(code): \(message)."
            let files = "The journal is \(path) together with \(path)-wal (the last commits may be there "
                + "only): to move it, move both, or copy it with `thermosweep backup --db \(path) --to NEW`."
            guard writing else { return "\(cause) \(files)" }
            let fix = code & 0xff == 13 ? "free space on its disk (or move the journal to a larger one)"
                : "fix the file (permissions, was it moved or deleted?)"
            return "\(cause) The coordinator stops here: \(fix) and re-run the same command to resume. \(files)"
        case let .io(path, detail):
            return "\(path): \(detail)"
        }
    }

    /// True when the journal asked for is refused as input (missing, another grid, not a journal,
    /// newer, held by another coordinator): the same for every command that reads one.
    public var isRefusedInput: Bool {
        switch self {
        case .notFound, .specMismatch, .gridShrinks, .newerSchema, .notAJournal, .inUse, .invalidSpec: return true
        default: return false
        }
    }

    /// True for errors of the file or disk (the change was not recorded and the journal cannot go
    /// on), false for refusals that wrote nothing and leave the journal usable.
    public var isStorageFailure: Bool {
        switch self {
        case .sqlite, .io: return true
        default: return false
        }
    }
}
