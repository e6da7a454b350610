import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// `thermosweep retry` and `cancel` on real sweeps (docs/JOBS.md): a job that runs out of
    /// attempts (the fault worker hangs it; retry limit 1) is cancelled, brought back, and done
    /// once by a resumed sweep; the done job never runs again; both commands are refused while
    /// the coordinator holds the journal.
    @Suite struct RetryCancelTests {
        /// `thermosweep ARGUMENTS` to its end: exit status, stdout, stderr.
        func run(_ scratch: Scratch, _ arguments: [String], name: String) throws -> (status: Int32?, out: String, err: String) {
            let process = try Spawned(arguments, outputPrefix: scratch.file(name))
            let status = process.wait(timeout: 60)
            return (status, process.stdout, process.stderr)
        }

        func dispatches(_ db: String, job: Int) -> Int {
            journalEvents(db).filter { $0.kind == "dispatched" && $0.jobId == job }.count
        }

        @Test func aJobThatRanOutOfAttemptsIsCancelledRetriedAndDoneOnce() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, stallMs: 1000, retryLimit: 1)
            // Jobs 1 (η 0.1) and 2 (η 0.2); the only worker hangs its first job, job 1, which
            // fails after its one allowed attempt; job 2 is done by the same worker.
            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 300, lr: "0.1,0.2"), timing: timing,
                                               bind: "ipc://" + scratch.file("sweep.ipc"))
            let url = try #require(sweep.boundEndpoint())
            let hung = try startHangingWorker(scratch, url: url, name: "hung", timing: timing, afterSteps: 3)
            defer { hung.kill9() }
            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            #expect(hung.wait(timeout: 10) == 0)
            var jobs = journalJobs(sweep.db)
            try #require(jobs.map(\.state) == [.failed, .done], "\(jobs)\n\(sweep.stderr)")
            #expect(jobs[0].failure == .exhausted && jobs[0].retries == 1)
            #expect(dispatches(sweep.db, job: 2) == 1)

            // A done job keeps its result: nothing to cancel, exit 2, nothing written.
            let done = try run(scratch, ["cancel", "--db", sweep.db, "--job", "2"], name: "cancel-done")
            #expect(done.status == 2 && done.err.contains("#2 trivial/lr=0.2/b=8/seed=1: done; its result is kept"),
                    "\(done)")
            // A value the grid does not have is a usage error naming it and the grid's values.
            let offGrid = try run(scratch, ["cancel", "--db", sweep.db, "--lr", "0.3"], name: "cancel-off-grid")
            #expect(offGrid.status == 64 && offGrid.err.contains("--lr 0.3 is not on this sweep's grid")
                        && offGrid.err.contains("0.1, 0.2"), "\(offGrid)")
            let cancel = try run(scratch, ["cancel", "--db", sweep.db, "--lr", "0.1"], name: "cancel")
            #expect(cancel.status == 0 && cancel.out.contains("#1 trivial/lr=0.1/b=8/seed=1: cancelled"), "\(cancel)")
            #expect(try counts(sweep.db).cancelled == 1)
            let status = try run(scratch, ["status", "--db", sweep.db], name: "status")
            #expect(status.status == 0 && status.out.contains("2 jobs: 1 done, 0 failed, 0 running, 0 queued, 1 cancelled"),
                    "\(status)")
            let json = try run(scratch, ["status", "--db", sweep.db, "--format", "json"], name: "status-json")
            #expect(json.out.contains("\"cancelled\" : 1"), "\(json)")

            // Every job has ended: the resumed sweep ends at once, without a worker.
            try sweep.rerun()
            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            #expect(journalJobs(sweep.db).map(\.state) == [.cancelled, .done])

            // `retry` alone takes failed jobs; the cancelled one is brought back by name.
            let none = try run(scratch, ["retry", "--db", sweep.db], name: "retry-none")
            #expect(none.status == 0 && none.out.contains("nothing to retry"), "\(none)")
            let retry = try run(scratch, ["retry", "--db", sweep.db, "--job", "1"], name: "retry")
            #expect(retry.status == 0 && retry.out.contains("#1 trivial/lr=0.1/b=8/seed=1: queued as attempt 2"),
                    "\(retry)")
            jobs = journalJobs(sweep.db)
            #expect(jobs[0].state == .queued && jobs[0].attempt == 2 && jobs[0].retries == 0)

            // While the coordinator holds the journal, both commands are refused and write nothing.
            try sweep.rerun()
            let url2 = try #require(sweep.boundEndpoint())
            for command in ["retry", "cancel"] {
                let refused = try run(scratch, [command, "--db", sweep.db, "--job", "1"], name: "\(command)-refused")
                #expect(refused.status == 2 && refused.err.contains("held by a running coordinator")
                            && refused.err.contains("stop the sweep first"), "\(refused)")
            }
            let healthy = try startWorker(scratch, url: url2, name: "healthy", timing: timing)
            defer { healthy.kill9() }
            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            #expect(healthy.wait(timeout: 10) == 0)

            try expectExactlyOnce(sweep.db, total: 2)
            let results = try journalResults(sweep.db)
            #expect(results.map(\.attempt) == [2, 1])
            #expect(dispatches(sweep.db, job: 2) == 1, "the done job never ran again")
            #expect(dispatches(sweep.db, job: 1) == 2)
            let decisions = journalEvents(sweep.db).filter { ["cancelled", "retried"].contains($0.kind) }
            #expect(decisions.map(\.kind) == ["cancelled", "retried"])
            #expect(decisions.allSatisfy { $0.jobId == 1 && ($0.message ?? "").contains("by thermosweep") }, "\(decisions)")
        }

        /// A job that ran out of attempts under `--retry-limit 1` is run again, once, by the same
        /// sweep resumed with `--retry-limit 2`; the done job is not.
        @Test func aResumedSweepWithAHigherRetryLimitRetriesTheJobsThatRanOutOfAttempts() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, stallMs: 1000, retryLimit: 1)
            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 300, lr: "0.1,0.2"), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let hung = try startHangingWorker(scratch, url: url, name: "hung", timing: timing, afterSteps: 3)
            defer { hung.kill9() }
            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            try #require(journalJobs(sweep.db).map(\.state) == [.failed, .done], "\(sweep.stderr)")

            // The same sweep, its limit raised: the same grid, so the journal resumes.
            var raised = timing
            raised.retryLimit = 2
            let endpointFile = scratch.file("raised.endpoint")
            let resumed = try Spawned(["sweep", "--db", sweep.db, "--endpoint-file", endpointFile, "--bind", "tcp://127.0.0.1:0"]
                                          + trivialGrid(millis: 300, lr: "0.1,0.2") + raised.sweepFlags,
                                      outputPrefix: scratch.file("raised"))
            defer { resumed.kill9() }
            let url2 = try #require(endpoint(in: endpointFile))
            let healthy = try startWorker(scratch, url: url2, name: "healthy", timing: raised)
            defer { healthy.kill9() }
            #expect(resumed.wait(timeout: 60) == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.contains("2 jobs, 1 already ended (1 more queued again under --retry-limit 2)"),
                    "\(resumed.stderr)")
            try expectExactlyOnce(sweep.db, total: 2)
            #expect(try journalResults(sweep.db).map(\.attempt) == [2, 1])
            #expect(dispatches(sweep.db, job: 2) == 1, "the done job never ran again")
            let retried = journalEvents(sweep.db).filter { $0.kind == "retried" }
            #expect(retried.map(\.jobId) == [1] && retried.map(\.attempt) == [2])
            #expect(retried.first?.message == "the retry limit is now 2, above its 1 failed attempt", "\(retried)")
            #expect(journalJobs(sweep.db)[0].retries == 1, "the count of failed attempts is kept")
        }
    }
}
