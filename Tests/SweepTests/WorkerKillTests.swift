import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// RELIABILITY.md test 1: `kill -9` a worker mid-job.
    @Suite struct WorkerKillTests {
        @Test func aKilledWorkersJobIsRequeuedWithinTheLivenessWindowAndDoneElsewhere() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 200, liveness: 3)
            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 3000), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let doomed = try startWorker(scratch, url: url, name: "doomed", timing: timing)
            defer { doomed.kill9() }
            let lease = try #require(waitForLease(sweep.db, jobId: 1, attempt: 1, timeout: 30))
            #expect(pid(ofIdentity: lease.leaseWorker) == doomed.pid)
            let survivor = try startWorker(scratch, url: url, name: "survivor", timing: timing)
            defer { survivor.kill9() }
            #expect(eventually(timeout: 30) { sweep.stderr.contains("worker survivor admitted") })
            pause(0.3)

            let killedAt = Date()
            doomed.kill9()
            var lost: EventRecord?
            let seen = eventually(timeout: 20) {
                lost = journalEvents(sweep.db).first { $0.kind == "lost" && $0.jobId == 1 }
                return lost != nil
            }
            let polled = Date().timeIntervalSince(killedAt)
            try #require(seen, "no lost event within 20 s; sweep log:\n\(sweep.stderr)")
            let detection = try #require(lost).at.timeIntervalSince(killedAt)
            let bound = timing.livenessSeconds + 1
            print("worker kill -9 → lease lost and job re-queued: \(Int(detection * 1000)) ms in the journal "
                  + "(\(Int(polled * 1000)) ms as polled every 20 ms; bound \(Int(bound * 1000)) ms)")
            #expect(lost?.attempt == 1)
            #expect(detection <= bound, "detected after \(detection) s")

            #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.stderr)")
            #expect(survivor.wait(timeout: 10) == 0, "the survivor exits after the coordinator's BYE")
            let results = try journalResults(sweep.db)
            #expect(results.count == 1)
            #expect(results.first?.attempt == 2)
            #expect(pid(ofIdentity: results.first?.worker) == survivor.pid)
            let requeued = journalEvents(sweep.db).filter { $0.kind == "requeued" }
            #expect(requeued.map(\.attempt) == [2])
            try expectExactlyOnce(sweep.db, total: 1)
        }
    }
}
