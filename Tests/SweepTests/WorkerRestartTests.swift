import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// RELIABILITY.md test 9: a worker restarted under the same `--name` is a new peer and is admitted.
    @Suite struct WorkerRestartTests {
        @Test func aWorkerRestartedWithTheSameNameIsAdmittedAndDoesJobs() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3)
            let sweep = try CoordinatorProcess(scratch,
                grid: trivialGrid(millis: 300, lr: "0.05,0.1", batch: "8,16", seeds: 2), timing: timing)
            let url = try #require(sweep.boundEndpoint())
            let first = try startWorker(scratch, url: url, name: "same", timing: timing)
            defer { first.kill9() }
            #expect(eventually(timeout: 30) { doneCount(sweep.db) >= 2 })
            first.kill9()
            let second = try startWorker(scratch, url: url, name: "same", timing: timing, run: 2)
            defer { second.kill9() }

            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            #expect(second.wait(timeout: 10) == 0)
            let log = sweep.stderr
            let admissions = log.split(separator: "\n").filter { $0.contains("worker same admitted") }
            #expect(admissions.count == 2, "\(log)")
            #expect(!log.contains("refused"))
            let store = try Store.openReadOnly(path: sweep.db)
            defer { try? store.close() }
            let journaled = try store.workers().filter { $0.name == "same" }
            #expect(Set(journaled.map(\.pid)) == [Int(first.pid), Int(second.pid)])
            #expect(Set(journaled.map(\.identity)).count == 2, "a new peer, not the dead one's route")
            let results = try store.results()
            let byPid = Dictionary(grouping: results) { pid(ofIdentity: $0.worker) ?? 0 }
            #expect((byPid[first.pid]?.count ?? 0) >= 2)
            #expect((byPid[second.pid]?.count ?? 0) >= 1, "the restarted worker did jobs")
            #expect(Set(byPid.keys) == [first.pid, second.pid])
            try expectExactlyOnce(sweep.db, total: 8)
        }
    }
}
