import Coordinator
import SweepProtocol
import Store
import Testing

@Suite struct SchedulerDispatchTests {
    @Test func readyJobsGoOutLongestFirstTiesByLowerID() {
        // Two learning rates with the same cost (both 500 + 500 steps), four batch sizes.
        let descriptors = Harness.trivialJobs(learningRates: [0.05, 0.1], batchSizes: [8, 16, 32, 64])
        var h = Harness(jobs: descriptors)
        var order = h.ready("w1").jobs(to: "w1").map(\.jobId)
        while let last = order.last, order.count < descriptors.count {
            order += h.done("w1", last, attempt: 1).jobs(to: "w1").map(\.jobId)
        }
        let expected = descriptors.sorted(by: JobDescriptor.longestFirst).map(\.id)
        #expect(order == expected)
        // Equal costs really occur, so the tie rule is exercised.
        #expect(Set(descriptors.map(\.cost)).count < descriptors.count)
    }

    @Test func neverMoreJobsThanSlots() {
        var h = Harness(jobs: Harness.trivialJobs(learningRates: [0.05, 0.1, 0.2], batchSizes: [8, 16, 32, 64], seeds: 2))
        #expect(h.ready("a", slots: 1).jobs(to: "a").count == 1)
        #expect(h.ready("b", slots: 2).jobs(to: "b").count == 2)
        #expect(h.ready("c", slots: 3).jobs(to: "c").count == 3)
        for _ in 0..<5 {
            h.advance(500)
            for (peer, slots) in [("a", 1), ("b", 2), ("c", 3)] {
                let held = h.scheduler.jobs(of: PeerID(peer))
                #expect(held.count == slots)
                let effects = h.heartbeat(peer, held.map { ($0, 1, 1) })
                #expect(effects.jobs.isEmpty)
            }
        }
        // A worker that re-sends READY with its jobs keeps them and gets nothing more.
        let again = h.ready("c", slots: 3, running: h.scheduler.jobs(of: PeerID("c")).map { JobRef(jobId: $0, attempt: 1) })
        #expect(again.jobs.isEmpty)
        #expect(again.leaseEnds.isEmpty)
    }

    @Test func warmStartGatesItsMeasureJobsAndReleasesThemAtOnce() {
        // ids 1, 2: warm starts (seeds 1, 2); 3…6: measure jobs (b=8 seed 1, b=8 seed 2, b=16 seed 1, b=16 seed 2).
        let descriptors = Harness.trainJobs()
        #expect(descriptors.map(\.kind) == [.warmStart, .warmStart, .measure, .measure, .measure, .measure])
        var h = Harness(jobs: descriptors)
        #expect(h.ready("a").jobs(to: "a").map(\.jobId) == [1])
        #expect(h.ready("b").jobs(to: "b").map(\.jobId) == [2])
        // Nothing is ready for c: every measure job waits for its warm start.
        #expect(h.ready("c", slots: 2).jobs.isEmpty)
        let effects = h.done("a", 1, attempt: 1, kind: .warmStart)
        #expect(effects.isInContractOrder)
        // Seed 1's measure jobs (5: b=16, 3: b=8) go out in the same call, longest first, to a and then c.
        #expect(effects.jobs(to: "a").map(\.jobId) == [5])
        #expect(effects.jobs(to: "c").map(\.jobId) == [3])
        let checkpoint = [UInt8](repeating: 1, count: 16)
        #expect(effects.jobs.allSatisfy { $0.checkpoint == checkpoint && $0.kind == .measure })
        #expect(effects.acks(to: "a") == [JobRef(jobId: 1, attempt: 1)])
        // Every JOB passes the protocol's validation (a measure job must carry its checkpoint).
        for job in effects.jobs { #expect(throws: Never.self) { _ = try Message.job(job).encode() } }
    }

    @Test func failedWarmStartFailsItsMeasureJobsSoTheSweepEnds() {
        var h = Harness(jobs: Harness.trainJobs(seeds: 1))  // 1 warm, 2 measure
        h.ready("a")
        let effects = h.failed("a", 1, attempt: 1, .deterministic, kind: .warmStart, message: "diverged: loss NaN")
        #expect(h.scheduler.state(of: 1) == .failed)
        #expect(h.scheduler.state(of: 2) == .failed && h.scheduler.state(of: 3) == .failed)
        let failures = effects.changes.compactMap { change -> String? in
            if case .failed(_, .dependency, let reason, nil, _, _, _) = change { return reason } else { return nil }
        }
        #expect(failures.count == 2 && failures.allSatisfy { $0.contains("warm start #1") && $0.contains("diverged") })
        #expect(effects.isFinished)
    }
}
