import Foundation
import Store
import SweepProtocol
import Testing
import Worker

extension FailureTests.Windows {
    /// RELIABILITY.md test 10: hundreds of workers connecting at once to a real coordinator process.
    @Suite struct ManyWorkersTests {
        @Test func threeHundredWorkersAtOnceLoseNoReadyAndNoJob() throws {
            let workers = 300
            // 100 η × 30 |B| × 1 seed = 3,000 trivial jobs of 0 ms.
            let jobs = 3_000
            let scratch = try Scratch()
            defer { scratch.remove() }
            // All 300 READYs arrive together, the moment the coordinator listens.
            let (fleet, endpoint) = try WorkerFleet.dialing(count: workers, in: scratch)
            defer { fleet.stop() }
            let grid = ["--bind", endpoint, "--trivial-ms", "0", "--lr", "0.001:0.1:+0.001", "--batch", "8:240:+8",
                        "--seeds", "1"]
            let sweep = try SweepProcess(grid, in: scratch)
            defer { sweep.process.kill9() }
            let ended = sweep.process.wait(timeout: 120)
            #expect(ended == 0, "sweep exit \(String(describing: ended)): \(sweep.process.stderr.suffix(2_000))")
            #expect(fleet.waitForExit(timeout: 30))

            // Every READY admitted once: no worker had to re-send it, none was refused or lost.
            let admitted = sweep.logLines(containing: " admitted: ")
            #expect(admitted.count == workers)
            #expect(Set(admitted.compactMap { $0.split(separator: " ").dropFirst(2).first }).count == workers,
                    "distinct worker names")
            for word in ["re-admitted", "refused", " lost"] {
                let lines = sweep.logLines(containing: word)
                #expect(lines.isEmpty, "\(lines.count) lines such as \(lines.first ?? "")")
            }
            // Every worker left on BYE (the sweep's end), not on a lost coordinator.
            let exits = fleet.exited
            #expect(exits.count == workers)
            #expect(exits.values.allSatisfy { if case .bye = $0 { true } else { false } },
                    "\(Set(exits.values.map { "\($0)" }))")

            // Every job done once, at its first attempt.
            let store = try Store.openReadOnly(path: sweep.db)
            defer { try? store.close() }
            let results = try store.results()
            #expect(results.count == jobs)
            #expect(Set(results.map(\.jobId)).count == jobs)
            #expect(try store.counts().done == jobs)
            #expect(results.allSatisfy { $0.attempt == 1 }, "no lease was lost or re-queued")
            // The journal's worker table: every one of them, once.
            let journaled = try store.workers()
            #expect(journaled.count == workers)
            #expect(Set(journaled.map(\.name)) == Set((0..<workers).map { "fleet-\($0)" }))
            let served = Set(results.map(\.worker)).count
            let commits = results.map(\.committedAt)
            if let first = commits.min(), let last = commits.max(), last > first {
                let span = last.timeIntervalSince(first)
                print("many workers: \(workers) in-process workers, \(jobs) jobs of 0 ms committed in "
                        + "\(String(format: "%.2f", span)) s = \(Int(Double(jobs - 1) / span)) jobs/s (load \(loadAverage())); "
                        + "\(served) workers served jobs")
            }
        }
    }
}
