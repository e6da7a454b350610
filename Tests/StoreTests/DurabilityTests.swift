// What survives: committed changes are visible to an independent connection at once (the WAL is
// written before a call returns), an interrupted transaction leaves nothing, and a write the
// disk refuses stops the journal loudly with the path and SQLite's error.
import Foundation
import SweepProtocol
@testable import Store
import Testing

@Suite struct DurabilityTests {
    let folder: TemporaryFolder

    init() throws { folder = try TemporaryFolder() }

    @Test func aCommittedChangeIsOnDiskForAnotherConnection() throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        try store.lease(jobId: 4, attempt: 1, worker: "w1")
        // Still open, nothing flushed by closing: sqlite3 (another process) reads the WAL.
        #expect(try sqlite3(folder.database, "SELECT state, attempt, leaseWorker FROM jobs WHERE id = 4") == "running|1|w1")
        try store.recordResult(jobId: 4, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 2,
                                       worker: "w1")
        #expect(try sqlite3(folder.database, "SELECT jobId, attempt, CAST(result AS TEXT) FROM results")
                    == #"4|1|{"format":"thermosweep-trivial/1"}"#)
        // A process that dies without closing (here: the Store is simply never closed) loses
        // nothing: a second connection opened read-only sees the same.
        let reader = try Store.openReadOnly(path: folder.database)
        #expect(try reader.job(4)?.state == .done)
        #expect(try reader.results().map(\.jobId) == [4])
    }

    /// A process killed with -9 leaves the database file and its WAL as they are after the last
    /// commit, never checkpointed or closed. Copies of exactly those two files open with every
    /// commit in place (SQLite replays the WAL).
    @Test func theFilesOfAKilledCoordinatorHoldEveryCommit() throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        try store.lease(jobId: 2, attempt: 1, worker: "w2")
        try store.recordResult(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1,
                                       worker: "w1")
        let copy = folder.path + "/after-kill/journal.sqlite"
        try FileManager.default.createDirectory(atPath: folder.path + "/after-kill", withIntermediateDirectories: true)
        #expect(try sqlite3(folder.database, "SELECT COUNT(*) FROM results") == "1")
        let walSize = try FileManager.default.attributesOfItem(atPath: folder.database + "-wal")[.size] as? Int
        #expect((walSize ?? 0) > 0)  // the commits are still in the WAL, not checkpointed
        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: folder.database + suffix, toPath: copy + suffix)
        }
        let restarted = try Store.open(path: copy, spec: Fixtures.trivialGrid)
        #expect(try restarted.results().map(\.jobId) == [1])
        #expect(try restarted.orphanRunningLeases().map(\.jobId) == [2])
        // Job 1 is done: a second result for it is not a legal step, whatever a coordinator says.
        #expect(throws: StoreError.self) {
            try restarted.recordResult(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1,
                                       worker: "w1")
        }
    }

    /// The database file alone is a whole journal at every moment (copied without its WAL it
    /// opens, passes SQLite's integrity check and holds a prefix of the commits): commits reach
    /// it only by the Store's own checkpoints, every 1 MiB of WAL, and closing folds in the rest
    /// and leaves one file.
    @Test func theDatabaseFileAloneIsAlwaysAWholeJournal() throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        let padding = String(repeating: "x", count: 300_000)
        let big = Array(#"{"format":"thermosweep-trivial/1","padding":"\#(padding)"}"#.utf8)
        var counts: [Int] = []
        for job in 1...8 {
            try store.lease(jobId: job, attempt: 1, worker: "w1")
            try store.recordResult(jobId: job, attempt: 1, result: big, checkpoint: nil, wallSeconds: 1, worker: "w1")
            let copy = folder.path + "/alone-\(job).sqlite"
            try FileManager.default.copyItem(atPath: folder.database, toPath: copy)
            #expect(try sqlite3(copy, "PRAGMA integrity_check") == "ok")
            counts.append(try Store.openReadOnly(path: copy).results().count)
        }
        // The first result waits in the WAL; 300 kB results bring it past 1 MiB every fourth one.
        #expect(counts == [0, 0, 0, 4, 4, 4, 4, 8])
        try store.close()
        #expect(!FileManager.default.fileExists(atPath: folder.database + "-wal"))
        #expect(try Store.openReadOnly(path: folder.database).results().count == 8)
    }

    @Test func theConnectionRunsInWALWithFullSync() throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        let settings = try store.connectionSettings()
        #expect(settings == ConnectionSettings(journalMode: "wal", synchronous: "full", foreignKeys: true,
                                               busyTimeoutMs: 5000))
    }

    /// SQLite goes on writing to a deleted file (in WAL mode it does not notice); the Store checks
    /// after every commit and refuses to report success.
    @Test(arguments: ["", "-wal"]) func aDeletedOrReplacedFileStopsTheJournalLoudly(suffix: String) throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        let file = folder.database + suffix
        try FileManager.default.moveItem(atPath: file, toPath: file + ".moved")
        if suffix == "-wal" { try FileManager.default.copyItem(atPath: file + ".moved", toPath: file) }
        do {
            try store.recordResult(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1,
                                       worker: "w1")
            Issue.record("a write to a deleted journal reported success")
        } catch {
            guard case let .io(path, detail) = error else {
                Issue.record("wrong error: \(error)")
                return
            }
            #expect(path == file)
            #expect(detail.contains("deleted or replaced"))
            #expect(error.isStorageFailure)
            #expect(error.description.contains(file) && error.description.contains("resume"))
        }
        // Sticky: nothing goes on from state that could not be recorded.
        #expect(throws: StoreError.self) { try store.lease(jobId: 2, attempt: 1, worker: "w1") }
    }

    /// As root, chmod 0444 does not stop writes; the immutable attribute does. Runs where
    /// `chattr +i` works (root on ext4, xfs, btrfs).
    @Test(.enabled(if: immutableAttributeWorks())) func anImmutableFileStopsTheJournalAndResumesWhenFixed() throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        let files = [folder.database, folder.database + "-wal"]
        #expect(try run("/usr/bin/chattr", ["+i"] + files) == 0)
        defer { _ = try? run("/usr/bin/chattr", ["-i"] + files) }
        #expect {
            try store.recordResult(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1,
                                   worker: "w1")
        } throws: { error in
            // SQLITE_IOERR (778, IOERR_WRITE, here): the WAL append was refused.
            guard case let .sqlite(path, _, code, _, _) = error as? StoreError else { return false }
            return path == folder.database && code & 0xff == 10
                && "\(error)".contains("could not commit 1 transitions: SQLite error")
                && "\(error)".contains("I/O error")
        }
        #expect(throws: StoreError.self) { try store.lease(jobId: 2, attempt: 1, worker: "w1") }
        _ = try? store.close()

        // Fixed: the same command resumes, the lease is still journaled, the result was not.
        #expect(try run("/usr/bin/chattr", ["-i"] + files) == 0)
        let resumed = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        #expect(try resumed.orphanRunningLeases().map(\.jobId) == [1])
        #expect(try resumed.results().isEmpty)
        try resumed.recordResult(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1,
                                 worker: "w1")
        #expect(try resumed.job(1)?.state == .done)
    }

    @Test func aFailedTransitionLeavesNothingHalfWritten() throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trainGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        let before = try sqlite3(folder.database, "SELECT COUNT(*) FROM events")
        // The lease of job 2 is written, then the result of job 1 is refused (no checkpoint): the
        // transaction rolls back, and another process sees neither.
        #expect(throws: StoreError.self) {
            try store.commit([
                .lease(jobId: 2, attempt: 1, worker: "w1"),
                .result(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w1"),
            ])
        }
        #expect(try sqlite3(folder.database, "SELECT COUNT(*) FROM events") == before)
        #expect(try sqlite3(folder.database, "SELECT COUNT(*) FROM results") == "0")
        #expect(try sqlite3(folder.database, "SELECT state FROM jobs WHERE id IN (1, 2) ORDER BY id") == "running\nqueued")
        #expect(try store.job(1)?.state == .running)
        // The CHECK constraints refuse a half-applied state even from outside the Store.
        #expect(try sqlite3(folder.database, "UPDATE jobs SET state = 'done' WHERE id = 2").contains("CHECK constraint failed"))
    }
}

private func immutableAttributeWorks() -> Bool {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr") else { return false }
    let probe = NSTemporaryDirectory() + "store-chattr-probe-" + UUID().uuidString
    guard FileManager.default.createFile(atPath: probe, contents: Data("x".utf8)) else { return false }
    defer {
        _ = try? run("/usr/bin/chattr", ["-i", probe])
        try? FileManager.default.removeItem(atPath: probe)
    }
    guard (try? run("/usr/bin/chattr", ["+i", probe])) == 0 else { return false }
    return FileManager.default.isWritableFile(atPath: probe) == false || (try? Data("y".utf8).write(to: URL(fileURLWithPath: probe))) == nil
}
