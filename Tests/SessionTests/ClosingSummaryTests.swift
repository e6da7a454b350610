import Foundation
import Store
import SweepProtocol
import Testing
@testable import Session

/// The closing summary of a sweep reads only what it shows (the counts, the jobs not done, the
/// hosts); it says what the full status says.
@Suite struct ClosingSummaryTests {
    @Test func theClosingSummarySaysWhatTheFullStatusSays() throws {
        let folder = NSTemporaryDirectory() + "closing-summary-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/sweep.sqlite"
        let grid = GridSpec(learningRates: [0.0125, 0.025, 0.05], batchSizes: [8, 16], seeds: 4,
                            jobKind: .trivial, dataset: .synthetic())
        let result = Array(#"{"format":"thermosweep-trivial/1"}"#.utf8)
        do {
            let store = try Store.open(path: path, spec: grid)
            defer { try? store.close() }
            // 24 jobs: 1…15 done on two hosts, 16 failed for good, 17 on its second attempt,
            // 18 running, 19 cancelled, the rest queued.
            for id in 1...18 { try store.commit([.lease(jobId: id, attempt: 1, worker: id % 2 == 0 ? "a/1/x" : "b/2/y")]) }
            for id in 1...15 {
                try store.commit([.result(jobId: id, attempt: 1, result: result, checkpoint: nil, wallSeconds: Double(id),
                                          worker: id % 2 == 0 ? "a/1/x" : "b/2/y")])
            }
            try store.commit([.deterministicFailure(jobId: 16, attempt: 1, message: "the cell diverged at step 3",
                                                    wallSeconds: 1, worker: "a/1/x")])
            try store.commit([.requeue(jobId: 17, attempt: 1, end: .lost, worker: nil, failures: 1)])
            try store.commit([.cancel(jobId: 19, attempt: 1, reason: "not needed")])
            let (full, summary) = try Self.both(store, path)
            #expect(summary.counts.total == 24 && summary.counts.done == 15 && summary.counts.failed == 1
                        && summary.counts.running == 1 && summary.counts.queued == 6 && summary.counts.cancelled == 1,
                    "\(summary.counts)")
            #expect(summary.jobs.map(\.id) == Array(16...24), "only the jobs not done")
            #expect(summary.droppedJobs == 0)
            #expect(summary.text().contains("the cell diverged at step 3"), "\(summary.text())")
            #expect(summary.hosts.map(\.host) == ["a", "b"])
            #expect(summary.text() == full.text())
        }
        // Seed 4 dropped from the grid: its jobs stay in the journal, done or not, and are counted
        // apart.
        let dropped = Set(grid.jobs().filter { $0.key.hasSuffix("seed=4") }.map(\.id))
        #expect(dropped.contains { $0 <= 15 } && dropped.contains { $0 > 19 }, "\(dropped.sorted())")
        var smaller = grid
        smaller.seeds = 3
        let store = try Store.open(path: path, spec: smaller, dropping: true)
        defer { try? store.close() }
        let (full, summary) = try Self.both(store, path)
        #expect(summary.droppedJobs == dropped.count && full.droppedJobs == dropped.count)
        #expect(summary.counts == full.counts && summary.counts.total == 24 - dropped.count, "\(summary.counts)")
        #expect(summary.text() == full.text())
        #expect(summary.text().contains("\(dropped.count) jobs dropped from the grid"), "\(summary.text())")
    }

    /// The full status and the closing summary of the same journal.
    static func both(_ store: Store, _ path: String) throws -> (full: SweepStatus, summary: SweepStatus) {
        (try SweepStatus.read(store, path: path), try SweepStatus.read(store, path: path, cells: false))
    }
}
