@testable import Coordinator
import SweepProtocol
import Store
import Testing

/// Retry and cancel decisions (JobDecisions.swift) and the retry a raised limit takes on start.
@Suite struct JobDecisionsTests {
    /// Warm starts 1 (seed 1) and 2 (seed 2); measure jobs 3, 5 need 1, and 4, 6 need 2.
    static let jobs = Harness.trainJobs()

    static func journal(_ states: [Int: (JobState, JobFailure?)], failures: Int = 0) -> [RestoredJob] {
        jobs.map { job in
            let (state, failure) = states[job.id] ?? (.done, nil)
            return RestoredJob(id: job.id, state: state, attempt: 1, failures: state == .failed ? failures : 0,
                               failure: failure)
        }
    }

    static func retried(_ plan: JobDecisions.Plan) -> [Int] {
        plan.changes.compactMap { if case .retried(let ref, _, _, _) = $0 { return ref.jobId } else { return nil } }
    }

    static func cancelled(_ plan: JobDecisions.Plan) -> [Int] {
        plan.changes.compactMap { if case .cancelled(let ref, _, _) = $0 { return ref.jobId } else { return nil } }
    }

    @Test func aFailedWarmStartComesBackWithTheMeasureJobsThatFailedBecauseOfIt() {
        var d = JobDecisions(jobs: Self.jobs, journal: Self.journal([
            1: (.failed, .exhausted), 3: (.failed, .dependency), 5: (.cancelled, nil),
        ], failures: 3))
        let plan = d.retry([1], reason: "test")
        #expect(Self.retried(plan) == [1, 3], "the cancelled job 5 stays cancelled: its warm start was not")
        #expect(plan.changes.first == .retried(JobRef(jobId: 1, attempt: 1), reason: "test", failures: 0,
                                               at: Instant(milliseconds: 0)))
        #expect(d.journal[0].state == .queued && d.journal[0].attempt == 2 && d.journal[0].failures == 0)
        #expect(plan.skipped.isEmpty)
    }

    @Test func aMeasureJobBringsItsWarmStartBackWithIt() {
        var d = JobDecisions(jobs: Self.jobs, journal: Self.journal([
            2: (.failed, .exhausted), 4: (.failed, .dependency), 6: (.failed, .dependency),
        ]))
        let plan = d.retry([6], reason: "test")
        #expect(Self.retried(plan) == [2, 4, 6], "the warm start first, then every job that failed because of it")
        #expect(plan.decided.count == 3 && plan.skipped.isEmpty)
    }

    @Test func doneJobsAndDeterministicFailuresAreNeverRetried() {
        var d = JobDecisions(jobs: Self.jobs, journal: Self.journal([
            1: (.failed, .deterministic), 3: (.failed, .dependency), 4: (.queued, nil),
        ]))
        let plan = d.retry([2, 1, 3, 4], reason: "test")
        #expect(plan.changes.isEmpty)
        #expect(plan.skipped.count == 4)
        #expect(plan.skipped[0].contains("#2 warm/seed=2: done; its result is counted"))
        #expect(plan.skipped[1].contains("failed deterministically"))
        #expect(plan.skipped[2].contains("its warm start #1 warm/seed=1 failed deterministically"))
        #expect(plan.skipped[3].contains("queued, it has not ended"))
    }

    @Test func aCancelledWarmStartTakesItsMeasureJobsAlongAndRetryUndoesIt() {
        var d = JobDecisions(jobs: Self.jobs, journal: Self.journal([
            1: (.queued, nil), 3: (.queued, nil), 5: (.running, nil), 2: (.queued, nil), 4: (.queued, nil),
        ]))
        let cancel = d.cancel([1, 3, 6], reason: "test")
        #expect(Self.cancelled(cancel) == [1, 3, 5], "3 once, though named and taken along")
        #expect(cancel.skipped == ["#6 cell/lr=0.05/b=16/seed=2: done; its result is kept"])
        #expect(cancel.decided[2].contains("its lease from the last run"), "\(cancel.decided)")
        let retry = d.retry([1], reason: "test")
        #expect(Self.retried(retry) == [1, 3, 5])
        #expect(d.journal.filter { $0.state == .queued }.map(\.id) == [1, 2, 3, 4, 5])
    }

    @Test func aRaisedRetryLimitRetriesExhaustedJobsOnStartKeepingTheirCount() {
        let descriptors = Harness.trivialJobs()  // jobs 1, 2, 3
        var h = Harness(jobs: descriptors) { $0.timing.retryLimit = 5 }
        let effects = h.handle(.start([
            RestoredJob(id: 1, state: .failed, attempt: 3, failures: 3, failure: .exhausted),
            RestoredJob(id: 2, state: .failed, attempt: 6, failures: 5, failure: .exhausted),
            RestoredJob(id: 3, state: .failed, attempt: 1, failures: 0, failure: .deterministic),
        ]))
        #expect(effects.changes == [.retried(JobRef(jobId: 1, attempt: 3), reason: "the retry limit is now 5, above its 3 failed attempts",
                                             failures: 3, at: Instant(milliseconds: 0))])
        #expect(h.scheduler.state(of: 1) == .queued && h.scheduler.attempt(of: 1) == 4)
        #expect(h.scheduler.state(of: 2) == .failed && h.scheduler.state(of: 3) == .failed)
        #expect(!h.scheduler.isFinished)
        let leased = h.ready("w1")
        #expect(leased.jobs.map(\.jobId) == [1] && leased.jobs.map(\.attempt) == [4])
        // Two more failed attempts reach the limit of 5 again.
        h.failed("w1", 1, attempt: 4, .transient)
        h.failed("w1", 1, attempt: 5, .transient)
        #expect(h.scheduler.state(of: 1) == .failed && h.scheduler.isFinished)
    }

    @Test func aRaisedRetryLimitBringsBackAWarmStartWithTheCellsThatFailedBecauseOfIt() {
        var h = Harness(jobs: Self.jobs) { $0.timing.retryLimit = 4 }
        let effects = h.handle(.start([
            RestoredJob(id: 1, state: .failed, attempt: 3, failures: 3, failure: .exhausted),
            RestoredJob(id: 2, state: .done, attempt: 1, checkpoint: [2]),
            RestoredJob(id: 3, state: .failed, attempt: 1, failure: .dependency),
            RestoredJob(id: 4, state: .done, attempt: 1),
            RestoredJob(id: 5, state: .failed, attempt: 1, failure: .dependency),
            RestoredJob(id: 6, state: .done, attempt: 1),
        ]))
        let retried = effects.changes.compactMap { change -> (Int, Int)? in
            if case .retried(let ref, _, let failures, _) = change { return (ref.jobId, failures) } else { return nil }
        }
        #expect(retried.map(\.0) == [1, 3, 5] && retried.map(\.1) == [3, 0, 0])
        #expect(effects.changes.count == 3, "no cascade of failures: the warm start is queued again")
        #expect([1, 3, 5].allSatisfy { h.scheduler.state(of: $0) == .queued })
        // The warm start runs first; its measure jobs wait for its checkpoint.
        #expect(h.ready("w1", slots: 3).jobs.map(\.jobId) == [1])
    }

    @Test func aCancelledJobEndsTheSweepAndItsLateResultIsNotCounted() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]))
        let effects = h.handle(.start([RestoredJob(id: 1, state: .cancelled, attempt: 2)]))
        #expect(effects.contains(.finished))
        h = Harness(jobs: Harness.trivialJobs(batchSizes: [8, 16]))
        h.handle(.start([RestoredJob(id: 1, state: .cancelled, attempt: 2)]))
        let late = h.ready("w1", running: [JobRef(jobId: 1, attempt: 2)])
        #expect(late.cancels(to: "w1").map(\.jobId) == [1])
        let result = h.done("w1", 1, attempt: 2)
        #expect(result.changes.allSatisfy { if case .resultStale = $0 { return true } else { return false } })
        #expect(!result.changes.isEmpty)
        #expect(h.scheduler.state(of: 1) == .cancelled)
    }

    /// A cell that failed because its warm start failed runs again on start once that warm start is
    /// done (a `--drop` left the cell out while its warm start was retried; a later grid has it).
    @Test func aCellWhoseWarmStartIsNowDoneRunsAgainOnStart() {
        var h = Harness(jobs: Self.jobs)
        let effects = h.handle(.start([
            RestoredJob(id: 1, state: .done, attempt: 2, checkpoint: [1]),
            RestoredJob(id: 2, state: .done, attempt: 1, checkpoint: [2]),
            RestoredJob(id: 3, state: .failed, attempt: 1, failure: .dependency),
            RestoredJob(id: 4, state: .done, attempt: 1),
            RestoredJob(id: 5, state: .done, attempt: 1),
            RestoredJob(id: 6, state: .failed, attempt: 1, failure: .deterministic),
        ]))
        #expect(effects.changes == [.retried(JobRef(jobId: 3, attempt: 1), reason: "its warm start #1 warm/seed=1 is done",
                                             failures: 0, at: Instant(milliseconds: 0))])
        #expect(h.scheduler.state(of: 3) == .queued && h.scheduler.state(of: 6) == .failed)
        #expect(h.ready("w1").jobs.map(\.jobId) == [3])
    }

    /// Retrying a cancelled warm start brings back the cells cancelled with it, not a cell a user
    /// cancelled on its own before; the journal's reason tells the two apart after a restart.
    @Test func aRetriedWarmStartLeavesCellsCancelledOnTheirOwn() {
        var d = JobDecisions(jobs: Self.jobs, journal: Self.journal([1: (.queued, nil), 3: (.queued, nil), 5: (.queued, nil)]))
        #expect(Self.cancelled(d.cancel([5], reason: "by thermosweep cancel (a user on host)")) == [5])
        #expect(Self.cancelled(d.cancel([1], reason: "by thermosweep cancel (a user on host)")) == [1, 3])
        var again = d
        #expect(Self.retried(d.retry([1], reason: "test")) == [1, 3])
        #expect(d.journal.first { $0.id == 5 }?.state == .cancelled)
        // A later run reads the flag from the journal's reason (CoordinatorStart), which the
        // cascade writes with `cascadeReasonPrefix`.
        let cascade = d.cancel([1], reason: "test").changes.compactMap { change -> String? in
            if case .cancelled(let ref, let reason, _) = change, ref.jobId == 3 { return reason } else { return nil }
        }
        #expect(cascade.count == 1 && cascade[0].hasPrefix(JobDecisions.cascadeReasonPrefix), "\(cascade)")
        again = JobDecisions(jobs: Self.jobs, journal: [
            RestoredJob(id: 1, state: .cancelled, attempt: 1), RestoredJob(id: 2, state: .done, attempt: 1),
            RestoredJob(id: 3, state: .cancelled, attempt: 1, cancelledWithWarmStart: true),
            RestoredJob(id: 4, state: .done, attempt: 1), RestoredJob(id: 5, state: .cancelled, attempt: 1),
            RestoredJob(id: 6, state: .done, attempt: 1),
        ])
        #expect(Self.retried(again.retry([1], reason: "test")) == [1, 3])
    }

    /// A job the journal holds outside the grid (dropped) is cancelled when a worker still runs it,
    /// and its result is ACKed so the worker stops sending it, never counted.
    @Test func aDroppedJobStillRunningIsCancelledAndItsResultAcked() {
        var h = Harness(jobs: Harness.trivialJobs(batchSizes: [8]), retired: [7])
        h.handle(.start([]))
        let ready = h.ready("w1", running: [JobRef(jobId: 7, attempt: 1)])
        #expect(ready.cancels(to: "w1").map(\.jobId) == [7])
        let beat = h.heartbeat("w1", [(id: 7, attempt: 1, step: 5)])
        #expect(beat.cancels(to: "w1").map(\.jobId) == [7] && beat.errors(to: "w1").isEmpty)
        let result = h.done("w1", 7, attempt: 1)
        #expect(result.acks(to: "w1") == [JobRef(jobId: 7, attempt: 1)] && result.changes.isEmpty)
        // An id the journal does not hold at all is still an error.
        let unknown = h.done("w1", 8, attempt: 1)
        #expect(unknown.errors(to: "w1").map(\.code) == [.unknownJob])
    }
}
