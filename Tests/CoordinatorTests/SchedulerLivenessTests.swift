import Coordinator
import SweepProtocol
import Store
import Testing

@Suite struct SchedulerLivenessTests {
    static let tickMs: Int64 = 100

    @Test func heartbeatsKeepALeaseAlive() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1")
        var step = 0
        for _ in 0..<600 {  // ten minutes of beats, progressing
            step += 1
            h.heartbeat("w1", [(3, 1, step)])
            for _ in 0..<10 {
                let effects = h.advance(Self.tickMs)
                #expect(effects.leaseEnds.isEmpty)
            }
        }
        #expect(h.scheduler.state(of: 3) == .running)
    }

    @Test func silentWorkerIsLostOnTheFirstTickAfterTheLivenessWindow() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1", slots: 2)
        h.advance(500)
        h.heartbeat("w1", [(3, 1, 5), (2, 1, 5)])
        let lastHeard = h.now
        var detectedAt: Instant?
        var ends: [(JobRef, LeaseEnd)] = []
        var requeued: [JobRef] = []
        var cancels: [Cancel] = []
        for _ in 0..<100 {  // 10 s of ticks; only the first detection may end leases
            let effects = h.advance(Self.tickMs)
            if !effects.leaseEnds.isEmpty && detectedAt == nil { detectedAt = h.now }
            ends += effects.leaseEnds
            requeued += effects.requeued
            cancels += effects.cancels(to: "w1")
        }
        guard let detectedAt else {
            Issue.record("the silent worker was never declared lost")
            return
        }
        let window = h.scheduler.config.timing.livenessWindow.inMilliseconds
        #expect((detectedAt - lastHeard).inMilliseconds > window)
        #expect((detectedAt - lastHeard).inMilliseconds <= window + Self.tickMs)
        #expect(ends.map(\.0) == [JobRef(jobId: 3, attempt: 1), JobRef(jobId: 2, attempt: 1)])
        #expect(ends.allSatisfy { $0.1 == .lost })
        #expect(requeued == [JobRef(jobId: 3, attempt: 2), JobRef(jobId: 2, attempt: 2)])
        #expect(cancels.map(\.reason) == [.expired, .expired])
        #expect(h.scheduler.workerCount == 0)
        // The re-queued jobs go to the next worker under their new attempt, longest first.
        #expect(h.ready("w2", slots: 3).jobs(to: "w2").map { JobRef(jobId: $0.jobId, attempt: $0.attempt) }
                == [JobRef(jobId: 3, attempt: 2), JobRef(jobId: 2, attempt: 2), JobRef(jobId: 1, attempt: 1)])
    }

    /// A loop behind its traffic (heartbeats still waiting in the socket) judges silence only up
    /// to the last instant it had read everything: no worker is lost for a heartbeat not yet read,
    /// and one that really is silent is lost once the loop has caught up, or, if it never does,
    /// one liveness window late.
    @Test func silenceIsJudgedOnlyUpToWhatTheLoopHasRead() {
        func backlogged(ticks: Int64) -> (Harness, Instant, [Effect]) {
            var h = Harness(jobs: Harness.trivialJobs())
            h.ready("w1", slots: 2)
            h.heartbeat("w1", [(3, 1, 5), (2, 1, 5)])
            let lastRead = h.now
            var effects: [Effect] = []
            for _ in 0..<ticks {
                h.now = h.now.advanced(by: .milliseconds(Self.tickMs))
                effects += h.handle(.tick(heardUntil: lastRead))
            }
            return (h, lastRead, effects)
        }
        let window = Harness(jobs: []).scheduler.config.timing.livenessWindow.inMilliseconds
        // Two windows of backlog: nobody is lost.
        var (h, _, effects) = backlogged(ticks: 2 * window / Self.tickMs)
        #expect(effects.leaseEnds.isEmpty && h.scheduler.workerCount == 1)
        // Caught up (the socket ran dry now): the silence is real and past the window.
        effects = h.handle(.tick(heardUntil: h.now))
        #expect(effects.leaseEnds.map(\.1) == [.lost, .lost])
        #expect(h.scheduler.workerCount == 0)
        // A flood that never lets the loop run dry: lost on the first tick past two windows.
        let (flooded, lastRead, floodEffects) = backlogged(ticks: 2 * window / Self.tickMs + 1)
        #expect(floodEffects.leaseEnds.map(\.1) == [.lost, .lost] && flooded.scheduler.workerCount == 0)
        #expect((flooded.now - lastRead).inMilliseconds == 2 * window + Self.tickMs)
    }

    @Test func lostWorkersJobsGoToAnIdleWorkerAtOnce() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("a")
        h.ready("idle")
        var moved: [JobLease] = []
        for _ in 0..<40 {
            h.heartbeat("idle", [])
            moved += h.advance(Self.tickMs).jobs(to: "idle")
        }
        #expect(moved.map { JobRef(jobId: $0.jobId, attempt: $0.attempt) } == [JobRef(jobId: 1, attempt: 2)])
    }

    @Test func stalledJobExpiresAndItsWorkerIsCancelled() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("w1")
        h.heartbeat("w1", [(1, 1, 10)])
        let stuckSince = h.now
        var expiredAt: Instant?
        var cancels: [Cancel] = []
        var regranted: [JobLease] = []
        while (h.now - stuckSince).inMilliseconds < 120_000 {
            h.now = h.now.advanced(by: .milliseconds(1_000))
            h.heartbeat("w1", h.scheduler.state(of: 1) == .running && h.scheduler.holder(of: 1) == PeerID("w1")
                        && h.scheduler.attempt(of: 1) == 1 ? [(1, 1, 10)] : [])
            let effects = h.tick()
            if !effects.leaseEnds.isEmpty {
                #expect(effects.leaseEnds.map(\.1) == [.stalled])
                expiredAt = expiredAt ?? h.now
            }
            cancels += effects.cancels(to: "w1")
            regranted += effects.jobs(to: "w1")
        }
        guard let expiredAt else {
            Issue.record("the stalled job never expired")
            return
        }
        let elapsed = (expiredAt - stuckSince).inMilliseconds
        #expect(elapsed > 60_000 && elapsed <= 61_000)
        #expect(cancels == [Cancel(jobId: 1, attempt: 1, reason: .expired)])
        // The worker itself is alive (it heartbeats): it stays admitted and gets attempt 2 back.
        #expect(h.scheduler.workerCount == 1)
        #expect(regranted.map(\.attempt) == [2])
    }

    /// The stall scan waits for the oldest progress it saw to reach the window's minimum; a job
    /// leased after a scan, stuck from its lease, is still caught within a second of its window.
    @Test func aJobLeasedAfterAStallScanIsStillCaughtOnTime() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8, 16]))
        guard let job1 = h.ready("w1").jobs(to: "w1").first else { Issue.record("no JOB for w1"); return }
        let start = h.now
        var step = 0
        var job2: JobRef?
        var expired: [(JobRef, Int64)] = []
        while (h.now - start).inMilliseconds < 120_000 && expired.isEmpty {
            h.now = h.now.advanced(by: .milliseconds(1_000))
            step += 1
            h.heartbeat("w1", [(job1.jobId, job1.attempt, step)])  // job 1 keeps progressing
            if (h.now - start).inMilliseconds == 30_000 {
                job2 = h.ready("w2").jobs(to: "w2").first.map { JobRef(jobId: $0.jobId, attempt: $0.attempt) }
            }
            if let job2 { h.heartbeat("w2", [(job2.jobId, job2.attempt, 0)]) }  // job 2 never does
            for (ref, reason) in h.tick().leaseEnds {
                #expect(reason == .stalled)
                expired.append((ref, (h.now - start).inMilliseconds))
            }
        }
        #expect(job2 != nil && job2?.jobId != job1.jobId)
        #expect(expired.map(\.0) == [job2])
        // Leased at 30 s, stuck from then: past its 60-s window after 90 s.
        #expect(expired.first.map { $0.1 > 90_000 && $0.1 <= 91_000 } == true, "\(expired)")
    }

    @Test func slowButProgressingWorkerIsNeverRequeued() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("w1")
        var step = 0
        var lastStepAt = h.now
        // Two hours at 50 s per step, then ten steps at 5 min each (10 × median > 5 min): progress,
        // however slow, keeps the lease.
        var schedule: [Int64] = Array(repeating: 50_000, count: 144)
        schedule += Array(repeating: 300_000, count: 10)
        for stepTime in schedule {
            while (h.now - lastStepAt).inMilliseconds < stepTime {
                h.now = h.now.advanced(by: .milliseconds(1_000))
                h.heartbeat("w1", [(1, 1, step)])
                let effects = h.tick()
                #expect(effects.leaseEnds.isEmpty)
                #expect(effects.cancels(to: "w1").isEmpty)
            }
            step += 1
            lastStepAt = h.now
        }
        #expect(h.scheduler.state(of: 1) == .running && h.scheduler.attempt(of: 1) == 1)
    }

    @Test func stallWindowScalesWithMedianStepTime() {
        // 20 s per step: the window is 10 × 20 s = 200 s, not the 60 s minimum.
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("w1")
        for step in 1...10 {
            for _ in 0..<20 {
                h.now = h.now.advanced(by: .milliseconds(1_000))
                h.heartbeat("w1", [(1, 1, step - 1)])
                #expect(h.tick().leaseEnds.isEmpty)
            }
            h.heartbeat("w1", [(1, 1, step)])
        }
        let frozeAt = h.now
        var expiredAfter: Int64?
        while expiredAfter == nil && (h.now - frozeAt).inMilliseconds < 400_000 {
            h.now = h.now.advanced(by: .milliseconds(1_000))
            h.heartbeat("w1", [(1, 1, 10)])
            if !h.tick().leaseEnds.isEmpty { expiredAfter = (h.now - frozeAt).inMilliseconds }
        }
        guard let expiredAfter else {
            Issue.record("the frozen job never expired")
            return
        }
        #expect(expiredAfter > 200_000 && expiredAfter <= 201_000)
    }

    @Test func heartbeatNamingAJobTheWorkerDoesNotHoldIsCancelled() {
        var h = Harness(jobs: Harness.trivialJobs())  // a gets 3, b gets 2; after 3 is done a gets 1
        h.ready("a")
        h.ready("b")
        #expect(h.done("a", 3, attempt: 1).jobs(to: "a").map(\.jobId) == [1])
        // b names a finished job, a's job and a job of no sweep: nothing is journaled or moved.
        let effects = h.heartbeat("b", [(3, 1, 3), (1, 1, 3), (2, 1, 3), (99, 1, 0)])
        #expect(effects.changes.isEmpty)
        #expect(effects.cancels(to: "b") == [Cancel(jobId: 3, attempt: 1, reason: .completed)])
        #expect(effects.errors(to: "b").map(\.code) == [.notLeased, .unknownJob])
        #expect(h.scheduler.holder(of: 1) == PeerID("a") && h.scheduler.holder(of: 2) == PeerID("b"))
    }

    @Test func readyAgainWithoutALeaseEndsItAsDropped() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8, 16]))
        h.ready("a", slots: 2)
        let effects = h.ready("a", slots: 2, running: [JobRef(jobId: 2, attempt: 1)])
        #expect(effects.leaseEnds.map(\.0) == [JobRef(jobId: 1, attempt: 1)])
        #expect(effects.leaseEnds.map(\.1) == [.dropped])
        // The READY may have crossed the JOB in flight: the worker is told to drop attempt 1, so it
        // never runs it beside attempt 2 on a slot the coordinator counts as free.
        #expect(effects.cancels(to: "a") == [Cancel(jobId: 1, attempt: 1, reason: .expired)])
        // A lease its worker never got is no evidence against the job: no retry is used up.
        #expect(effects.changes.contains { if case .requeued(_, .dropped, _, 0, _) = $0 { return true } else { return false } })
        // The job comes straight back to the same worker under attempt 2.
        #expect(effects.jobs(to: "a").map { JobRef(jobId: $0.jobId, attempt: $0.attempt) } == [JobRef(jobId: 1, attempt: 2)])
        #expect(h.scheduler.jobs(of: PeerID("a")) == [2, 1])
    }
}
