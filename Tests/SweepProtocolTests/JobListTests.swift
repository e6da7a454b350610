import Cell
import Testing
@testable import SweepProtocol

@Suite("Jobs of a grid")
struct JobListTests {
    @Test("default grid: 75 measure jobs and 3 warm starts, ids 1…78, warm starts first")
    func counts() {
        let grid = GridSpec()
        let jobs = grid.jobs()
        #expect(jobs.count == 78 && grid.jobCount == 78)
        #expect(jobs.map(\.id) == Array(1...78))
        #expect(jobs.filter { $0.kind == .warmStart }.map(\.id) == [1, 2, 3])
        #expect(jobs.filter { $0.kind == .measure }.count == 75)
        #expect(Set(jobs.map(\.key)).count == 78)
    }

    @Test("ids and keys are stable")
    func stableIDs() {
        let jobs = GridSpec().jobs()
        #expect(jobs[0].key == "warm/seed=1")
        #expect(jobs[2].key == "warm/seed=3")
        #expect(jobs[3].key == "cell/lr=0.0125/b=8/seed=1")
        #expect(jobs[4].key == "cell/lr=0.0125/b=8/seed=2")
        #expect(jobs[6].key == "cell/lr=0.0125/b=16/seed=1")
        #expect(jobs[77].key == "cell/lr=0.2/b=128/seed=3")
        #expect(jobs.first { $0.key == "cell/lr=0.05/b=32/seed=1" }?.id == 40)
        // The order the axes were typed in does not change ids.
        let shuffled = GridSpec(learningRates: [0.2, 0.05, 0.0125, 0.1, 0.025], batchSizes: [128, 8, 64, 16, 32]).jobs()
        #expect(shuffled.map(\.key) == jobs.map(\.key))
        #expect(shuffled == jobs)
    }

    @Test("measure jobs depend on their seed's warm start and carry its seed")
    func dependencies() {
        for job in GridSpec(gridSeed: 100).jobs() {
            switch job.kind {
            case .warmStart:
                #expect(job.dependsOn == nil && job.spec.cell == nil && job.spec.warmStart != nil)
            case .measure:
                #expect(job.dependsOn == job.seedIndex)
                #expect(job.spec.cell != nil && job.spec.warmStart == nil)
            case .trivial:
                Issue.record("trivial job in a train grid")
            }
            #expect((job.spec.cell?.seed ?? job.spec.warmStart?.seed) == 100 + UInt64(job.seedIndex))
            #expect(job.key.hasSuffix("seed=\(job.seedIndex)"))
        }
    }

    @Test("cost ≈ |B| × steps, with the protocol's step counts")
    func cost() {
        let jobs = GridSpec().jobs()
        let big = jobs.first { $0.key == "cell/lr=0.0125/b=128/seed=1" }
        #expect(big?.cost == 128 * 1_600 + 4 * 16 * 32)
        let small = jobs.first { $0.key == "cell/lr=0.2/b=8/seed=1" }
        #expect(small?.cost == 8 * 1_000 + 4 * 16 * 32)
        #expect(jobs[0].cost == 32 * 5_625)  // 3 epochs of 60,000 images at |B| = 32
        var overridden = GridSpec(cell: CellSettings(burnInSteps: 100, measureSteps: 200, calibrationProbes: 0))
        overridden.learningRates = [0.05]
        #expect(overridden.jobs().last?.cost == 128 * 300)
    }

    @Test("dispatch is longest first, ties by id")
    func longestFirst() {
        let order = GridSpec().jobs().sorted(by: JobDescriptor.longestFirst)
        #expect(order[0].key == "cell/lr=0.0125/b=128/seed=1")
        #expect(order[1].key == "cell/lr=0.0125/b=128/seed=2")
        for (a, b) in zip(order, order.dropFirst()) {
            #expect(a.cost > b.cost || (a.cost == b.cost && a.id < b.id))
        }
        #expect(order.last?.key == "cell/lr=0.1/b=8/seed=3" || order.last?.key == "cell/lr=0.2/b=8/seed=3")
    }

    @Test("trivial grid: one job per cell and seed, no warm starts, no dependencies")
    func trivial() {
        let jobs = GridSpec(jobKind: .trivial, trivialMillis: 20).jobs()
        #expect(jobs.count == 75)
        #expect(jobs.allSatisfy { $0.kind == .trivial && $0.dependsOn == nil && $0.spec.trivialMillis == 20 })
        #expect(jobs[0].key == "trivial/lr=0.0125/b=8/seed=1")
    }

    @Test("every job's lease passes the wire checks and names a cell of its grid")
    func leasesValid() throws {
        for grid in [GridSpec(), GridSpec(jobKind: .trivial, dataset: .synthetic()), GridSpec(datasetHash: "00000000000000ff")] {
            for job in grid.jobs() {
                let lease = JobLease(job, attempt: 1, checkpoint: job.kind == .measure ? [1, 2, 3] : nil)
                #expect(try Message.decode(Message.job(lease).encode()) == .job(lease))
                #expect(try Job(lease, in: grid.normalized).spec == job.spec)
            }
        }
    }
}
