import Coordinator
import SweepProtocol
import Store
import Testing

@Suite struct SchedulerResultTests {
    @Test func firstResultCountsAndIsAckedAfterItsJournalEntry() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("w1")
        let effects = h.done("w1", 1, attempt: 1)
        #expect(effects.isInContractOrder)
        #expect(effects.counted.map(\.ref) == [JobRef(jobId: 1, attempt: 1)])
        #expect(effects.acks(to: "w1") == [JobRef(jobId: 1, attempt: 1)])
        // The ACK comes after the journal entry that records the result.
        let journalIndex = effects.firstIndex { if case .journal(.resultCounted) = $0 { return true } else { return false } }
        let ackIndex = effects.firstIndex { if case .send(_, .ack) = $0 { return true } else { return false } }
        #expect(journalIndex != nil && ackIndex != nil && journalIndex! < ackIndex!)
        #expect(h.scheduler.state(of: 1) == .done)
        #expect(effects.isFinished)
    }

    /// A line per lease and per counted result, unless `jobLines` is off (`sweep --quiet`); the
    /// journal and the messages are the same either way.
    @Test func jobLinesCanBeTurnedOff() {
        for jobLines in [true, false] {
            var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8])) { $0.jobLines = jobLines }
            let lease = h.ready("w1"), result = h.done("w1", 1, attempt: 1)
            let lines = (lease + result).compactMap { effect -> String? in
                if case .log(let line) = effect { line } else { nil }
            }
            #expect(lines.contains { $0.contains("→ worker w1") } == jobLines, "\(lines)")
            #expect(lines.contains { $0.contains("done by w1") } == jobLines, "\(lines)")
            #expect(lease.jobs.count == 1 && result.counted.count == 1 && result.acks(to: "w1").count == 1)
        }
    }

    @Test func duplicateResultIsJournaledAckedAndNotCounted() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1")
        h.done("w1", 3, attempt: 1)
        let again = h.done("w1", 3, attempt: 1)
        #expect(again.counted.isEmpty)
        #expect(again.changes == [.resultDuplicate(Harness.doneResult(3, attempt: 1, kind: .trivial), peer: PeerID("w1"),
                                                   at: h.now)])
        #expect(again.acks(to: "w1") == [JobRef(jobId: 3, attempt: 1)])
        #expect(again.jobs.isEmpty)  // no slot was freed by a duplicate
    }

    /// A peer that re-sends a result for ever gets an ACK each time, but the journal and the log
    /// take only the first `misfitJournalLimit` of a job.
    @Test func repeatedMisfitsAreJournaledAFewTimesPerJobAndAlwaysAcked() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1")
        h.done("w1", 3, attempt: 1)
        var journaled = 0, logged = 0, acked = 0
        for _ in 0..<50 {
            let again = h.done("w1", 3, attempt: 1)
            journaled += again.changes.count
            logged += again.filter { if case .log = $0 { true } else { false } }.count
            acked += again.acks(to: "w1").count
        }
        #expect(journaled == Scheduler.misfitJournalLimit && logged == Scheduler.misfitJournalLimit)
        #expect(acked == 50)
        // Another job's misfits have their own allowance.
        #expect(h.done("w1", 1, attempt: 7).changes.count == 1)
    }

    @Test func lateResultOfAnExpiredLeaseIsStale() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("frozen")
        h.ready("b")
        for _ in 0..<40 {  // frozen stays silent, b heartbeats
            h.heartbeat("b", h.scheduler.jobs(of: PeerID("b")).map { ($0, 2, 1) })
            h.advance(100)
        }
        #expect(h.scheduler.holder(of: 1) == PeerID("b") && h.scheduler.attempt(of: 1) == 2)
        // The frozen worker wakes up: unknown now, its result is refused; after READY it is stale.
        let refused = h.done("frozen", 1, attempt: 1)
        #expect(refused.errors(to: "frozen").map(\.code) == [.unknownPeer] && refused.changes.isEmpty)
        let readmit = h.ready("frozen", running: [JobRef(jobId: 1, attempt: 1)])
        #expect(readmit.cancels(to: "frozen") == [Cancel(jobId: 1, attempt: 1, reason: .expired)])
        let stale = h.done("frozen", 1, attempt: 1)
        #expect(stale.changes == [.resultStale(Harness.doneResult(1, attempt: 1, kind: .trivial), peer: PeerID("frozen"),
                                               at: h.now)])
        #expect(stale.acks(to: "frozen") == [JobRef(jobId: 1, attempt: 1)])
        #expect(h.scheduler.state(of: 1) == .running)
        let valid = h.done("b", 1, attempt: 2)
        #expect(valid.counted.map(\.ref) == [JobRef(jobId: 1, attempt: 2)])
        #expect(valid.isFinished)
    }

    @Test func aResultFromAPeerThatDoesNotHoldTheLeaseIsStale() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("holder")
        h.ready("other")
        #expect(h.scheduler.holder(of: 1) == PeerID("holder"))
        // Another admitted peer claims the current attempt: journaled and ACKed as stale, the
        // holder keeps its lease and is not cancelled.
        let claimed = h.done("other", 1, attempt: 1)
        #expect(claimed.counted.isEmpty)
        #expect(claimed.changes == [.resultStale(Harness.doneResult(1, attempt: 1, kind: .trivial), peer: PeerID("other"),
                                                 at: h.now)])
        #expect(claimed.acks(to: "other") == [JobRef(jobId: 1, attempt: 1)])
        #expect(claimed.cancels(to: "holder").isEmpty)
        #expect(h.scheduler.holder(of: 1) == PeerID("holder") && h.scheduler.state(of: 1) == .running)
        #expect(h.done("holder", 1, attempt: 1).counted.map(\.ref) == [JobRef(jobId: 1, attempt: 1)])
    }

    @Test func resultForUnknownJobIsAnErrorWithoutJournal() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1")
        let effects = h.done("w1", 99, attempt: 1)
        #expect(effects.changes.isEmpty)
        #expect(effects.errors(to: "w1").map(\.code) == [.unknownJob])
    }

    /// A RESULT of another kind than its job (a warm start answered as a trivial job, so without
    /// its checkpoint) is neither counted nor ACKed: the journal would refuse its shape and stop
    /// the coordinator. The lease stays, and the right result still counts.
    @Test func aResultOfTheWrongKindIsRefusedNotCounted() {
        var h = Harness(jobs: Harness.trainJobs(seeds: 1))  // 1 warm start, 2 and 3 measure
        #expect(h.ready("w1").jobs(to: "w1").map(\.jobId) == [1])
        let wrong = h.send("w1", .result(Harness.doneResult(1, attempt: 1, kind: .trivial)))
        #expect(wrong.changes.isEmpty && wrong.acks(to: "w1").isEmpty)
        #expect(wrong.errors(to: "w1").map(\.code) == [.malformed])
        #expect(wrong.errors(to: "w1").first?.message.contains("warm-start") == true)
        #expect(h.scheduler.state(of: 1) == .running)
        #expect(h.done("w1", 1, attempt: 1, kind: .warmStart).counted.map(\.ref) == [JobRef(jobId: 1, attempt: 1)])
        // Once counted, a copy of any kind is a duplicate (journaled without its bytes) and ACKed.
        let copy = h.send("w1", .result(Harness.doneResult(1, attempt: 1, kind: .trivial)))
        #expect(copy.changes.count == 1 && copy.acks(to: "w1") == [JobRef(jobId: 1, attempt: 1)])
    }

    @Test func transientFailureRequeuesUntilTheRetryLimitThenFailsWithItsReason() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        h.ready("w1")
        for attempt in 1...2 {
            let effects = h.failed("w1", 1, attempt: attempt, .transient, message: "out of memory \(attempt)")
            #expect(effects.acks(to: "w1") == [JobRef(jobId: 1, attempt: attempt)])
            #expect(effects.requeued == [JobRef(jobId: 1, attempt: attempt + 1)])
            #expect(effects.jobs(to: "w1").map(\.attempt) == [attempt + 1])
        }
        let last = h.failed("w1", 1, attempt: 3, .transient, message: "out of memory 3")
        #expect(last.requeued.isEmpty)
        let reasons = last.changes.compactMap { change -> String? in
            if case .failed(let ref, .exhausted, let reason, .some(.transientFailure), _, 3, _) = change,
               ref == JobRef(jobId: 1, attempt: 3) { return reason }
            return nil
        }
        #expect(reasons.count == 1 && reasons[0].contains("out of memory 3"))
        #expect(h.scheduler.state(of: 1) == .failed)
        #expect(last.isFinished)
        #expect(last.counted.isEmpty)
    }

    @Test func deterministicFailureIsAResultNotARetry() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8, 16]))
        h.ready("w1")
        let effects = h.failed("w1", 2, attempt: 1, .deterministic, message: "diverged: loss NaN at step 12")
        #expect(effects.counted.map(\.ref) == [JobRef(jobId: 2, attempt: 1)])
        #expect(effects.requeued.isEmpty)
        #expect(effects.acks(to: "w1") == [JobRef(jobId: 2, attempt: 1)])
        #expect(h.scheduler.state(of: 2) == .failed && h.scheduler.attempt(of: 2) == 1)
        #expect(effects.jobs(to: "w1").map(\.jobId) == [1])
        // A re-sent copy is a duplicate.
        let copy = h.failed("w1", 2, attempt: 1, .deterministic)
        guard case .resultDuplicate(let result, let peer, _) = copy.changes.first, copy.changes.count == 1 else {
            Issue.record("not one duplicate: \(copy.changes)")
            return
        }
        #expect(result.ref == JobRef(jobId: 2, attempt: 1) && result.outcome == .failed && peer == PeerID("w1"))
    }

    @Test func byeReleasesLeasesWithoutCountingARetry() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8])) { $0.timing.retryLimit = 1 }
        for round in 1...4 {
            let peer = "w\(round)"
            #expect(h.ready(peer).jobs(to: peer).map(\.attempt) == [round])
            let effects = h.send(peer, .bye(Bye(reason: "SIGTERM")))
            #expect(effects.leaseEnds.map(\.1) == [.released])
            #expect(effects.requeued == [JobRef(jobId: 1, attempt: round + 1)])
            #expect(effects.changes.last == .workerGone(peer: PeerID(peer), reason: "left (BYE: SIGTERM)", at: h.now))
            #expect(effects.sends.isEmpty)
        }
        #expect(h.scheduler.state(of: 1) == .queued)
        #expect(h.scheduler.workerCount == 0)
        // One lost lease is a counted failure: with a limit of 1 the job now fails.
        h.ready("w5")
        var failed = false
        for _ in 0..<40 where !failed { failed = h.advance(100).changes.contains { if case .failed = $0 { true } else { false } } }
        #expect(failed && h.scheduler.state(of: 1) == .failed)
    }

    @Test func finishedIsEmittedExactlyOnce() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1", slots: 3)
        var finishes = 0
        for id in [3, 2, 1] { finishes += h.done("w1", id, attempt: 1).filter { $0 == .finished }.count }
        let byes = h.now
        _ = byes
        for _ in 0..<5 { finishes += h.advance(1_000).filter { $0 == .finished }.count }
        finishes += h.done("w1", 1, attempt: 1).filter { $0 == .finished }.count
        #expect(finishes == 1)
        // After the end a READY is told to leave.
        let late = h.ready("w2")
        #expect(late.messages(to: "w2") == [.bye(Bye(reason: "the sweep is over"))])
    }

    /// After the end, each peer told BYE is awaited until it answers BYE; only its BYE counts,
    /// and no BYE from an unknown peer is answered.
    @Test func dismissedPeersAreAwaitedUntilTheyAnswerBye() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1", slots: 3)
        h.ready("w2", slots: 1)
        #expect(h.scheduler.awaitedGoodbyes == 0)
        for job in h.scheduler.jobs(of: PeerID("w1")) { h.done("w1", job, attempt: 1) }
        for job in h.scheduler.jobs(of: PeerID("w2")) { h.done("w2", job, attempt: 1) }
        #expect(h.scheduler.isFinished)
        #expect(h.scheduler.awaitedGoodbyes == 2)
        // Other traffic from a dismissed peer is not its goodbye.
        let beat = h.heartbeat("w1", [])
        #expect(beat.messages(to: "w1").map(\.command) == [.error])
        #expect(h.scheduler.awaitedGoodbyes == 2)
        #expect(h.send("w1", .bye(Bye(reason: "worker w1 is leaving"))).isEmpty)
        #expect(h.scheduler.awaitedGoodbyes == 1)
        // A second BYE, and one from a peer never told BYE, are not answered either.
        #expect(h.send("w1", .bye(Bye(reason: "again"))).isEmpty)
        #expect(h.send("stranger", .bye(Bye(reason: "hello"))).isEmpty)
        #expect(h.scheduler.awaitedGoodbyes == 1)
        // A READY after the end is told BYE and awaited too.
        h.ready("w3")
        #expect(h.scheduler.awaitedGoodbyes == 2)
        h.send("w2", .bye(Bye(reason: "worker w2 is leaving")))
        h.send("w3", .bye(Bye(reason: "worker w3 is leaving")))
        #expect(h.scheduler.awaitedGoodbyes == 0)
    }
}
