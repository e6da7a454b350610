import Cell
import SweepProtocol
import Testing
@testable import Session

/// `retry` and `cancel` select the cells of one momentum with `--momentum`, of one batch mode with
/// `--batch-mode`, where the grid varies them.
@Suite struct JobSelectionTests {
    let grid: GridSpec = {
        var grid = GridSpec(learningRates: [0.1, 0.2], batchSizes: [8], seeds: 1, jobKind: .trivial, dataset: .synthetic())
        grid.momentumValues = [0, 0.9]
        return grid
    }()

    @Test func momentumSelectsItsCellsOnly() throws {
        let jobs = grid.jobs()
        let (_, cell) = try JobSelection(momentum: 0.9).resolve(in: grid, jobs: jobs)
        #expect(cell.map { id in jobs.first { $0.id == id }?.key ?? "" }
                    == ["trivial/lr=0.1/b=8/m=0.9/seed=1", "trivial/lr=0.2/b=8/m=0.9/seed=1"])
        let (_, one) = try JobSelection(learningRate: 0.2, momentum: 0).resolve(in: grid, jobs: jobs)
        #expect(one.map { id in jobs.first { $0.id == id }?.key ?? "" } == ["trivial/lr=0.2/b=8/m=0.0/seed=1"])
        #expect(try JobSelection(learningRate: 0.1).resolve(in: grid, jobs: jobs).cell.count == 2)
    }

    @Test func aMomentumOffTheGridIsRefusedNamingTheGridsValues() {
        do {
            _ = try JobSelection(momentum: 0.5).resolve(in: grid, jobs: grid.jobs())
            Issue.record("accepted a momentum the grid does not have")
        } catch {
            #expect(error.description.contains("--momentum 0.5 is not on this sweep's grid: its momenta are 0.0, 0.9"),
                    "\(error)")
        }
    }

    @Test func batchModeSelectsItsCellsOnly() throws {
        var grid = self.grid
        grid.batchModeValues = [.iid, .shuffle]
        let jobs = grid.jobs()
        let (_, cell) = try JobSelection(momentum: 0.9, batchMode: .shuffle).resolve(in: grid, jobs: jobs)
        #expect(cell.map { id in jobs.first { $0.id == id }?.key ?? "" }
                    == ["trivial/lr=0.1/b=8/m=0.9/mode=shuffle/seed=1", "trivial/lr=0.2/b=8/m=0.9/mode=shuffle/seed=1"])
        #expect(try JobSelection(batchMode: .iid).resolve(in: grid, jobs: jobs).cell.count == 4)
        #expect(JobSelection(batchMode: .iid).namesCell)
        // A grid of one mode: its mode selects every cell, the other is refused naming the grid's.
        #expect(try JobSelection(batchMode: .iid).resolve(in: self.grid, jobs: self.grid.jobs()).cell.count == 4)
        do {
            _ = try JobSelection(batchMode: .shuffle).resolve(in: self.grid, jobs: self.grid.jobs())
            Issue.record("accepted a batch mode the grid does not have")
        } catch {
            #expect(error.description == "--batch-mode shuffle is not on this sweep's grid: its batch modes are iid",
                    "\(error)")
        }
    }
}
