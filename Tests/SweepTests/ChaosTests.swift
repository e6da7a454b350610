import Cell
import Foundation
import Store
import Testing

extension FailureTests.Recovery {
    /// RELIABILITY.md test 14: seeded random kills and freezes over a whole sweep, then the invariant.
    @Suite struct ChaosTests {
        @Test func seededChaosOverAWholeSweepEndsEveryJobExactlyOnceAndLeavesNoProcess() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let seed = replayableSeed(14)
            var random = SplitMix64(seed: seed)
            // The invariant is exactly-once, not the retry policy: one job may be hit by several kills,
            // so the retry limit is raised above what the chaos can do to one job.
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, stallMs: 1000, readoptGraceMs: 1000, retryLimit: 20)
            let total = 60
            let grid = trivialGrid(millis: 300, lr: "0.01,0.02,0.03,0.04,0.05", batch: "8,16,32", seeds: 4)
            let sweep = try CoordinatorProcess(scratch, grid: grid, timing: timing, bind: "ipc://" + scratch.file("sweep.ipc"))
            defer { sweep.process.kill9() }
            let url = try #require(sweep.boundEndpoint())
            let names = ["c1", "c2", "c3"]
            var runs = [1, 1, 1]
            var workers = try names.map { try startWorker(scratch, url: url, name: $0, timing: timing) }
            defer { for worker in workers { worker.kill9() } }

            var log: [String] = ["seed \(seed)"]
            var coordinatorKills = 0
            let chaosEnds = Date().addingTimeInterval(8)
            while Date() < chaosEnds {
                pause(Double.random(in: 0.3...0.8, using: &random))
                let roll = Int.random(in: 0..<10, using: &random), w = Int.random(in: 0..<3, using: &random)
                let freeze = Double.random(in: 0.1...1.0, using: &random)
                guard sweep.process.isRunning, doneCount(sweep.db) < total - 6 else { break }
                let done = doneCount(sweep.db)
                if roll < 2 && coordinatorKills < 3 {
                    coordinatorKills += 1
                    #expect(try sweep.killAndRestart(), "the restarted coordinator did not bind:\n\(sweep.stderr)")
                    log.append("\(done) done: kill -9 coordinator")
                } else if roll < 6 {
                    workers[w].kill9()
                    runs[w] += 1
                    workers[w] = try startWorker(scratch, url: url, name: names[w], timing: timing, run: runs[w])
                    log.append("\(done) done: kill -9 \(names[w])")
                } else {
                    workers[w].signal(SIGSTOP)
                    pause(freeze)
                    workers[w].signal(SIGCONT)
                    log.append("\(done) done: SIGSTOP \(names[w]) for \(Int(freeze * 1000)) ms")
                }
            }
            print("chaos: " + log.joined(separator: "; "))
            #expect(log.count >= 5, "too little chaos before the sweep ended: \(log)")

            let status = sweep.process.wait(timeout: 90)
            #expect(status == 0, "exit \(String(describing: status)):\n\(sweep.stderr)")
            // Connected workers leave on the coordinator's BYE; one that was reconnecting when the
            // sweep ended never hears it and stops on SIGTERM.
            let byBye = workers.filter { $0.wait(timeout: 5) == 0 }.count
            #expect(stopAll(workers, grace: 10).isEmpty, "every worker stops on SIGTERM")
            #expect(liveProcesses(mentioning: scratch.path).isEmpty)
            try expectExactlyOnce(sweep.db, total: total)
            let events = journalEvents(sweep.db)
            let tally = ["lost", "stalled", "dropped", "released", "orphaned", "adopted", "orphanExpired", "requeued",
                         "transient", "stale"]
                .map { kind in "\(kind) \(events.filter { $0.kind == kind }.count)" }
            print("chaos: \(byBye) of 3 workers left on BYE; journal: " + tally.joined(separator: ", "))
        }
    }
}
