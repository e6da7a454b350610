// Growing a study (README, "Growing a study"): `sweep` re-run on a finished database with a larger
// grid runs only the new jobs, keeps every result, and ends with the exports of a fresh sweep of
// the larger grid.
import Foundation
import Store
import TestSupport
import Testing

@Suite(.ownThread(.cpuBound)) struct GridExtensionTests {
    /// 2 η × 2 |B| of a short synthetic training grid (seeds given per run).
    static let grid = ["--synthetic", "--synthetic-count", "600", "--model", "lenet-4-8", "--lr", "0.05,0.1",
                       "--batch", "8,16", "--warm-epochs", "1", "--burn-in-steps", "100", "--measure-steps", "200",
                       "--local-workers", "2", "--quiet"]
    static let volatileColumns: Set<String> = ["samples_per_s", "wall_s", "worker"]

    /// A finished 1-seed sweep of `grid` in `scratch`'s `grown` folder (5 jobs, each done once).
    static func finishedOneSeedSweep(_ scratch: Scratch) throws -> String {
        let db = scratch.file("grown/sweep.sqlite")
        let first = try Spawned(["sweep", "--db", db, "--seeds", "1"] + grid, outputPrefix: scratch.file("first"))
        #expect(first.wait(timeout: 180) == 0, "\(first.stderr)")
        try expectExactlyOnce(db, total: 5)
        return db
    }

    /// `cells.csv` and `filters.csv` of the sweeps in folders `a` and `b` agree row for row but for
    /// the volatile columns.
    static func expectSameExports(_ a: String, _ b: String) throws {
        for name in ["cells.csv", "filters.csv"] {
            let mine = try csvRows(a + "/" + name), theirs = try csvRows(b + "/" + name)
            #expect(mine.count == theirs.count && !mine.isEmpty, "\(name): \(mine.count) rows, fresh \(theirs.count)")
            for (index, (x, y)) in zip(mine, theirs).enumerated() {
                #expect(x.filter { !volatileColumns.contains($0.key) } == y.filter { !volatileColumns.contains($0.key) },
                        "\(name) row \(index) differs from the fresh sweep's")
            }
        }
    }

    @Test func aFinishedSweepGrownByASeedRunsOnlyTheNewSeedAndExportsAsAFreshOne() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = try Self.finishedOneSeedSweep(scratch)
        let resultsBefore = try journalResults(db)
        let eventsBefore = journalEvents(db)

        let grown = try Spawned(["sweep", "--db", db, "--seeds", "2"] + Self.grid, outputPrefix: scratch.file("grown"))
        #expect(grown.wait(timeout: 180) == 0, "\(grown.stderr)")
        #expect(grown.stderr.contains("adding 5 jobs: seeds 1 → 2"), "\(grown.stderr)")
        #expect(grown.stderr.contains("10 jobs, 5 already ended"), "\(grown.stderr)")
        try expectExactlyOnce(db, total: 10)

        // The new seed's warm start and 4 cells ran, as jobs 6…10; the old ones were not touched.
        let jobs = journalJobs(db)
        #expect(jobs.map(\.id) == Array(1...10))
        #expect(jobs.filter { $0.id > 5 }.map(\.key).allSatisfy { $0.hasSuffix("seed=2") })
        let resultsAfter = try journalResults(db)
        for old in resultsBefore {
            let now = try #require(resultsAfter.first { $0.jobId == old.jobId })
            #expect(now.key == old.key && now.attempt == old.attempt && now.committedAt == old.committedAt
                        && now.result == old.result && now.worker == old.worker, "\(old.key) changed")
        }
        let newEvents = journalEvents(db).dropFirst(eventsBefore.count)
        let dispatched = Set(newEvents.compactMap { $0.kind == "dispatched" ? $0.jobId : nil })
        #expect(dispatched == Set(6...10), "jobs dispatched by the grown run: \(dispatched.sorted())")
        let newResults = Set(resultsAfter.map(\.jobId)).subtracting(resultsBefore.map(\.jobId))
        #expect(newResults == Set(6...10), "jobs done by the grown run: \(newResults.sorted())")

        // The exports equal a fresh sweep's of the 2-seed grid (volatile columns aside).
        let fresh = scratch.file("fresh/sweep.sqlite")
        let reference = try Spawned(["sweep", "--db", fresh, "--seeds", "2"] + Self.grid,
                                    outputPrefix: scratch.file("fresh"))
        #expect(reference.wait(timeout: 180) == 0, "\(reference.stderr)")
        try Self.expectSameExports(scratch.file("grown"), scratch.file("fresh"))
        let fits = try String(contentsOfFile: scratch.file("grown/fits.json"), encoding: .utf8)
        #expect(fits == (try String(contentsOfFile: scratch.file("fresh/fits.json"), encoding: .utf8)))

        // Back to 1 seed: refused without --drop (exit 2, nothing written), accepted with it.
        let jobsBefore = journalJobs(db)
        let shrink = try Spawned(["sweep", "--db", db, "--seeds", "1"] + Self.grid, outputPrefix: scratch.file("shrink"))
        #expect(shrink.wait(timeout: 60) == 2)
        #expect(shrink.stderr.contains("seeds: 2 → 1") && shrink.stderr.contains("--drop"), "\(shrink.stderr)")
        #expect(journalJobs(db) == jobsBefore)
        let dropped = try Spawned(["sweep", "--db", db, "--seeds", "1", "--drop", "--out", scratch.file("dropped")]
                                  + Self.grid, outputPrefix: scratch.file("dropped"))
        #expect(dropped.wait(timeout: 60) == 0, "\(dropped.stderr)")
        #expect(dropped.stderr.contains("dropping 5 jobs (kept, not exported): seeds 2 → 1"), "\(dropped.stderr)")
        // The closing summary counts the dropped jobs, which are done, as `status` does.
        #expect(dropped.stdout.contains(", 5 jobs: 5 done, 0 failed, 0 running, 0 queued\n")
                    && dropped.stdout.contains("\n5 jobs dropped from the grid"),
                "\(dropped.stdout)")
        #expect(journalJobs(db) == jobsBefore, "dropped jobs stay in the journal as they were")
        #expect(try csvRows(scratch.file("dropped/cells.csv")).allSatisfy { $0["seed"] == "1" })
        let status = try Spawned(["status", "--db", db], outputPrefix: scratch.file("status"))
        #expect(status.wait(timeout: 30) == 0)
        #expect(status.stdout.contains("5 jobs: 5 done") && status.stdout.contains("5 jobs dropped from the grid"),
                "\(status.stdout)")
    }

    @Test func aNewMomentumRunsOnlyItsCellsAndFitsPerMomentumAndCollapsed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = try Self.finishedOneSeedSweep(scratch)
        let resultsBefore = try journalResults(db)
        let singleHeader = try String(contentsOfFile: scratch.file("grown/cells.csv"), encoding: .utf8)
            .prefix { $0 != "\n" }
        #expect(!singleHeader.contains("momentum"), "a grid of one momentum keeps its columns")

        let grown = try Spawned(["sweep", "--db", db, "--seeds", "1", "--momentum", "0,0.5"] + Self.grid,
                                outputPrefix: scratch.file("grown"))
        #expect(grown.wait(timeout: 180) == 0, "\(grown.stderr)")
        #expect(grown.stderr.contains("adding 4 jobs: momentum +0.5"), "\(grown.stderr)")
        try expectExactlyOnce(db, total: 9)
        let jobs = journalJobs(db)
        #expect(jobs.map(\.id) == Array(1...9))
        #expect(jobs.filter { $0.id > 5 }.allSatisfy { $0.key.contains("/m=0.5/") }, "\(jobs.map(\.key))")
        #expect(jobs.filter { (2...5).contains($0.id) }.allSatisfy { $0.key.contains("/m=0.0/") }, "\(jobs.map(\.key))")
        let resultsAfter = try journalResults(db)
        for old in resultsBefore {
            let now = try #require(resultsAfter.first { $0.jobId == old.jobId })
            #expect(now.attempt == old.attempt && now.committedAt == old.committedAt && now.result == old.result,
                    "\(old.key) changed")
        }

        // Exports: both momenta, in a column of their own; fits.json: collapsed and per-m fits.
        let rows = try csvRows(scratch.file("grown/cells.csv"))
        #expect(Set(rows.compactMap { $0["momentum"] }) == ["0.0", "0.5"], "\(rows.first ?? [:])")
        #expect(rows.count == 8 * (rows.count / 8) && rows.count > 0)
        let filters = try csvRows(scratch.file("grown/filters.csv"))
        #expect(Set(filters.compactMap { $0["momentum"] }) == ["0.0", "0.5"])
        let data = try Data(contentsOf: URL(fileURLWithPath: scratch.file("grown/fits.json")))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let fits = try #require(document["fits"] as? [[String: Any]])
        let network = fits.filter { $0["group"] as? String == "network" && $0["estimator"] as? String == "diffusion" }
        #expect(network.count == 3, "collapsed, m = 0, m = 0.5")
        #expect(network.first?["fittedAgainst"] as? String == "η/(1 − m)" && network.first?["momentum"] == nil)
        #expect(network.dropFirst().compactMap { $0["momentum"] as? Double } == [0, 0.5])
        // The collapsed fit's cells are at η/(1 − m): 0.05, 0.1 (m = 0) and 0.1, 0.2 (m = 0.5).
        // Used or excluded, every cell is at its η_eff; each exclusion names the run's own η and m.
        let collapsed = try #require(network.first?["result"] as? [String: Any])
        let cells = ((collapsed["cells"] as? [[String: Any]]) ?? []) + ((collapsed["excludedCells"] as? [[String: Any]]) ?? [])
        #expect(Set(cells.compactMap { $0["eta"] as? Double }) == [0.05, 0.1, 0.2], "\(cells)")
        let exclusions = (network.first?["exclusions"] as? [[String: Any]]) ?? []
        #expect(exclusions.allSatisfy { [0.05, 0.1].contains($0["learningRate"] as? Double ?? 0) && $0["momentum"] != nil },
                "\(exclusions)")
        #expect((document["summary"] as? String)?.contains("against η/(1 − m)") == true, "\(document["summary"] ?? "")")
        // The report plots the collapsed fit against η/(1 − m), then each m's fit.
        let report = try String(contentsOfFile: scratch.file("grown/report.html"), encoding: .utf8)
        #expect(report.contains("network, against η/(1 − m): T against η/(1 − m)/|B|"))
        #expect(report.contains("<h3>network, m = 0.0</h3>") && report.contains("<h3>network, m = 0.5</h3>"))
        #expect(report.contains("network, m = 0.5: T against η at each |B|"))

        // The exports equal a fresh sweep's of the 2-momentum grid (volatile columns aside).
        let fresh = scratch.file("fresh/sweep.sqlite")
        let reference = try Spawned(["sweep", "--db", fresh, "--seeds", "1", "--momentum", "0.5,0"] + Self.grid,
                                    outputPrefix: scratch.file("fresh"))
        #expect(reference.wait(timeout: 180) == 0, "\(reference.stderr)")
        try expectExactlyOnce(fresh, total: 9)
        try Self.expectSameExports(scratch.file("grown"), scratch.file("fresh"))
        #expect(try String(contentsOfFile: scratch.file("grown/fits.json"), encoding: .utf8)
                    == String(contentsOfFile: scratch.file("fresh/fits.json"), encoding: .utf8))

        // Back to one momentum: refused without --drop, and with it the exports lose the column.
        let shrink = try Spawned(["sweep", "--db", db, "--seeds", "1"] + Self.grid, outputPrefix: scratch.file("shrink"))
        #expect(shrink.wait(timeout: 60) == 2)
        #expect(shrink.stderr.contains("momentum: 0.5 removed") && shrink.stderr.contains("--drop"), "\(shrink.stderr)")
        let dropped = try Spawned(["sweep", "--db", db, "--seeds", "1", "--drop", "--out", scratch.file("dropped")]
                                  + Self.grid, outputPrefix: scratch.file("dropped"))
        #expect(dropped.wait(timeout: 60) == 0, "\(dropped.stderr)")
        #expect(try String(contentsOfFile: scratch.file("dropped/cells.csv"), encoding: .utf8).prefix { $0 != "\n" }
                    == singleHeader)
        #expect(journalJobs(db).filter { (2...5).contains($0.id) }.allSatisfy { !$0.key.contains("/m=") })
    }

    /// Batch mode as an axis, end to end: a finished i.i.d. sweep grown by `--batch-mode iid,shuffle`
    /// runs only the shuffle cells, from the same warm start; the exports name the mode, each mode
    /// is fitted apart, and `retry --batch-mode` names the grid's modes.
    @Test func aNewBatchModeRunsOnlyItsCellsAndFitsEachModeApart() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = try Self.finishedOneSeedSweep(scratch)
        let resultsBefore = try journalResults(db)
        let grown = try Spawned(["sweep", "--db", db, "--seeds", "1", "--batch-mode", "iid,shuffle"] + Self.grid,
                                outputPrefix: scratch.file("grown"))
        #expect(grown.wait(timeout: 180) == 0, "\(grown.stderr)")
        #expect(grown.stderr.contains("adding 4 jobs: batch mode +shuffle"), "\(grown.stderr)")
        try expectExactlyOnce(db, total: 9)
        let jobs = journalJobs(db)
        #expect(jobs.filter { $0.id > 5 }.allSatisfy { $0.key.contains("/mode=shuffle/") }, "\(jobs.map(\.key))")
        #expect(jobs.filter { (2...5).contains($0.id) }.allSatisfy { $0.key.contains("/mode=iid/") }, "\(jobs.map(\.key))")
        let resultsAfter = try journalResults(db)
        for old in resultsBefore {
            let now = try #require(resultsAfter.first { $0.jobId == old.jobId })
            #expect(now.attempt == old.attempt && now.result == old.result, "\(old.key) changed")
        }
        let rows = try csvRows(scratch.file("grown/cells.csv"))
        #expect(Set(rows.compactMap { $0["batchMode"] }) == ["iid", "shuffle"], "\(rows.first ?? [:])")
        #expect(rows.first?["momentum"] == nil)
        let data = try Data(contentsOf: URL(fileURLWithPath: scratch.file("grown/fits.json")))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let fits = try #require(document["fits"] as? [[String: Any]])
        let network = fits.filter { $0["group"] as? String == "network" && $0["estimator"] as? String == "diffusion" }
        #expect(network.compactMap { $0["batchMode"] as? String } == ["iid", "shuffle"])
        #expect((document["summary"] as? String)?.contains("shuffle batches") == true, "\(document["summary"] ?? "")")
        let report = try String(contentsOfFile: scratch.file("grown/report.html"), encoding: .utf8)
        #expect(report.contains("<h3>network, shuffle batches</h3>") && report.contains("<h3>shuffle batches</h3>"))

        // The exports equal a fresh sweep's of the 2-mode grid (volatile columns aside).
        let fresh = scratch.file("fresh/sweep.sqlite")
        let reference = try Spawned(["sweep", "--db", fresh, "--seeds", "1", "--batch-mode", "shuffle,iid"] + Self.grid,
                                    outputPrefix: scratch.file("fresh"))
        #expect(reference.wait(timeout: 180) == 0, "\(reference.stderr)")
        try Self.expectSameExports(scratch.file("grown"), scratch.file("fresh"))

        let wrong = try Spawned(["cancel", "--db", db, "--batch-mode", "random"], outputPrefix: scratch.file("wrong"))
        #expect(wrong.wait(timeout: 30) == 64)
        #expect(wrong.stderr.contains("random") && wrong.stderr.contains("shuffle"), "\(wrong.stderr)")

        // Back to one mode: refused without --drop; with it the exports lose the column.
        let shrink = try Spawned(["sweep", "--db", db, "--seeds", "1"] + Self.grid, outputPrefix: scratch.file("shrink"))
        #expect(shrink.wait(timeout: 60) == 2)
        #expect(shrink.stderr.contains("batch mode: shuffle removed") && shrink.stderr.contains("--drop"), "\(shrink.stderr)")
        let dropped = try Spawned(["sweep", "--db", db, "--seeds", "1", "--drop", "--out", scratch.file("dropped")]
                                  + Self.grid, outputPrefix: scratch.file("dropped"))
        #expect(dropped.wait(timeout: 60) == 0, "\(dropped.stderr)")
        #expect(try csvRows(scratch.file("dropped/cells.csv")).allSatisfy { $0["batchMode"] == nil })
        #expect(journalJobs(db).filter { (2...5).contains($0.id) }.allSatisfy { !$0.key.contains("/mode=") })
        // retry --batch-mode: a mode off the grid is refused naming the grid's.
        let retry = try Spawned(["retry", "--db", db, "--batch-mode", "shuffle"], outputPrefix: scratch.file("retry"))
        #expect(retry.wait(timeout: 30) != 0)
        #expect(retry.stderr.contains("--batch-mode shuffle is not on this sweep's grid: its batch modes are iid"),
                "\(retry.stderr)")
    }
}

extension FailureTests.Recovery {
    @Suite struct GrownSweepRestartTests {
        /// RELIABILITY.md test 4 on a grown grid: the coordinator of the extension is `kill -9`ed and
        /// restarted; every job still ends exactly once and the first run's results stay as they were.
        @Test func aGrownSweepWhoseCoordinatorIsKilledEndsEachJobOnce() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let timing = TestTiming(heartbeatMs: 100, liveness: 3, readoptGraceMs: 1000)
            let db = scratch.file("sweep.sqlite")
            let first = try Spawned(["sweep", "--db", db, "--local-workers", "1", "--quiet"]
                                    + trivialGrid(millis: 300, lr: "0.1,0.2", batch: "8,16", seeds: 1),
                                    outputPrefix: scratch.file("first"))
            #expect(first.wait(timeout: 60) == 0, "\(first.stderr)")
            let before = try journalResults(db)
            #expect(before.count == 4)

            let sweep = try CoordinatorProcess(scratch, grid: trivialGrid(millis: 300, lr: "0.05,0.1,0.2", batch: "8,16", seeds: 2),
                                               timing: timing, bind: "ipc://" + scratch.file("sweep.ipc"))
            defer { sweep.process.kill9() }
            let url = try #require(sweep.boundEndpoint())
            let workers = try ["a", "b"].map { try startWorker(scratch, url: url, name: $0, timing: timing) }
            defer { for worker in workers { worker.kill9() } }
            #expect(eventually(timeout: 60) { doneCount(db) >= 6 })
            let doneAtKill = doneCount(db)
            #expect(try sweep.killAndRestart(), "the restarted coordinator did not bind:\n\(sweep.stderr)")
            #expect(sweep.process.wait(timeout: 60) == 0, "\(sweep.stderr)")
            #expect(sweep.stderr.contains("adding 8 jobs: lr +0.05; seeds 1 → 2"), "\(sweep.stderr)")
            #expect(doneAtKill < 12, "the kill landed after the extension's last job")
            try expectExactlyOnce(db, total: 12)
            let after = try journalResults(db)
            for old in before {
                #expect(after.first { $0.jobId == old.jobId }?.committedAt == old.committedAt, "\(old.key) changed")
            }
        }
    }
}
