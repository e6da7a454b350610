import Cell
import Foundation
import Store
import Testing

extension FailureTests.Recovery {
    /// RELIABILITY.md test 4 (and the issue's end-to-end test): a real training sweep whose
    /// coordinator is `kill -9`ed twice at seeded random moments and restarted with the same command,
    /// and one of whose workers is `kill -9`ed and restarted, ends with the results of an
    /// uninterrupted run.
    @Suite struct CoordinatorRestartTests {
        static let grid = ["--synthetic", "--synthetic-count", "600", "--model", "lenet-4-8", "--lr", "0.05,0.1",
                           "--batch", "8,16", "--seeds", "2", "--warm-epochs", "2", "--burn-in-steps", "1500",
                           "--measure-steps", "1500"]
        static let data = ["--synthetic", "--synthetic-count", "600"]
        static let jobCount = 10

        @Test func killedCoordinatorResumesToTheResultsOfAnUninterruptedRun() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let seed = replayableSeed(4)
            var random = SplitMix64(seed: seed)
            // Long enough for a restarted coordinator to see its workers again and re-adopt their jobs.
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, readoptGraceMs: 2500)
            // The reference: the same grid, uninterrupted, with local workers, at the same time.
            let reference = try CoordinatorProcess(scratch, grid: Self.grid + ["--local-workers", "2"], timing: timing,
                                                   name: "reference")
            defer { reference.process.kill9() }
            let sweep = try CoordinatorProcess(scratch, grid: Self.grid, timing: timing,
                                               bind: "ipc://" + scratch.file("sweep.ipc"))
            defer { sweep.process.kill9() }
            let url = try #require(sweep.boundEndpoint())
            var workers = try ["a", "b"].map { try startWorker(scratch, url: url, name: $0, timing: timing, data: Self.data) }
            defer { for worker in workers { worker.kill9() } }

            // Seeded moments: after k jobs are done plus a delay, so that each lands mid-sweep.
            var plan: [(action: String, afterDone: Int, delay: Double)] = [
                ("coordinator", Int.random(in: 1...3, using: &random), Double.random(in: 0...0.6, using: &random)),
                ("worker b", Int.random(in: 4...5, using: &random), Double.random(in: 0...0.6, using: &random)),
                ("coordinator", Int.random(in: 6...7, using: &random), Double.random(in: 0...0.6, using: &random)),
            ]
            var log: [String] = ["seed \(seed)"]
            var workerRuns = 1
            while !plan.isEmpty {
                let step = plan.removeFirst()
                let reached = eventually(timeout: 60) { doneCount(sweep.db) >= step.afterDone || !sweep.process.isRunning }
                try #require(reached, "\(step.afterDone) jobs not done within 60 s:\n\(sweep.stderr)")
                pause(step.delay)
                guard sweep.process.isRunning else { break }
                let done = doneCount(sweep.db)
                if step.action == "coordinator" {
                    #expect(try sweep.killAndRestart(), "the restarted coordinator did not bind:\n\(sweep.stderr)")
                } else {
                    workers[1].kill9()
                    workerRuns += 1
                    workers[1] = try startWorker(scratch, url: url, name: "b", timing: timing, data: Self.data,
                                                 run: workerRuns)
                }
                log.append("kill -9 \(step.action) at \(done) done")
            }
            print("coordinator restarts: " + log.joined(separator: "; "))
            #expect(log.count == 4, "the sweep ended before every planned kill: \(log)")

            #expect(sweep.process.wait(timeout: 120) == 0, "\(sweep.stderr)")
            #expect(reference.process.wait(timeout: 120) == 0, "\(reference.stderr)")
            for worker in workers { #expect(worker.wait(timeout: 10) == 0, "workers exit after the coordinator's BYE") }
            try expectExactlyOnce(sweep.db, total: Self.jobCount)
            try expectExactlyOnce(reference.db, total: Self.jobCount)

            let events = journalEvents(sweep.db)
            print("coordinator restarts: orphaned \(events.filter { $0.kind == "orphaned" }.count), "
                  + "adopted \(events.filter { $0.kind == "adopted" }.count), "
                  + "re-queued \(events.filter { $0.kind == "requeued" }.count), "
                  + "stale results \(sweep.stderr.components(separatedBy: "stale result").count - 1)")
            #expect(events.contains { $0.kind == "orphaned" }, "a coordinator was killed with jobs in flight")

            let interrupted = try journalResults(sweep.db), uninterrupted = try journalResults(reference.db)
            #expect(interrupted.map(\.key) == uninterrupted.map(\.key))
            #expect(Set(interrupted.map(\.key)).count == Self.jobCount)
            #expect(interrupted.filter { $0.key.hasPrefix("cell/") }.count == 8)
            for (mine, theirs) in zip(interrupted, uninterrupted) {
                let a = try normalizedJSON(try #require(mine.result)), b = try normalizedJSON(try #require(theirs.result))
                #expect(a == b, "\(mine.key) differs from the uninterrupted run")
            }
        }

        /// A lease orphaned by a coordinator restart and not re-adopted within the grace (here 0) is
        /// re-queued; the worker, back after its reconnect backoff with the finished result of the old
        /// attempt, re-sends it on WELCOME: journaled stale, never counted.
        ///
        /// Timing: the job ends ≈0.4 s after the kill; the worker is frozen from 0.7 s until 0.5 s
        /// after the restart, so the orphan expires before the worker can name it.
        @Test func aLateResultOfAnOrphanThatWasRequeuedIsStaleNotCounted() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, readoptGraceMs: 0)
            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 500),
                                               timing: timing, bind: "ipc://" + scratch.file("sweep.ipc"))
            defer { sweep.process.kill9() }
            let url = try #require(sweep.boundEndpoint())
            let worker = try startWorker(scratch, url: url, name: "w", timing: timing)
            defer { worker.kill9() }
            try #require(waitForLease(sweep.db, jobId: 1, attempt: 1, timeout: 30) != nil)
            pause(0.1)
            sweep.process.kill9()
            pause(0.6)
            // The worker keeps listening while it waits to reconnect, and would re-adopt its lease at
            // once: freeze it until the restarted coordinator has expired the orphan (grace 0).
            worker.signal(SIGSTOP)
            try sweep.rerun()
            pause(0.5)
            worker.signal(SIGCONT)

            #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.stderr)")
            #expect(worker.wait(timeout: 10) == 0)
            let events = journalEvents(sweep.db)
            let kinds = events.filter { $0.jobId == 1 }.map { "\($0.kind) \($0.attempt ?? 0)" }
            #expect(kinds.contains("orphaned 1") && kinds.contains("orphanExpired 1") && kinds.contains("requeued 2"),
                    "\(kinds)")
            let stale = events.filter { $0.kind == "stale" }
            #expect(!stale.isEmpty, "\(kinds)\n\(sweep.stderr)")
            #expect(stale.allSatisfy { $0.jobId == 1 && $0.attempt == 1 && pid(ofIdentity: $0.worker) == worker.pid })
            #expect(try journalResults(sweep.db).map(\.attempt) == [2])
            try expectExactlyOnce(sweep.db, total: 1)
        }
    }
}
