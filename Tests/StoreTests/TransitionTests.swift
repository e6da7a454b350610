// The journal side of the job life cycle: each transition is a decision of the scheduler, recorded
// when it is a legal step from what the journal holds and refused (with nothing written) when not.
// The journal decides nothing: no retry, no failure, no cascade of its own.
import Foundation
import SweepProtocol
@testable import Store
import Testing

@Suite struct TransitionTests {
    let folder: TemporaryFolder
    let clock = ManualClock()

    init() throws { folder = try TemporaryFolder() }

    func open(_ spec: GridSpec = Fixtures.trivialGrid) throws -> Store {
        try Store.open(path: folder.database, spec: spec, options: clock.options())
    }

    func done(_ store: Store, _ id: Int, _ attempt: Int, checkpoint: [UInt8]? = nil, worker: String = "w1",
              wallSeconds: Double = 0.5) throws {
        try store.recordResult(jobId: id, attempt: attempt, result: Fixtures.result, checkpoint: checkpoint,
                               wallSeconds: wallSeconds, worker: worker)
    }

    func requeue(_ store: Store, _ id: Int, _ attempt: Int, _ end: LeaseEnd, failures: Int) throws {
        try store.commit([.requeue(jobId: id, attempt: attempt, end: end, worker: nil, failures: failures)])
    }

    @Test func leaseRefusesWhatTheStateDoesNotAllow() throws {
        let store = try open()
        try store.lease(jobId: 3, attempt: 1, worker: "w1")
        let job = try #require(try store.job(3))
        #expect(job.state == .running && job.leaseWorker == "w1" && job.leaseStartedAt == clock.now)
        // Leased twice, wrong attempt, unknown job: refused, and nothing changes.
        #expect(throws: StoreError.self) { try store.lease(jobId: 3, attempt: 1, worker: "w2") }
        #expect(throws: StoreError.self) { try store.lease(jobId: 4, attempt: 2, worker: "w1") }
        #expect(throws: StoreError.self) { try store.lease(jobId: 99, attempt: 1, worker: "w1") }
        #expect(try store.job(3)?.leaseWorker == "w1")
        #expect(try store.job(4)?.state == .queued)
        #expect(try store.events().map(\.kind) == ["dispatched"])
        // Adopt needs an orphaned job; a re-queue the current lease.
        #expect(throws: StoreError.self) { try store.commit([.adopt(jobId: 3, attempt: 1, worker: "w1")]) }
        #expect(throws: StoreError.self) { try requeue(store, 4, 1, .lost, failures: 1) }
        #expect(throws: StoreError.self) { try requeue(store, 3, 2, .lost, failures: 1) }
    }

    @Test func aResultCountsOnlyOnTheCurrentLease() throws {
        let store = try open()
        #expect(throws: StoreError.self) { try done(store, 1, 1) }  // never leased
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        #expect(throws: StoreError.self) { try done(store, 1, 2) }  // an attempt not handed out
        try done(store, 1, 1)
        // The scheduler journals a re-delivery as a misfit; as a result it is not a legal step.
        #expect(throws: StoreError.self) { try done(store, 1, 1) }
        #expect(throws: StoreError.self) { try done(store, 99, 1) }
        let results = try store.results()
        #expect(results.count == 1 && results[0].attempt == 1 && results[0].result == Fixtures.result)
        #expect(try store.job(1)?.state == .done)
        // The result row is the record of the result: no `done` event besides it.
        #expect(try store.events().map(\.kind) == ["dispatched"])
    }

    @Test func aRequeueRecordsTheEndTheNewAttemptAndTheCount() throws {
        let store = try open()
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        // A lost lease adds one counted failure; any other count is not what the journal holds.
        #expect(throws: StoreError.self) { try requeue(store, 2, 1, .lost, failures: 0) }
        #expect(throws: StoreError.self) { try requeue(store, 2, 1, .lost, failures: 2) }
        try requeue(store, 2, 1, .lost, failures: 1)
        var job = try #require(try store.job(2))
        #expect(job.state == .queued && job.attempt == 2 && job.retries == 1 && job.leaseWorker == nil)
        #expect(job.lastError == LeaseEnd.lost.reason)
        // A BYE release, an orphan not re-adopted and a dropped lease count nothing.
        for (attempt, end) in [(2, LeaseEnd.released), (3, .dropped)] {
            try store.lease(jobId: 2, attempt: attempt, worker: "w2")
            #expect(throws: StoreError.self) { try requeue(store, 2, attempt, end, failures: 2) }
            try requeue(store, 2, attempt, end, failures: 1)
        }
        try store.lease(jobId: 2, attempt: 4, worker: "w3")
        try store.commit([.requeue(jobId: 2, attempt: 4, end: .transientFailure("out of memory"), worker: "w3",
                                   failures: 2)])
        job = try #require(try store.job(2))
        #expect(job.attempt == 5 && job.retries == 2)
        let events = try store.events(jobId: 2)
        #expect(events.map(\.kind) == ["dispatched", "lost", "requeued", "dispatched", "released", "requeued",
                                       "dispatched", "dropped", "requeued", "dispatched", "transient", "requeued"])
        #expect(events.filter { $0.kind == "requeued" }.map(\.attempt) == [2, 3, 4, 5])
        #expect(events[10].worker == "w3" && events[10].message == "transient failure: out of memory")
        #expect(events[1].worker == "w1")  // the lease holder, from the journal, when the decision names none
    }

    @Test func checkpointsGoWithWarmStartsOnly() throws {
        let store = try open(Fixtures.trainGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        #expect(throws: StoreError.self) { try done(store, 1, 1) }
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        try done(store, 1, 1, checkpoint: Fixtures.checkpoint)
        #expect(try store.checkpoint(jobId: 1) == Fixtures.checkpoint)
        #expect(try store.warmStartCheckpoint(seedIndex: 1) == Fixtures.checkpoint)
        #expect(try store.warmStartCheckpoint(seedIndex: 2) == nil)
        #expect(try store.checkpoints() == [1: Fixtures.checkpoint])
        let measure = try #require(try store.readyJobs().first)
        try store.lease(jobId: measure.id, attempt: 1, worker: "w1")
        #expect(throws: StoreError.self) { try done(store, measure.id, 1, checkpoint: Fixtures.checkpoint) }
        #expect(try store.results(includingCheckpoints: true).first?.checkpoint == Fixtures.checkpoint)
        #expect(try store.results().first?.checkpoint == nil)
    }

    @Test func dependenciesAndLongestFirstOrder() throws {
        let store = try open(Fixtures.trainGrid)
        let all = Fixtures.trainGrid.jobs()
        // Only the warm starts are ready; measure jobs wait for their seed's warm start.
        #expect(try store.readyJobs().map(\.id) == [1, 2])
        #expect(throws: StoreError.self) { try store.lease(jobId: 3, attempt: 1, worker: "w1") }
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        #expect(try store.readyJobs().map(\.id) == [2])
        try done(store, 1, 1, checkpoint: Fixtures.checkpoint)
        let seed1 = all.filter { $0.dependsOn == 1 }.sorted(by: JobDescriptor.longestFirst).map(\.id)
        let expected = (seed1 + [2]).sorted { a, b in
            let ca = all[a - 1].cost, cb = all[b - 1].cost
            return ca != cb ? ca > cb : a < b
        }
        #expect(try store.readyJobs().map(\.id) == expected)
        #expect(try store.readyJobs(limit: 2).map(\.id) == Array(expected.prefix(2)))

        // Trivial grid: no dependencies, all four costs appear, ties by id.
        let trivial = try Store.open(path: folder.path + "/t.sqlite", spec: Fixtures.trivialGrid)
        let ready = try trivial.readyJobs()
        let trivialJobs = Fixtures.trivialGrid.jobs()
        #expect(ready.map(\.id) == trivialJobs.sorted(by: JobDescriptor.longestFirst).map(\.id))
        #expect(Set(ready.map { trivialJobs[$0.id - 1].cost }).count == 4)
    }

    /// What `status` reads for its summary: results of one kind, results of the jobs not done
    /// (no records), and per-worker totals summed by SQL.
    @Test func resultFiltersAndWorkerTotals() throws {
        let store = try open(Fixtures.trainGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "a/1/00000001")
        try store.lease(jobId: 2, attempt: 1, worker: "b/1/00000002")
        try done(store, 1, 1, checkpoint: Fixtures.checkpoint, worker: "a/1/00000001")
        try store.commit([.deterministicFailure(jobId: 2, attempt: 1, message: "diverged", wallSeconds: 3, worker: "b/1/00000002")])
        try store.lease(jobId: 3, attempt: 1, worker: "a/1/00000001")
        try done(store, 3, 1, worker: "a/1/00000001", wallSeconds: 1.25)
        #expect(try store.results().map(\.jobId) == [1, 2, 3])
        #expect(try store.results(of: .kind(.warmStart)).map(\.jobId) == [1, 2])
        #expect(try store.results(of: .kind(.measure)).map(\.jobId) == [3])
        let open = try store.results(of: .notDone)
        #expect(open.map(\.jobId) == [2] && open[0].result == nil && open[0].message == "diverged")
        let totals = try store.workerTotals().sorted { $0.worker < $1.worker }
        #expect(totals.map(\.worker) == ["a/1/00000001", "b/1/00000002"] && totals.map(\.results) == [2, 1])
        let all = try store.results()
        let a = all.filter { $0.worker == "a/1/00000001" }
        #expect(totals[0].wallSeconds == a.map(\.wallSeconds).reduce(0, +))
        #expect(totals[0].firstCommit == a.map(\.committedAt).min() && totals[0].lastCommit == a.map(\.committedAt).max())
    }

    @Test func aDeterministicFailureIsTheJobsResultAndFailsOnlyWhatTheSchedulerFails() throws {
        let store = try open(Fixtures.trainGrid)
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        try store.commit([.deterministicFailure(jobId: 2, attempt: 1, message: "diverged at step 40", wallSeconds: 3,
                                                worker: "w1")])
        let job = try #require(try store.job(2))
        #expect(job.state == .failed && job.failure == .deterministic && job.lastError == "diverged at step 40")
        let results = try store.results()
        #expect(results.count == 1 && results[0].outcome == .failed && results[0].message == "diverged at step 40")
        // The journal cascades nothing: the measure jobs of seed 2 fail by the scheduler's decision.
        let dependents = Fixtures.trainGrid.jobs().filter { $0.dependsOn == 2 }.map(\.id)
        #expect(try dependents.allSatisfy { try store.job($0)?.state == .queued })
        try store.commit(dependents.map {
            .fail(jobId: $0, attempt: 1, failure: .dependency, reason: "its warm start #2 failed", end: nil, worker: nil,
                  failures: 0)
        })
        for id in dependents {
            let dependent = try #require(try store.job(id))
            #expect(dependent.state == .failed && dependent.failure == .dependency)
        }
        // Ended is ended: no second failure, no result, no lease.
        #expect(throws: StoreError.self) {
            try store.commit([.fail(jobId: dependents[0], attempt: 1, failure: .dependency, reason: "again", end: nil,
                                    worker: nil, failures: 0)])
        }
        #expect(throws: StoreError.self) { try store.lease(jobId: 2, attempt: 1, worker: "w1") }
        #expect(try store.counts() == { var c = StateCounts(); c.queued = 5; c.failed = 5; return c }())
    }

    @Test func anExhaustedFailureEndsTheCurrentLease() throws {
        let store = try open(Fixtures.trainGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        func fail(_ end: LeaseEnd?, failures: Int) throws {
            try store.commit([.fail(jobId: 1, attempt: 1, failure: .exhausted, reason: "failed after 1 failed attempt",
                                    end: end, worker: "w1", failures: failures)])
        }
        #expect(throws: StoreError.self) { try fail(nil, failures: 1) }  // an exhausted job ends a lease
        #expect(throws: StoreError.self) { try fail(.stalled, failures: 0) }
        try fail(.stalled, failures: 1)
        let job = try #require(try store.job(1))
        #expect(job.state == .failed && job.failure == .exhausted && job.retries == 1 && job.attempt == 1)
        #expect(job.lastError == "failed after 1 failed attempt")
        #expect(try store.events(jobId: 1).map(\.kind) == ["dispatched", "stalled", "failed"])
        #expect(throws: StoreError.self) { try done(store, 1, 1, checkpoint: Fixtures.checkpoint) }
        #expect(try store.results().isEmpty)
    }

    @Test func orphansAreAdoptedOrRequeuedAfterARestart() throws {
        var store = try open()
        for id in 1...3 { try store.lease(jobId: id, attempt: 1, worker: "w\(id)") }
        let leaseTime = clock.now
        try store.close()

        clock.advance(5)
        store = try open()
        let orphans = try store.orphanRunningLeases()
        #expect(orphans == (1...3).map { Lease(jobId: $0, attempt: 1, worker: "w\($0)", startedAt: leaseTime) })
        #expect(try store.counts().orphaned == 3)
        #expect(try store.readyJobs().count == 5)  // orphans are not dispatched again

        // Worker 1 comes back and re-adopts; worker 2's result arrives as if nothing happened.
        try store.commit([.adopt(jobId: 1, attempt: 1, worker: "w1")])
        try done(store, 2, 1)
        #expect(throws: StoreError.self) { try store.commit([.adopt(jobId: 3, attempt: 2, worker: "w3")]) }
        // Job 3 was not re-adopted within the grace: re-queued, not counted.
        try requeue(store, 3, 1, .orphanExpired, failures: 0)
        let job3 = try #require(try store.job(3))
        #expect(job3.state == .queued && job3.attempt == 2 && job3.retries == 0 && job3.orphanedAt == nil)
        #expect(try store.job(1)?.state == .running)

        // A second restart orphans the adopted lease again, with a fresh grace.
        clock.advance(1)
        #expect(try store.orphanRunningLeases().map(\.jobId) == [1])
        #expect(try store.job(1)?.orphanedAt == clock.now)
        try requeue(store, 1, 1, .released, failures: 0)
        #expect(try store.job(1)?.attempt == 2)
    }

    @Test func workersAndEvents() throws {
        let store = try open()
        let worker: (Int) -> Transition = { cores in
            .worker(identity: "h/1/aa", name: "h-1", host: "h", pid: 1, cores: cores, buildCPU: "x86-64-v4",
                    version: "0.1.0")
        }
        try store.commit([worker(2)])
        clock.advance(3)
        try store.commit([worker(4)])
        let workers = try store.workers()
        #expect(workers.count == 1 && workers[0].cores == 4 && workers[0].lastSeen.timeIntervalSince(workers[0].firstSeen) == 3)
        #expect(try store.events(limit: 2).map(\.kind) == ["worker", "worker"])
        try store.lease(jobId: 5, attempt: 1, worker: "h/1/aa")
        #expect(try store.events(jobId: 5).map(\.kind) == ["dispatched"])
    }

    @Test func aBatchCommitsAllOrNothing() throws {
        let store = try open()
        try store.commit([
            .lease(jobId: 1, attempt: 1, worker: "w"),
            .lease(jobId: 2, attempt: 1, worker: "w"),
            .result(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w"),
            .misfit(jobId: 1, attempt: 1, kind: .duplicate, outcome: .done, worker: "w"),
            .requeue(jobId: 2, attempt: 1, end: .transientFailure("io"), worker: "w", failures: 1),
        ])
        #expect(try store.job(2)?.attempt == 2)
        let before = try store.events(limit: 1000).count
        // The last transition is not legal: the whole batch is rolled back, nothing half-written.
        #expect(throws: StoreError.self) {
            try store.commit([
                .lease(jobId: 3, attempt: 1, worker: "w"),
                .result(jobId: 3, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w"),
                .lease(jobId: 4, attempt: 1, worker: "w"),
                .requeue(jobId: 5, attempt: 1, end: .lost, worker: nil, failures: 1),
            ])
        }
        #expect(try store.job(3)?.state == .queued && (try store.job(4)?.state) == .queued)
        #expect(try store.results().map(\.jobId) == [1])
        #expect(try store.events(limit: 1000).count == before)
        // The states transitions are checked against were rolled back too: job 3 is not done.
        #expect(throws: StoreError.self) {
            try store.commit([.result(jobId: 3, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1,
                                      worker: "w")])
        }
        // And the journal goes on.
        try store.commit([.lease(jobId: 3, attempt: 1, worker: "w")])
        #expect(try store.job(3)?.state == .running)
    }

    /// `commit` checks against job states it keeps in step with its own SQL; a write of any other
    /// kind (here the orphaning of a restart) makes it read them again.
    @Test func transitionsAreCheckedAgainstWhatOtherWritesLeft() throws {
        let store = try open()
        try store.commit([.lease(jobId: 1, attempt: 1, worker: "w1")])
        #expect(try store.orphanRunningLeases().map(\.jobId) == [1])
        try store.commit([.adopt(jobId: 1, attempt: 1, worker: "w1")])
        #expect(throws: StoreError.self) { try store.commit([.adopt(jobId: 1, attempt: 1, worker: "w1")]) }
        #expect(try store.job(1)?.state == .running)
    }

    /// Uncounted results as the coordinator classified them: events naming job, attempt, outcome
    /// and worker; no job changes; a warm start's misfit needs no checkpoint; garbage writes nothing.
    @Test func misfitsAreJournaledAsEventsAndNeverCounted() throws {
        let store = try open(Fixtures.trainGrid)  // jobs 1, 2 warm starts
        try store.commit([
            .lease(jobId: 1, attempt: 1, worker: "w1"),
            .result(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: Fixtures.checkpoint, wallSeconds: 1,
                    worker: "w1"),
            .misfit(jobId: 1, attempt: 1, kind: .duplicate, outcome: .done, worker: "w2"),
            .misfit(jobId: 2, attempt: 3, kind: .stale, outcome: .failed, worker: "w3"),
            .misfit(jobId: 99, attempt: 1, kind: .stale, outcome: .done, worker: "w3"),
        ])
        let misfits = try store.events(limit: 100).filter { $0.kind == "duplicate" || $0.kind == "stale" }
        #expect(misfits.map(\.kind) == ["duplicate", "stale"])
        #expect(misfits.map(\.jobId) == [1, 2] && misfits.map(\.attempt) == [1, 3])
        #expect(misfits.map(\.worker) == ["w2", "w3"])
        #expect(misfits[0].message?.contains("done result") == true && misfits[1].message?.contains("failed") == true)
        #expect(try store.job(1)?.state == .done && (try store.job(2)?.state) == .queued)
        #expect(try store.results().map(\.jobId) == [1] && (try store.checkpoint(jobId: 1)) == Fixtures.checkpoint)
        #expect(try store.misfitCounts() == MisfitCounts(duplicate: 1, stale: 1))

        // A misfit naming the journal's current lease is a disagreement: written and flagged, and
        // the lease is left alone.
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        try store.commit([.misfit(jobId: 2, attempt: 1, kind: .stale, outcome: .done, worker: "w1")])
        #expect(try store.events(jobId: 2).last?.message?.contains("the coordinator disagrees") == true)
        #expect(try store.job(2)?.state == .running && (try store.job(2)?.leaseWorker) == "w1")
        #expect(try store.misfitCounts() == MisfitCounts(duplicate: 1, stale: 2))
    }

    /// The worker row is part of the batch: written with the round, or not at all.
    @Test func aWorkerIsRecordedInTheRoundsTransaction() throws {
        let store = try open()
        let worker = Transition.worker(identity: "n/7/aa", name: "n/1", host: "n", pid: 7, cores: 8,
                                       buildCPU: "skylake-avx512", version: "0.4.0")
        #expect(throws: StoreError.self) {
            try store.commit([worker, .lease(jobId: 1, attempt: 1, worker: "n/7/aa"),
                              .requeue(jobId: 2, attempt: 1, end: .lost, worker: nil, failures: 1)])
        }
        #expect(try store.workers().isEmpty)
        try store.commit([worker, .lease(jobId: 1, attempt: 1, worker: "n/7/aa")])
        clock.advance(5)
        try store.commit([worker])
        clock.advance(2)
        try store.commit([.workerGone(identity: "n/7/aa", reason: "lost (silent for 3100 ms)"),
                          .workerGone(identity: "never/1/bb", reason: "left")])
        let workers = try store.workers()
        #expect(workers == [WorkerRecord(identity: "n/7/aa", name: "n/1", host: "n", pid: 7, cores: 8,
                                         buildCPU: "skylake-avx512", version: "0.4.0",
                                         firstSeen: clock.now.addingTimeInterval(-7), lastSeen: clock.now)])
        let events = try store.events(limit: 10)
        #expect(events.map(\.kind) == ["worker", "dispatched", "worker", "workerGone", "workerGone"])
        #expect(events[3].worker == "n/7/aa" && events[3].message == "lost (silent for 3100 ms)")
    }

    /// A user's retry and cancel (JobDecisions in the Coordinator decides them): legal only from a
    /// state without a result, and each journaled as an event naming who decided.
    @Test func retryAndCancelAreLegalOnlyForJobsWithoutAResult() throws {
        let store = try open()
        // Job 1 fails by exhausting its attempts; job 2 fails deterministically; job 3 is done.
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        try store.commit([.fail(jobId: 1, attempt: 1, failure: .exhausted, reason: "gave up", end: .lost, worker: nil,
                                failures: 1)])
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        try store.commit([.deterministicFailure(jobId: 2, attempt: 1, message: "diverged", wallSeconds: 1, worker: "w1")])
        try store.lease(jobId: 3, attempt: 1, worker: "w1")
        try done(store, 3, 1)
        #expect(throws: StoreError.self) { try store.commit([.retry(jobId: 2, attempt: 1, failures: 0, reason: "u")]) }
        #expect(throws: StoreError.self) { try store.commit([.cancel(jobId: 2, attempt: 1, reason: "u")]) }
        #expect(throws: StoreError.self) { try store.commit([.retry(jobId: 3, attempt: 1, failures: 0, reason: "u")]) }
        #expect(throws: StoreError.self) { try store.commit([.cancel(jobId: 3, attempt: 1, reason: "u")]) }
        #expect(throws: StoreError.self) { try store.commit([.retry(jobId: 4, attempt: 1, failures: 0, reason: "u")]) }
        // A retry never adds to the count of failures.
        #expect(throws: StoreError.self) { try store.commit([.retry(jobId: 1, attempt: 1, failures: 2, reason: "u")]) }

        try store.commit([.cancel(jobId: 1, attempt: 1, reason: "by u"), .cancel(jobId: 4, attempt: 1, reason: "by u")])
        var job = try #require(try store.job(1))
        #expect(job.state == .cancelled && job.failure == nil && job.finishedAt == clock.now && job.attempt == 1)
        #expect(job.lastError == "cancelled: by u")
        #expect(try store.counts().cancelled == 2 && store.counts().isComplete == false)
        #expect(throws: StoreError.self) { try store.commit([.cancel(jobId: 1, attempt: 1, reason: "again")]) }
        try store.commit([.retry(jobId: 1, attempt: 1, failures: 0, reason: "by u")])
        job = try #require(try store.job(1))
        #expect(job.state == .queued && job.attempt == 2 && job.retries == 0 && job.finishedAt == nil)
        try store.lease(jobId: 1, attempt: 2, worker: "w2")
        try done(store, 1, 2)
        #expect(try store.results().filter { $0.jobId == 1 }.map(\.attempt) == [2])
        let decisions = try store.events(jobId: 1).filter { ["cancelled", "retried"].contains($0.kind) }
        #expect(decisions.map(\.kind) == ["cancelled", "retried"] && decisions.map(\.message) == ["by u", "by u"])
        #expect(decisions.map(\.attempt) == [1, 2])
    }
}
