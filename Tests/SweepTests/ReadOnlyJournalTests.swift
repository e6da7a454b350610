import Foundation
import Store
import Testing

extension FailureTests.Recovery {
    /// RELIABILITY.md test 11: the journal becomes unwritable mid-sweep.
    @Suite struct ReadOnlyJournalTests {
        @Test(.enabled(if: immutableAttributeWorks(),
                       "chattr +i does not make a file unwritable here (needs root and ext4, xfs or btrfs)"))
        func anUnwritableJournalStopsTheCoordinatorLoudlyAndTheSameCommandResumes() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, readoptGraceMs: 1000)
            // ipc:// keeps its address across the rerun, so the worker reconnects by itself.
            let sweep = try CoordinatorProcess(scratch,
                grid: trivialGrid(millis: 200, lr: "0.05:0.2:x2", batch: "8:32:x2", seeds: 2),
                                               timing: timing, bind: "ipc://" + scratch.file("sweep.ipc"))
            let url = try #require(sweep.boundEndpoint())
            let worker = try startWorker(scratch, url: url, name: "w", timing: timing, extra: ["--jobs", "2"])
            defer { worker.kill9() }
            #expect(eventually(timeout: 30) { doneCount(sweep.db) >= 3 })

            let files = [sweep.db, sweep.db + "-wal"]
            let before = try journalResults(sweep.db)
            #expect(chattr("+i", files, scratch: scratch) == 0)
            defer { chattr("-i", files, scratch: scratch) }
            let status = sweep.process.wait(timeout: 20)
            #expect(status == 1, "exit \(String(describing: status)):\n\(sweep.stderr)")
            let log = sweep.stderr
            #expect(log.contains("STOPPED:") && log.contains("SQLite error"), "\(log)")
            #expect(log.contains("re-run the same command to resume"))
            #expect(chattr("-i", files, scratch: scratch) == 0)
            let stopped = try counts(sweep.db)
            #expect(stopped.done < 18, "the sweep ended before the journal became unwritable")

            try sweep.rerun()
            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            #expect(worker.wait(timeout: 10) == 0)
            let after = try journalResults(sweep.db)
            // What was committed before the stop is kept as it was; nothing ran twice.
            for result in before {
                #expect(after.first { $0.jobId == result.jobId } == result)
            }
            try expectExactlyOnce(sweep.db, total: 18)
        }
    }
}
