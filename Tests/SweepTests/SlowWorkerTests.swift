import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// RELIABILITY.md test 7: jobs much longer than the liveness window, on workers that keep
    /// heartbeating progress, are never taken away.
    @Suite struct SlowWorkerTests {
        @Test func jobsLongerThanTheLivenessWindowAreNeverRequeued() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 200, liveness: 3, stallMs: 1000)
            let jobMs = 2000
            #expect(Double(jobMs) / 1000 > 3 * timing.livenessSeconds)
            let sweep = try CoordinatorProcess(scratch,
                grid: trivialGrid(millis: jobMs, lr: "0.1,0.2", batch: "8,16"), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let workers = try ["slow-1", "slow-2"].map { try startWorker(scratch, url: url, name: $0, timing: timing) }
            defer { for worker in workers { worker.kill9() } }

            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            for worker in workers { #expect(worker.wait(timeout: 10) == 0) }
            let events = journalEvents(sweep.db)
            let expiries = events.filter { ["lost", "stalled", "dropped", "requeued", "stale"].contains($0.kind) }
            #expect(expiries.isEmpty, "\(expiries)")
            #expect(journalJobs(sweep.db).allSatisfy { $0.attempt == 1 && $0.retries == 0 })
            #expect(try journalResults(sweep.db).allSatisfy { $0.attempt == 1 && $0.wallSeconds >= 1.9 })
            try expectExactlyOnce(sweep.db, total: 4)
        }
    }
}
