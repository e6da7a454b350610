import Foundation
import Session
import Store
import SweepProtocol
import TestSupport
import Testing
import Worker
import ZeroMQ

/// A whole sweep run in this process: the session (journal, loop, stop, outcome) with workers on
/// threads of the test, over `ipc://` in a private folder. Every wait is bounded.
@Suite(.ownThread) struct SweepSessionTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// 2 η × 2 |B| × 2 seeds = 8 trivial jobs of `millis` ms.
    func settings(millis: Int) -> SweepSettings {
        let grid = GridSpec(learningRates: [0.05, 0.1], batchSizes: [8, 16], seeds: 2, jobKind: .trivial,
                            dataset: .synthetic(), trivialMillis: millis)
        var settings = SweepSettings(database: folder.appendingPathComponent("runs/sweep.sqlite").path, grid: grid,
                                     dataset: nil, release: "0.0.0-test", workerExecutable: "/nonexistent")
        settings.bind = "ipc://" + folder.appendingPathComponent("sweep.ipc").path
        settings.endpointFile = folder.appendingPathComponent("endpoint").path
        settings.timing.heartbeat = .milliseconds(100)
        settings.quiet = true
        return settings
    }

    /// Runs `session` on a thread of its own; `wait` returns its outcome (or nil after `timeout`).
    final class Running: @unchecked Sendable {
        // Safe to share: `result` is written once by the session's thread, under `lock`.
        private let lock = NSLock()
        private var result: Result<SweepOutcome, SweepFailure>?

        init(_ session: SweepSession) {
            Thread { [self] in
                let outcome = Result<SweepOutcome, SweepFailure>(catching: { () throws(SweepFailure) -> SweepOutcome in
                    try session.run()
                })
                lock.withLock { result = outcome }
            }.start()
        }

        func wait(timeout: Double) -> Result<SweepOutcome, SweepFailure>? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let result = lock.withLock({ result }) { return result }
                usleep(10_000)
            }
            return nil
        }
    }

    /// `count` workers in this process that dial `endpoint` (before or after it listens).
    func workers(_ count: Int, endpoint: String, run: Int) throws -> [WorkerLoop] {
        try (0..<count).map { i in
            let config = WorkerConfig(endpoint: endpoint, name: "t\(run)-\(i)", heartbeatInterval: .milliseconds(100),
                                      liveness: 30, exitOnCoordinatorLoss: true, version: "0.0.0-test",
                                      buildCPU: "x86-64", datasets: [], host: "test", nonce: "0000\(run)00\(i)",
                                      cores: 1, log: { _ in })
            let loop = try WorkerLoop(config: config, runner: TrivialJobRunner())
            Thread { _ = loop.run() }.start()
            return loop
        }
    }

    @Test func aSweepRunsToItsEndInProcess() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = settings(millis: 20)
        let running = Running(SweepSession(settings))
        let loops = try workers(2, endpoint: settings.bind, run: 1)
        defer { for loop in loops { loop.stop() } }
        let outcome = try #require(running.wait(timeout: 60), "the sweep did not end within 60 s")
        guard case .success(.finished(let status, let exports, let summary)) = outcome else {
            Issue.record("not finished: \(outcome)")
            return
        }
        #expect(status.contains("8 jobs: 8 done, 0 failed"), "\(status)")
        #expect(exports.isEmpty && summary == nil)  // a trivial grid measures nothing
        #expect(!FileManager.default.fileExists(atPath: settings.endpointFile ?? ""), "the endpoint file outlived the run")
        let store = try Store.openReadOnly(path: settings.database)
        defer { try? store.close() }
        #expect(try store.results().count == 8 && (try store.counts().done) == 8)
    }

    /// A stop request ends the run resumable; the same settings then finish the grid, and no job
    /// is counted twice.
    @Test func aStoppedSweepResumesToTheSameJournal() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = settings(millis: 300)
        // The worker of the first run still holds its lease when the run stops; the resumed run
        // re-queues it after this grace instead of the default 10 s.
        settings.timing.readoptGrace = .milliseconds(200)
        let session = SweepSession(settings)
        let running = Running(session)
        var loops = try workers(1, endpoint: settings.bind, run: 1)
        let store = try Store.openReadOnly(path: settings.database, waitingForCreation: 30)
        #expect(waitUntil(timeout: 30) { ((try? store.counts().done) ?? 0) >= 2 })
        session.requestStop(reason: "test")
        let first = try #require(running.wait(timeout: 30), "the stopped sweep did not return")
        guard case .success(.stopped) = first else {
            Issue.record("not stopped: \(first)")
            return
        }
        for loop in loops { loop.stop() }
        let doneBefore = try store.counts().done
        #expect(doneBefore >= 2 && doneBefore < 8)

        let again = Running(SweepSession(settings))
        loops = try workers(2, endpoint: settings.bind, run: 2)
        defer { for loop in loops { loop.stop() } }
        let second = try #require(again.wait(timeout: 60), "the resumed sweep did not end within 60 s")
        guard case .success(.finished) = second else {
            Issue.record("not finished: \(second)")
            return
        }
        let results = try store.results()
        #expect(results.count == 8 && Set(results.map(\.jobId)).count == 8)
        #expect(try store.counts().done == 8)
        try? store.close()
    }

    @Test func anotherGridOnTheSameJournalIsRefusedWithStatus2() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = settings(millis: 0)
        let running = Running(SweepSession(first))
        let loops = try workers(1, endpoint: first.bind, run: 1)
        defer { for loop in loops { loop.stop() } }
        _ = try #require(running.wait(timeout: 60))
        var other = first
        other.grid.seeds = 3  // would grow the grid, but what every job does changed too
        other.grid.trivialMillis = 7
        let refused = try #require(Running(SweepSession(other)).wait(timeout: 30))
        guard case .failure(let failure) = refused else {
            Issue.record("another grid was accepted: \(refused)")
            return
        }
        #expect(failure.exitStatus == 2 && failure.description.contains("trivial-ms: 0 → 7"), "\(failure)")
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

extension Store {
    /// Opens the journal read-only once a sweep has created it (bounded wait).
    static func openReadOnly(path: String, waitingForCreation timeout: Double) throws -> Store {
        _ = waitUntil(timeout: timeout) { FileManager.default.fileExists(atPath: path) }
        var store: Store?
        _ = waitUntil(timeout: timeout) {
            store = try? Store.openReadOnly(path: path)
            return store != nil
        }
        return try store ?? Store.openReadOnly(path: path)
    }
}
