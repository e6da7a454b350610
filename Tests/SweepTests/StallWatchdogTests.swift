import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// RELIABILITY.md test 3: a trainer that hangs while its worker's socket and heartbeats stay up
    /// (the fault worker's `--stall-job-after-steps`: its first job stops advancing and waits to be
    /// cancelled).
    @Suite struct StallWatchdogTests {
        static let hangAfter = 5

        @Test func aHungTrainerBehindALiveSocketIsRequeuedByTheStallWatchdog() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, stallMs: 1000)
            // Two 400 ms jobs: the healthy worker, admitted first, takes job 1 and is free again
            // long before the stall window of job 2 on the hung worker ends, so the re-queued job goes
            // to the first free worker in admission order: the healthy one.
            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 400, lr: "0.1,0.2"), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let healthy = try startWorker(scratch, url: url, name: "healthy", timing: timing)
            defer { healthy.kill9() }
            try #require(waitForLease(sweep.db, jobId: 1, attempt: 1, timeout: 30) != nil)
            let hung = try startHangingWorker(scratch, url: url, name: "hung", timing: timing, afterSteps: Self.hangAfter)
            defer { hung.kill9() }
            let lease = try #require(waitForLease(sweep.db, jobId: 2, attempt: 1, timeout: 30))
            #expect(pid(ofIdentity: lease.leaseWorker) == hung.pid)

            #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.stderr)")
            #expect(healthy.wait(timeout: 10) == 0)
            #expect(hung.wait(timeout: 10) == 0, "the hung worker's loop stayed responsive and heard the BYE")
            let events = journalEvents(sweep.db)
            let stalled = try #require(events.first { $0.kind == "stalled" }, "no stall:\n\(sweep.stderr)")
            #expect(stalled.jobId == 2 && stalled.attempt == 1)
            #expect(pid(ofIdentity: stalled.worker) == hung.pid)
            #expect(sweep.stderr.contains("#2 stalled on hung at step \(Self.hangAfter)"), "\(sweep.stderr)")
            // The socket stayed up: no worker was lost, and only the stalled lease ended early.
            #expect(!events.contains { ["lost", "dropped", "transient"].contains($0.kind) }, "\(events)")
            #expect(events.filter { $0.kind == "requeued" }.map(\.jobId) == [2])
            let dispatched = try #require(events.first { $0.kind == "dispatched" && $0.jobId == 2 })
            print("stall watchdog: hung at step \(Self.hangAfter) (≈\(Self.hangAfter * 10) ms in), lease expired "
                  + "\(Int(stalled.at.timeIntervalSince(dispatched.at) * 1000)) ms after it began "
                  + "(stall window \(timing.stallMs) ms)")
            let results = try journalResults(sweep.db)
            #expect(results.map(\.attempt) == [1, 2])
            #expect(results.map { pid(ofIdentity: $0.worker) } == [healthy.pid, healthy.pid])
            try expectExactlyOnce(sweep.db, total: 2)
        }

        /// With one worker the stalled job goes straight back to the worker whose job thread is still
        /// winding down the cancelled lease; it answers "no free slot" (a transient failure, which
        /// counts as a retry) and gets the job again at once, until the retry limit fails the job.
        /// A hung job thread does not hold its slot: the job is re-leased to the same worker and done.
        @Test func aStalledJobOnTheOnlyWorkerIsDoneOnceTheHungThreadLetsGo() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, stallMs: 1000)
            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 500), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let worker = try startHangingWorker(scratch, url: url, name: "hung", timing: timing, afterSteps: Self.hangAfter)
            defer { worker.kill9() }
            #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.stderr)")
            #expect(worker.wait(timeout: 10) == 0)
            let events = journalEvents(sweep.db)
            #expect(events.contains { $0.kind == "stalled" && $0.jobId == 1 && $0.attempt == 1 })
            #expect(!events.contains { $0.kind == "lost" })
            let job = journalJobs(sweep.db).first.map { "\($0.state.rawValue) at attempt \($0.attempt)" } ?? "?"
            print("stall on the only worker: \(events.filter { $0.kind == "transient" }.count) 'no free slot' "
                  + "answers, job \(job)")
            let done = try counts(sweep.db).done
            #expect(done == 1, "\(sweep.stderr)")
            #expect(!events.contains { $0.kind == "transient" }, "no 'no free slot' answers")
        }
    }
}
