@testable import Coordinator
import SweepProtocol
import Store
import Testing

@Suite struct SchedulerRestartTests {
    /// Jobs 1…3 (b=8, 16, 32): 1 was running attempt 2, 2 is done, 3 was running attempt 1, both
    /// on worker w1.
    static func restarted() -> Harness {
        var h = Harness(jobs: Harness.trivialJobs())
        let effects = h.handle(.start([
            RestoredJob(id: 1, state: .running, attempt: 2, failures: 1, worker: "w1"),
            RestoredJob(id: 2, state: .done, attempt: 1),
            RestoredJob(id: 3, state: .running, attempt: 1, worker: "w1"),
        ]))
        #expect(effects.changes.isEmpty)
        return h
    }

    @Test func runningLeasesComeBackOrphaned() {
        let h = Self.restarted()
        #expect(h.scheduler.state(of: 1) == .orphaned && h.scheduler.state(of: 3) == .orphaned)
        #expect(h.scheduler.state(of: 2) == .done)
    }

    @Test func readyListingAnOrphanReadoptsIt() {
        var h = Self.restarted()
        let effects = h.ready("w1", slots: 2, running: [JobRef(jobId: 1, attempt: 2), JobRef(jobId: 3, attempt: 7)])
        #expect(effects.isInContractOrder)
        let adopted = effects.changes.compactMap { if case .adopt(let r, _, _, _) = $0 { return r } else { return nil } }
        #expect(adopted == [JobRef(jobId: 1, attempt: 2)])
        // The wrong attempt of job 3 is cancelled; job 3 stays orphaned for its real holder.
        #expect(effects.cancels(to: "w1") == [Cancel(jobId: 3, attempt: 7, reason: .expired)])
        #expect(h.scheduler.state(of: 3) == .orphaned)
        #expect(effects.jobs.isEmpty)  // nothing is queued; the second slot stays free
        #expect(h.scheduler.holder(of: 1) == PeerID("w1"))
    }

    @Test func heartbeatNamingAnOrphanReadoptsIt() {
        var h = Self.restarted()
        h.ready("w1", slots: 2)
        let effects = h.heartbeat("w1", [(3, 1, 40)])
        #expect(effects.changes.contains(.adopt(JobRef(jobId: 3, attempt: 1), peer: PeerID("w1"), worker: "w1", at: h.now)))
        #expect(h.scheduler.state(of: 3) == .running)
        #expect(effects.cancels(to: "w1").isEmpty)
    }

    @Test func resultMatchingAnOrphanCounts() {
        var h = Self.restarted()
        h.ready("w1")
        let effects = h.done("w1", 1, attempt: 2)
        #expect(effects.counted.map(\.ref) == [JobRef(jobId: 1, attempt: 2)])
        #expect(h.scheduler.state(of: 1) == .done)
        // The other orphan's result counts too: its journaled worker may deliver it without
        // re-adopting first.
        #expect(h.done("w1", 3, attempt: 1).counted.map(\.ref) == [JobRef(jobId: 3, attempt: 1)])
    }

    @Test func onlyTheJournaledWorkerReadoptsOrCompletesAnOrphan() {
        var h = Self.restarted()
        // w2 names w1's leases in READY and in a heartbeat, and sends a result for one: none moves.
        let ready = h.ready("w2", slots: 1, running: [JobRef(jobId: 1, attempt: 2)])
        #expect(!ready.changes.contains { if case .adopt = $0 { return true } else { return false } })
        #expect(ready.cancels(to: "w2") == [Cancel(jobId: 1, attempt: 2, reason: .expired)])
        _ = h.heartbeat("w2", [(3, 1, 40)])
        let stolen = h.done("w2", 3, attempt: 1)
        #expect(stolen.counted.isEmpty)
        #expect(stolen.changes.contains { if case .resultStale = $0 { return true } else { return false } })
        #expect(h.scheduler.state(of: 1) == .orphaned && h.scheduler.state(of: 3) == .orphaned)
        // w1 still gets both back.
        h.ready("w1", slots: 2, running: [JobRef(jobId: 1, attempt: 2), JobRef(jobId: 3, attempt: 1)])
        #expect(h.scheduler.holder(of: 1) == PeerID("w1") && h.scheduler.holder(of: 3) == PeerID("w1"))
    }

    @Test func orphansAreRequeuedAfterTheGraceWithoutCountingAFailure() {
        var h = Self.restarted()
        var ends: [(JobRef, LeaseEnd)] = []
        var requeues: [(JobRef, failures: Int)] = []
        var endedAt: Instant?
        for _ in 0..<150 {
            let effects = h.advance(100)
            if !effects.leaseEnds.isEmpty { endedAt = endedAt ?? h.now }
            ends += effects.leaseEnds
            requeues += effects.changes.compactMap { if case let .requeued(r, _, _, n, _) = $0 { (r, n) } else { nil } }
        }
        #expect(endedAt == Instant(milliseconds: 10_000))
        #expect(ends.map(\.0) == [JobRef(jobId: 1, attempt: 2), JobRef(jobId: 3, attempt: 1)])
        #expect(ends.allSatisfy { $0.1 == .orphanExpired })
        // Queued again as attempts 3 and 2; job 1's earlier counted failure stays, nothing is added.
        #expect(requeues.map(\.0) == [JobRef(jobId: 1, attempt: 2), JobRef(jobId: 3, attempt: 1)])
        #expect(requeues.map(\.failures) == [1, 0])
        // A late result of the orphaned attempt is stale now.
        h.ready("w1", slots: 2)
        #expect(h.done("w1", 1, attempt: 2).changes
                    == [.resultStale(Harness.doneResult(1, attempt: 2, kind: .trivial), peer: PeerID("w1"), at: h.now)])
    }

    @Test func restartWithEverythingDoneFinishesAtOnce() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        let effects = h.handle(.start([RestoredJob(id: 1, state: .done, attempt: 3)]))
        #expect(effects.isFinished)
    }

    @Test func restoredWarmStartCheckpointFeedsItsMeasureJobs() {
        var h = Harness(jobs: Harness.trainJobs(seeds: 1))  // 1 warm, 2 and 3 measure
        h.handle(.start([RestoredJob(id: 1, state: .done, attempt: 1, checkpoint: [9, 9, 9])]))
        let jobs = h.ready("w1", slots: 2).jobs(to: "w1")
        #expect(jobs.map(\.jobId) == [3, 2])
        #expect(jobs.allSatisfy { $0.checkpoint == [9, 9, 9] })
    }
}
