// A journal whose grid grows, or drops values with --drop: journaled jobs and results never change.
import Cell
import Foundation
import SweepProtocol
import Store
import Testing

@Suite struct GridGrowthTests {
    /// Trivial 2 η × 2 |B| × 2 seeds: jobs 1…8, job 1 done.
    private func journalWithOneResult(_ folder: TemporaryFolder) throws {
        let store = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w")
        try store.recordResult(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w")
        try store.close()
    }

    /// Opens that journal with the grid `change` makes of the trivial one, and checks that the
    /// journaled jobs 1…8 (their `columns`) and the result are as they were.
    private func grownJournal(_ folder: TemporaryFolder, keeping columns: String,
                              _ change: (inout GridSpec) -> Void) throws -> (store: Store, grown: GridSpec) {
        try journalWithOneResult(folder)
        let journaled = "SELECT \(columns) FROM jobs WHERE id <= 8 ORDER BY id"
        let before = try sqlite3(folder.database, journaled)
        let resultBefore = try sqlite3(folder.database, "SELECT * FROM results")
        var grown = Fixtures.trivialGrid
        change(&grown)
        let store = try Store.open(path: folder.database, spec: grown)
        #expect(try sqlite3(folder.database, journaled) == before)
        #expect(try sqlite3(folder.database, "SELECT * FROM results") == resultBefore)
        return (store, grown)
    }

    @Test func aGrownGridAddsOnlyNewJobsWithNewIds() throws {
        let folder = try TemporaryFolder()
        let (store, grown) = try grownJournal(folder, keeping: "id, key, state, attempt") {
            $0.learningRates = [0.00625, 0.0125, 0.025]  // a smaller η than any measured
            $0.seeds = 3
        }
        // 3 η × 2 |B| × 3 seeds = 18 jobs: the 8 journaled ones as they were, 10 new ones numbered 9…18.
        #expect(store.change?.addedKeys.count == 10)
        #expect(store.change?.summary() == "adding 10 jobs: lr +0.00625; seeds 2 → 3")
        #expect(Set(store.jobList.map(\.id)) == Set(1...18))
        let old = Dictionary(uniqueKeysWithValues: Fixtures.trivialGrid.jobs().map { ($0.key, $0.id) })
        for job in store.jobList {
            #expect(job.id == (old[job.key] ?? job.id) && (old[job.key] != nil || job.id > 8), "\(job.key) #\(job.id)")
        }
        #expect(try store.counts().queued == 17)
        #expect(try store.counts().done == 1)
        // The journal holds the grown grid; its history both.
        #expect(store.specHash == (try grown.hash()))
        #expect(try sqlite3(folder.database, "SELECT specHash, jobCount FROM meta") == "\(try grown.hash())|18")
        let history = try store.gridHistory()
        #expect(history.map(\.specHash) == [try Fixtures.trivialGrid.hash(), try grown.hash()])
        #expect(history.map(\.added) == [8, 10] && history.last?.summary == "adding 10 jobs: lr +0.00625; seeds 2 → 3")
        try store.close()

        // Re-running the grown grid is a plain resume; the original grid is now a removal.
        let again = try Store.open(path: folder.database, spec: grown)
        #expect(again.change == nil)
        #expect(try again.counts().total == 18)
        try again.close()
        #expect {
            try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        } throws: { error in
            guard case let .gridShrinks(_, removed, _, _) = error as? StoreError else { return false }
            return removed == ["lr: 0.00625 removed", "seeds: 3 → 2"]
                && "\(error)".contains("--drop")
        }
    }

    @Test func droppedJobsStayInTheJournalOutsideTheGrid() throws {
        let folder = try TemporaryFolder()
        try journalWithOneResult(folder)
        let journaled = try sqlite3(folder.database, "SELECT * FROM jobs ORDER BY id")
        var fewer = Fixtures.trivialGrid
        fewer.learningRates = [0.025]  // job 1 (η 0.0125, done) leaves the grid

        #expect(throws: StoreError.self) { try Store.open(path: folder.database, spec: fewer) }
        #expect(try sqlite3(folder.database, "SELECT * FROM jobs ORDER BY id") == journaled, "a refusal writes nothing")

        let store = try Store.open(path: folder.database, spec: fewer, dropping: true)
        #expect(store.change?.summary() == "dropping 4 jobs (kept, not exported): lr −0.0125")
        #expect(store.jobList.map(\.key) == fewer.jobs().map(\.key))
        #expect(store.jobList.map(\.id) == [5, 6, 7, 8])
        #expect(try sqlite3(folder.database, "SELECT * FROM jobs ORDER BY id") == journaled)
        #expect(try store.results().map(\.jobId) == [1])
        #expect(try sqlite3(folder.database, "SELECT jobCount FROM meta") == "4")
        try store.close()

        // Read-only views see the same grid.
        let reader = try Store.openReadOnly(path: folder.database)
        #expect(reader.jobList == store.jobList)
        #expect(reader.specHash == (try fewer.hash()))
        try reader.close()

        // Growing back restores the dropped jobs as they were: job 1 keeps its result.
        let back = try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        #expect(back.change?.addedKeys.count == 4 && back.change?.returningKeys.count == 4)
        #expect(back.change?.summary() == "bringing back 4 dropped jobs: lr +0.0125")
        #expect(try back.gridHistory().map(\.added) == [8, 0, 0])
        #expect(back.jobList == Fixtures.trivialGrid.jobs())
        #expect(try back.job(1)?.state == .done)
        #expect(try back.counts().total == 8)
        #expect(try back.gridHistory().map(\.jobCount) == [8, 4, 8])
        try back.close()
    }

    @Test func aNewMomentumAddsItsCellsAndKeepsTheJournaledOnes() throws {
        let folder = try TemporaryFolder()
        let (store, grown) = try grownJournal(folder, keeping: "id, state, attempt") { $0.momentumValues = [0, 0.9] }
        // 2 η × 2 |B| × 2 m × 2 seeds = 16 jobs: the 8 journaled ones (m = 0) keep id, state and
        // result under keys that now name m; 8 new ones (m = 0.9) are numbered 9…16.
        #expect(store.change?.summary() == "adding 8 jobs: momentum +0.9")
        let old = Fixtures.trivialGrid.jobs()
        for job in store.jobList where job.id <= 8 {
            #expect(GridSpec.key(old[job.id - 1].key, namingMomentum: 0) == job.key, "\(job.key) #\(job.id)")
            #expect(job.spec.cell?.momentum == 0)
        }
        #expect(store.jobList.filter { $0.id > 8 }.allSatisfy { $0.spec.cell?.momentum == 0.9 && $0.key.contains("/m=0.9/") })
        #expect(try store.counts().done == 1 && store.counts().total == 16)
        #expect(store.specHash == (try grown.hash()))
        try store.close()

        // Removing a momentum needs --drop; then the journal's keys are the one-momentum grid's again.
        #expect {
            try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        } throws: { error in
            guard case let .gridShrinks(_, removed, _, _) = error as? StoreError else { return false }
            return removed == ["momentum: 0.9 removed"]
        }
        let fewer = try Store.open(path: folder.database, spec: Fixtures.trivialGrid, dropping: true)
        #expect(fewer.jobList == Fixtures.trivialGrid.jobs())
        #expect(try fewer.job(1)?.state == .done)
        try fewer.close()
        // And back: the m = 0.9 jobs come back with their ids, nothing is added twice.
        let again = try Store.open(path: folder.database, spec: grown)
        #expect(again.change?.addedKeys.count == 8 && again.jobList.map(\.id).sorted() == Array(1...16))
        #expect(try again.counts().total == 16 && again.counts().done == 1)
        try again.close()
    }

    @Test func aNewBatchModeAddsItsCellsAndKeepsTheJournaledOnes() throws {
        let folder = try TemporaryFolder()
        try journalWithOneResult(folder)
        let states = try sqlite3(folder.database, "SELECT id, state, attempt FROM jobs ORDER BY id")
        let resultBefore = try sqlite3(folder.database, "SELECT * FROM results")

        var grown = Fixtures.trivialGrid
        grown.batchModeValues = [.iid, .shuffle]
        let store = try Store.open(path: folder.database, spec: grown)
        // 2 η × 2 |B| × 2 modes × 2 seeds = 16 jobs: the 8 journaled ones (iid) keep id, state and
        // result under keys that now name the mode; 8 new ones (shuffle) are numbered 9…16.
        #expect(store.change?.summary() == "adding 8 jobs: batch mode +shuffle")
        #expect(try sqlite3(folder.database, "SELECT id, state, attempt FROM jobs WHERE id <= 8 ORDER BY id") == states)
        #expect(try sqlite3(folder.database, "SELECT * FROM results") == resultBefore)
        let old = Fixtures.trivialGrid.jobs()
        for job in store.jobList where job.id <= 8 {
            #expect(GridSpec.key(old[job.id - 1].key, namingBatchMode: .iid) == job.key, "\(job.key) #\(job.id)")
            #expect(job.spec.cell?.batchMode == .iid)
        }
        #expect(store.jobList.filter { $0.id > 8 }.allSatisfy {
            $0.spec.cell?.batchMode == .shuffle && $0.key.contains("/mode=shuffle/")
        })
        #expect(try store.counts().done == 1 && store.counts().total == 16)
        try store.close()

        // Then a momentum too: the keys name m before the mode, ids and states unchanged.
        var both = grown
        both.momentumValues = [0, 0.5]
        let wider = try Store.open(path: folder.database, spec: both)
        #expect(wider.change?.summary() == "adding 16 jobs: momentum +0.5")
        #expect(wider.jobList.first { $0.id == 9 }?.key.contains("/m=0.0/mode=shuffle/") == true)
        #expect(try wider.counts().total == 32 && wider.counts().done == 1)
        try wider.close()

        // Back to one mode and one momentum needs --drop; the journal's keys are the plain grid's again.
        #expect {
            try Store.open(path: folder.database, spec: Fixtures.trivialGrid)
        } throws: { error in
            guard case let .gridShrinks(_, removed, _, _) = error as? StoreError else { return false }
            return removed == ["momentum: 0.5 removed", "batch mode: shuffle removed"]
        }
        let fewer = try Store.open(path: folder.database, spec: Fixtures.trivialGrid, dropping: true)
        #expect(fewer.jobList == Fixtures.trivialGrid.jobs())
        #expect(try fewer.job(1)?.state == .done)
        try fewer.close()
        let again = try Store.open(path: folder.database, spec: both)
        #expect(again.change?.addedKeys.count == 24 && again.jobList.map(\.id).sorted() == Array(1...32))
        // All 24 come back (counted once the journal's keys name both axes again), none is new.
        #expect(again.change?.returningKeys.count == 24, "\(again.change?.summary() ?? "")")
        try again.close()
    }
}
