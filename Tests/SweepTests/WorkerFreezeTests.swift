import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// RELIABILITY.md test 2: `SIGSTOP` a worker mid-job, `SIGCONT` it after it was declared lost.
    ///
    /// Thawed, the worker first reads what the coordinator queued for it while it was frozen, the
    /// CANCEL of its lease among it, so its job usually ends without a result; a RESULT that does
    /// come late (the job ended before the CANCEL was read) must be journaled `stale`. Either way,
    /// nothing of the frozen attempt is counted.
    @Suite struct WorkerFreezeTests {
        @Test func aFrozenWorkerIsDeclaredLostAndNothingOfItsAttemptIsCounted() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3)
            let jobSeconds = 2.0, freezeAfter = 0.5
            let sweep = try CoordinatorProcess(scratch,
                grid: trivialGrid(millis: Int(jobSeconds * 1000)), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let frozen = try startWorker(scratch, url: url, name: "frozen", timing: timing)
            defer { frozen.kill9() }
            let lease = try #require(waitForLease(sweep.db, jobId: 1, attempt: 1, timeout: 30))
            let leasedAt = Date()
            #expect(pid(ofIdentity: lease.leaseWorker) == frozen.pid)
            let other = try startWorker(scratch, url: url, name: "other", timing: timing)
            defer { other.kill9() }
            #expect(eventually(timeout: 30) { sweep.stderr.contains("worker other admitted") })
            pause(freezeAfter - Date().timeIntervalSince(leasedAt))

            let stoppedAt = Date()
            frozen.signal(SIGSTOP)
            var lost: EventRecord?
            let seen = eventually(timeout: 20) {
                lost = journalEvents(sweep.db).first { $0.kind == "lost" && $0.jobId == 1 }
                return lost != nil
            }
            try #require(seen, "the frozen worker was not declared lost within 20 s:\n\(sweep.stderr)")
            print("SIGSTOP → declared lost after \(Int((lost?.at.timeIntervalSince(stoppedAt) ?? 0) * 1000)) ms "
                  + "(liveness window \(Int(timing.livenessSeconds * 1000)) ms)")
            #expect(lost?.attempt == 1)
            #expect(try journalResults(sweep.db).isEmpty, "the job ended before the freeze: the test needs a longer job")
            let second = try #require(waitForLease(sweep.db, jobId: 1, attempt: 2, timeout: 20))
            #expect(pid(ofIdentity: second.leaseWorker) == other.pid)
            frozen.signal(SIGCONT)

            #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.stderr)")
            let results = try journalResults(sweep.db)
            #expect(results.map(\.attempt) == [2])
            #expect(pid(ofIdentity: results.first?.worker) == other.pid)
            let events = journalEvents(sweep.db)
            let stale = events.filter { $0.kind == "stale" }
            #expect(stale.allSatisfy { $0.jobId == 1 && $0.attempt == 1 && pid(ofIdentity: $0.worker) == frozen.pid })
            #expect(stale.count == sweep.stderr.components(separatedBy: "stale result #1 attempt 1 from frozen").count - 1)
            #expect(!events.contains { $0.kind == "duplicate" })
            print("SIGCONT: the frozen attempt " + (stale.isEmpty ? "was cancelled before it ended"
                                                                   : "sent a late RESULT, journaled stale"))
            try expectExactlyOnce(sweep.db, total: 1)
            #expect(other.wait(timeout: 10) == 0)
            #expect(frozen.wait(timeout: 10) == 0, "the thawed worker reconnected and got the BYE")
        }
    }
}
