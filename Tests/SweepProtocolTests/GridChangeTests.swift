import Cell
import Foundation
import Testing
@testable import SweepProtocol

@Suite("Grid change: what may grow, what may not, job ids of a grown grid")
struct GridChangeTests {
    /// 2 η × 2 |B| × 1 seed of a training grid: 1 warm start + 4 cells.
    let small = GridSpec(learningRates: [0.05, 0.1], batchSizes: [8, 16], seeds: 1, dataset: .synthetic())

    @Test("more seeds add the new seed's warm start and cells, and nothing else")
    func moreSeeds() {
        var larger = small
        larger.seeds = 2
        let change = GridChange(from: small, to: larger)
        #expect(change.isExtension && !change.removes && !change.isNone)
        #expect(change.addedKeys == ["warm/seed=2", "cell/lr=0.05/b=8/seed=2", "cell/lr=0.05/b=16/seed=2",
                                     "cell/lr=0.1/b=8/seed=2", "cell/lr=0.1/b=16/seed=2"])
        #expect(change.summary() == "adding 5 jobs: seeds 1 → 2")
        #expect(GridChange(from: small, to: small).isNone)
    }

    @Test("a setting every result depends on is a conflict, named as the diff names it")
    func conflicts() {
        var other = small
        other.seeds = 2
        other.cell.momentum = 0.5
        other.cell.burnInSteps = 600
        other.gridSeed = 7
        let change = GridChange(from: small, to: other)
        #expect(!change.isExtension)
        #expect(change.conflicts == ["grid-seed: 0 → 7", "burn-in-steps: default → 600"], "\(change.conflicts)")
        var model = small
        model.model = .lenet48
        #expect(GridChange(from: small, to: model).conflicts == ["model: lenet-8-16 → lenet-4-8"])
        var data = small
        data.dataset = .synthetic(seed: 2, count: 12_000)
        #expect(!GridChange(from: small, to: data).isExtension)
    }

    /// `small` grown to `grown` by one value of an axis (its 4 new cells' keys name it as `part`)
    /// is an extension that says `adding 4 jobs: \(summary)`; the way back removes those cells.
    @discardableResult
    private func expectGrowth(to grown: GridSpec, adding part: String, _ summary: String,
                              removal: String) -> GridChange {
        let change = GridChange(from: small, to: grown)
        #expect(change.isExtension && !change.removes, "\(change.conflicts)")
        #expect(change.addedKeys == ["cell/lr=0.05/b=8/\(part)/seed=1", "cell/lr=0.05/b=16/\(part)/seed=1",
                                     "cell/lr=0.1/b=8/\(part)/seed=1", "cell/lr=0.1/b=16/\(part)/seed=1"])
        #expect(change.summary() == "adding 4 jobs: \(summary)")
        let back = GridChange(from: grown, to: small)
        #expect(back.isExtension && back.removes && back.addedKeys.isEmpty)
        #expect(back.removedKeys.count == 4 && back.removedKeys.allSatisfy { $0.contains("/\(part)/") })
        #expect(back.removalLines == [removal])
        return change
    }

    @Test("momentum is an axis: a new value adds its cells, named by m; removing one is a removal")
    func momentumAxis() {
        var grown = small
        grown.momentumValues = [0.9, 0]  // the order typed does not matter
        // The journaled cells (m = 0) are the new grid's m = 0 cells: only the m = 0.9 ones are new.
        let change = expectGrowth(to: grown, adding: "m=0.9", "momentum +0.9", removal: "momentum: 0.9 removed")
        #expect(change.addedMomenta == [0.9] && change.removedMomenta.isEmpty)
        // One momentum for another: the old cells are removed, the new ones added.
        var other = small
        other.cell.momentum = 0.5
        let swap = GridChange(from: small, to: other)
        #expect(swap.isExtension && swap.removes && swap.addedKeys.count == 4 && swap.removedKeys.count == 4)
        #expect(swap.summary() == "adding 4 jobs, dropping 4 jobs (kept, not exported): momentum +0.5, −0.0")
    }

    @Test("the batch mode is an axis: a new mode adds its cells, named by mode; removing one is a removal")
    func batchModeAxis() {
        var grown = small
        grown.batchModeValues = [.shuffle, .iid]
        // The journaled cells (iid) are the new grid's iid cells: only the shuffle ones are new,
        // and they depend on the same warm start.
        let change = expectGrowth(to: grown, adding: "mode=shuffle", "batch mode +shuffle",
                                  removal: "batch mode: shuffle removed")
        #expect(change.addedBatchModes == [.shuffle] && change.removedBatchModes.isEmpty)
        // One mode for the other (the old --shuffle on a resume): iid removed, shuffle added.
        var other = small
        other.cell.batchMode = .shuffle
        let swap = GridChange(from: small, to: other)
        #expect(swap.isExtension && swap.removes && swap.addedKeys.count == 4 && swap.removedKeys.count == 4)
        #expect(swap.summary() == "adding 4 jobs, dropping 4 jobs (kept, not exported): batch mode +shuffle, −iid")
        // Both axes grow at once: the keys name m, then the mode.
        var axes = grown
        axes.momentumValues = [0, 0.9]
        let two = GridChange(from: small, to: axes)
        #expect(two.isExtension && !two.removes && two.addedKeys.count == 12)
        #expect(two.summary() == "adding 12 jobs: momentum +0.9; batch mode +shuffle", "\(two.summary())")
        #expect(two.addedKeys.first == "cell/lr=0.05/b=8/m=0.0/mode=shuffle/seed=1")
    }

    @Test("the data set is identified by its content hash: the same files elsewhere are the same data")
    func movedData() {
        var here = small
        here.dataset = .fashionMNIST(directory: "/data/a")
        here.datasetHash = "0123456789abcdef"
        var there = here
        there.dataset = .fashionMNIST(directory: "/data/b")
        let moved = GridChange(from: here, to: there)
        #expect(moved.isExtension && moved.addedKeys.isEmpty && moved.movedData == "/data/b")
        #expect(moved.summary() == "no job added: data moved to /data/b (same content)")
        // The format of the same files given, or left out: the same data, now recorded so.
        var forced = here
        forced.dataset.format = "npy"
        let recorded = GridChange(from: here, to: forced)
        #expect(recorded.isExtension && recorded.addedKeys.isEmpty && recorded.movedData == "/data/a")
        #expect(recorded.summary() == "no job added: data format npy (same content)")
        #expect(GridChange(from: forced, to: here).summary()
                == "no job added: data format recognised by the file names (same content)")
        // Other content, or content never hashed: a different data set.
        var changed = there
        changed.datasetHash = "fedcba9876543210"
        #expect(!GridChange(from: here, to: changed).isExtension)
        var unhashed = here, unhashedThere = there
        unhashed.datasetHash = nil
        unhashedThere.datasetHash = nil
        #expect(!GridChange(from: unhashed, to: unhashedThere).isExtension)
    }

    @Test("removals are listed for the refusal, and counted when dropped")
    func removals() {
        var fewer = small
        fewer.learningRates = [0.1, 0.2]
        let change = GridChange(from: small, to: fewer)
        #expect(change.isExtension && change.removes)
        #expect(change.removalLines == ["lr: 0.05 removed"])
        #expect(change.removedKeys == ["cell/lr=0.05/b=8/seed=1", "cell/lr=0.05/b=16/seed=1"])
        #expect(change.summary() == "adding 2 jobs, dropping 2 jobs (kept, not exported): lr +0.2, −0.05")
        var twoSeeds = small
        twoSeeds.seeds = 3
        var oneSeed = twoSeeds
        oneSeed.seeds = 2
        let seeds = GridChange(from: twoSeeds, to: oneSeed)
        #expect(seeds.removalLines == ["seeds: 3 → 2"] && seeds.removedKeys.count == 5)
    }

    @Test("the summary line fits the width it is given")
    func summaryWidth() {
        var wide = small
        wide.learningRates = [0.0125, 0.025, 0.05, 0.1, 0.2, 0.4]
        wide.batchSizes = [8, 16, 32, 64, 128, 256, 512]
        wide.seeds = 3
        let change = GridChange(from: small, to: wide)
        #expect(change.summary(width: 200)
                    == "adding 124 jobs: lr +0.0125, +0.025, +0.2, +0.4; batch +5 values; seeds 1 → 3")
        // Too long for the line: the values are counted.
        #expect(change.summary(width: 71) == "adding 124 jobs: lr +4 values; batch +5 values; seeds 1 → 3")
        let cut = change.summary(width: 40)
        #expect(cut.count == 40 && cut.hasSuffix("…"))
    }

    @Test("a grown grid keeps every journaled id and spec; new jobs are numbered after the last")
    func idsOfAGrownGrid() {
        var larger = small
        larger.learningRates = [0.01, 0.05, 0.1]  // an η below every measured one
        larger.seeds = 2
        let journaled = Dictionary(uniqueKeysWithValues: small.jobs().map { ($0.key, $0.id) })
        let grown = larger.jobs(keeping: journaled)
        let before = Dictionary(uniqueKeysWithValues: small.jobs().map { ($0.key, $0) })
        for job in grown {
            if let old = before[job.key] {
                #expect(job == old, "\(job.key) changed")
            } else {
                #expect(job.id > 5, "\(job.key) got id \(job.id)")
            }
        }
        #expect(grown.count == larger.jobCount && Set(grown.map(\.id)) == Set(1...larger.jobCount))
        // Dependencies follow the journal's ids: seed 2's cells need the new warm start.
        let warm2 = grown.first { $0.key == "warm/seed=2" }
        #expect(warm2?.id == 6)
        #expect(grown.filter { $0.seedIndex == 2 && $0.kind == .measure }.allSatisfy { $0.dependsOn == 6 })
        #expect(grown.filter { $0.seedIndex == 1 && $0.kind == .measure }.allSatisfy { $0.dependsOn == 1 })
        // With no journal the numbering is the grid's own.
        #expect(larger.jobs(keeping: [:]) == larger.jobs())
    }
}
