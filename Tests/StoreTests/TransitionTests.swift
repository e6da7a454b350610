// The job state machine: every transition, its invalid uses, first valid result wins, retries,
// dependencies, orphans.
import Foundation
import SweepProtocol
import Store
import Testing

@Suite struct TransitionTests {
    let folder: TemporaryFolder
    let clock = ManualClock()

    init() throws { folder = try TemporaryFolder() }

    func open(_ spec: GridSpec = Fixtures.trivialGrid, retryLimit: Int = 3) throws -> Store {
        try Store.open(path: folder.database, spec: spec, options: clock.options(retryLimit: retryLimit))
    }

    func done(_ store: Store, _ id: Int, _ attempt: Int, checkpoint: [UInt8]? = nil) throws -> ResultVerdict {
        try store.recordResult(jobId: id, attempt: attempt, result: Fixtures.result, checkpoint: checkpoint,
                               wallSeconds: 0.5, worker: "w1")
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
        // Adopt and expire need an orphaned / a leased job.
        #expect(throws: StoreError.self) { try store.adopt(jobId: 3, attempt: 1, worker: "w1") }
        #expect(throws: StoreError.self) { try store.expire(jobId: 4, attempt: 1, reason: .lost, message: "") }
        #expect(throws: StoreError.self) { try store.expire(jobId: 3, attempt: 2, reason: .lost, message: "") }
    }

    @Test func firstValidResultWins() throws {
        let store = try open()
        #expect(try done(store, 1, 1) == .notLeased)  // never leased
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        #expect(try done(store, 1, 2) == .notLeased)  // an attempt not yet handed out
        #expect(try done(store, 1, 1) == .counted)
        // Re-deliveries are idempotent: one result row, one done, every repeat logged as duplicate.
        for _ in 0..<3 { #expect(try done(store, 1, 1) == .duplicate) }
        #expect(try done(store, 99, 1) == .unknownJob)
        let results = try store.results()
        #expect(results.count == 1 && results[0].attempt == 1 && results[0].result == Fixtures.result)
        #expect(try store.job(1)?.state == .done)
        #expect(try store.events().map(\.kind) == ["notLeased", "dispatched", "notLeased", "done", "duplicate",
                                                   "duplicate", "duplicate"])
    }

    @Test func aLateResultOfAnExpiredLeaseIsStale() throws {
        let store = try open()
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        #expect(try store.expire(jobId: 2, attempt: 1, reason: .lost, message: "no heartbeat for 3 s") == .requeued(attempt: 2))
        #expect(try done(store, 2, 1) == .stale)      // the frozen worker wakes up
        try store.lease(jobId: 2, attempt: 2, worker: "w2")
        #expect(try done(store, 2, 2) == .counted)
        #expect(try done(store, 2, 1) == .stale)      // still stale after the job is done
        #expect(try done(store, 2, 2) == .duplicate)
        let job = try #require(try store.job(2))
        #expect(job.state == .done && job.attempt == 2 && job.retries == 1)
        #expect(try store.results().map(\.attempt) == [2])
    }

    @Test func checkpointsGoWithWarmStartsOnly() throws {
        let store = try open(Fixtures.trainGrid)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        #expect(throws: StoreError.self) { try done(store, 1, 1) }
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        #expect(try done(store, 1, 1, checkpoint: Fixtures.checkpoint) == .counted)
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
        #expect(try done(store, 1, 1, checkpoint: Fixtures.checkpoint) == .counted)
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
        #expect(ready.map(\.id) == Fixtures.trivialGrid.jobs().sorted(by: JobDescriptor.longestFirst).map(\.id))
        #expect(Set(ready.map(\.cost)).count == 4)
    }

    @Test func deterministicFailureIsAResultAndBlocksDependents() throws {
        let store = try open(Fixtures.trainGrid)
        try store.lease(jobId: 2, attempt: 1, worker: "w1")
        let verdict = try store.recordFailure(jobId: 2, attempt: 1, kind: .deterministic, message: "diverged at step 40",
                                              wallSeconds: 3, worker: "w1")
        let dependents = Fixtures.trainGrid.jobs().filter { $0.dependsOn == 2 }.map(\.id)
        #expect(verdict == .failed(blocked: dependents))
        let job = try #require(try store.job(2))
        #expect(job.state == .failed && job.failure == .deterministic && job.lastError == "diverged at step 40")
        for id in dependents {
            let dependent = try #require(try store.job(id))
            #expect(dependent.state == .failed && dependent.failure == .dependency)
        }
        #expect(try done(store, dependents[0], 1) == .notLeased)  // it never ran
        // It is the job's result: re-delivered it is a duplicate; a done result for it is too late.
        #expect(try store.recordFailure(jobId: 2, attempt: 1, kind: .deterministic, message: "diverged at step 40",
                                        wallSeconds: 3, worker: "w1") == .duplicate)
        let results = try store.results()
        #expect(results.count == 1 && results[0].outcome == .failed && results[0].message == "diverged at step 40")
        // Circumstantial failures get another round; the deterministic one stays.
        #expect(try store.retryFailed() == dependents)
        #expect(try store.job(2)?.state == .failed)
        #expect(try store.counts() == { var c = StateCounts(); c.queued = 9; c.failed = 1; return c }())
    }

    @Test func transientFailuresAndLostLeasesCountUpToTheRetryLimit() throws {
        let store = try open(Fixtures.trainGrid, retryLimit: 3)
        try store.lease(jobId: 1, attempt: 1, worker: "w1")
        #expect(try store.recordFailure(jobId: 1, attempt: 1, kind: .transient, message: "out of memory",
                                        wallSeconds: 1, worker: "w1") == .requeued(attempt: 2))
        // The same failure re-sent: its attempt is over, so it is stale, not counted again.
        #expect(try store.recordFailure(jobId: 1, attempt: 1, kind: .transient, message: "out of memory",
                                        wallSeconds: 1, worker: "w1") == .stale)
        try store.lease(jobId: 1, attempt: 2, worker: "w2")
        // A worker leaving (BYE) is not the job's fault.
        #expect(try store.expire(jobId: 1, attempt: 2, reason: .released, message: "BYE") == .requeued(attempt: 3))
        try store.lease(jobId: 1, attempt: 3, worker: "w3")
        #expect(try store.expire(jobId: 1, attempt: 3, reason: .stalled, message: "step 17 for 60 s")
                    == .requeued(attempt: 4))
        #expect(try store.job(1)?.retries == 2)
        // Neither is an orphan that was not re-adopted, nor a lease its worker never got (dropped).
        try store.lease(jobId: 1, attempt: 4, worker: "w4")
        _ = try store.orphanRunningLeases()
        #expect(try store.expire(jobId: 1, attempt: 4, reason: .orphanExpired, message: "grace over")
                    == .requeued(attempt: 5))
        try store.lease(jobId: 1, attempt: 5, worker: "w4")
        #expect(try store.expire(jobId: 1, attempt: 5, reason: .dropped, message: "READY without it")
                    == .requeued(attempt: 6))
        #expect(try store.job(1)?.retries == 2)
        try store.lease(jobId: 1, attempt: 6, worker: "w4")
        let blocked = Fixtures.trainGrid.jobs().filter { $0.dependsOn == 1 }.map(\.id)
        #expect(try store.expire(jobId: 1, attempt: 6, reason: .lost, message: "silent for 3 s")
                    == .failed(blocked: blocked))
        let job = try #require(try store.job(1))
        #expect(job.state == .failed && job.failure == .exhausted && job.retries == 3 && job.attempt == 6)
        #expect(job.lastError?.contains("silent for 3 s") == true)
        // The last lease's late result is stale; nothing is counted for a failed job.
        #expect(try done(store, 1, 6, checkpoint: Fixtures.checkpoint) == .stale)
        #expect(try store.results().isEmpty)
        // Another round: attempt 7, retries reset; its dependents come back too.
        #expect(try store.retryFailed() == [1] + blocked)
        let retried = try #require(try store.job(1))
        #expect(retried.state == .queued && retried.attempt == 7 && retried.retries == 0 && retried.failure == nil)
        #expect(try store.job(blocked[0])?.state == .queued)
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
        try store.adopt(jobId: 1, attempt: 1, worker: "w1")
        #expect(try done(store, 2, 1) == .counted)
        #expect(throws: StoreError.self) { try store.adopt(jobId: 3, attempt: 2, worker: "w3") }

        // Not yet past the grace: nothing re-queued. Past it: job 3 only, not counted as a retry.
        #expect(try store.requeueOrphans(orphanedBefore: clock.now).isEmpty)
        clock.advance(10)
        let requeued = try store.requeueOrphans(orphanedBefore: clock.now)
        #expect(requeued.map(\.jobId) == [3] && requeued.map(\.attempt) == [2])
        let job3 = try #require(try store.job(3))
        #expect(job3.state == .queued && job3.attempt == 2 && job3.retries == 0)
        #expect(try done(store, 3, 1) == .stale)
        #expect(try store.job(1)?.state == .running)

        // A second restart orphans the adopted lease again, with a fresh grace.
        clock.advance(1)
        #expect(try store.orphanRunningLeases().map(\.jobId) == [1])
        #expect(try store.job(1)?.orphanedAt == clock.now)
        #expect(try store.expire(jobId: 1, attempt: 1, reason: .released, message: "not re-adopted") == .requeued(attempt: 2))
    }

    @Test func workersAndEvents() throws {
        let store = try open()
        try store.recordWorker(identity: "h/1/aa", name: "h-1", host: "h", pid: 1, cores: 2, buildCPU: "x86-64-v4",
                               version: "0.1.0")
        clock.advance(3)
        try store.recordWorker(identity: "h/1/aa", name: "h-1", host: "h", pid: 1, cores: 4, buildCPU: "x86-64-v4",
                               version: "0.1.0")
        try store.recordRefusal(identity: "g/2/bb", reason: "version", message: "worker 0.0.9, coordinator 0.1.0")
        let workers = try store.workers()
        #expect(workers.count == 1 && workers[0].cores == 4 && workers[0].lastSeen.timeIntervalSince(workers[0].firstSeen) == 3)
        let events = try store.events(limit: 2)
        #expect(events.map(\.kind) == ["worker", "refusedWorker"])
        #expect(events[1].message?.contains("0.0.9") == true)
        try store.lease(jobId: 5, attempt: 1, worker: "h/1/aa")
        #expect(try store.events(jobId: 5).map(\.kind) == ["dispatched"])
    }

    @Test func aBatchCommitsAllOrNothing() throws {
        let store = try open()
        let verdicts = try store.commit([
            .lease(jobId: 1, attempt: 1, worker: "w"),
            .lease(jobId: 2, attempt: 1, worker: "w"),
            .result(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w"),
            .result(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w"),
            .failure(jobId: 2, attempt: 1, kind: .transient, message: "io", wallSeconds: 1, worker: "w"),
        ])
        #expect(verdicts == [.leased, .leased, .result(.counted), .result(.duplicate),
                             .failure(.requeued(attempt: 2))])
        let before = try store.events(limit: 1000).count
        // The last transition is invalid: the whole batch is rolled back, nothing half-written.
        #expect(throws: StoreError.self) {
            try store.commit([
                .lease(jobId: 3, attempt: 1, worker: "w"),
                .result(jobId: 3, attempt: 1, result: Fixtures.result, checkpoint: nil, wallSeconds: 1, worker: "w"),
                .lease(jobId: 4, attempt: 1, worker: "w"),
                .expire(jobId: 5, attempt: 1, reason: .lost, message: "never leased"),
            ])
        }
        #expect(try store.job(3)?.state == .queued && (try store.job(4)?.state) == .queued)
        #expect(try store.results().map(\.jobId) == [1])
        #expect(try store.events(limit: 1000).count == before)
        // And the journal goes on.
        #expect(try store.commit([.lease(jobId: 3, attempt: 1, worker: "w")]) == [.leased])
    }

    /// Uncounted results as the coordinator classified them: events naming job, attempt, outcome
    /// and worker; no job changes; a warm start's misfit needs no checkpoint; garbage writes nothing.
    @Test func misfitsAreJournaledAsEventsAndNeverCounted() throws {
        let store = try open(Fixtures.trainGrid)  // jobs 1, 2 warm starts
        let verdicts = try store.commit([
            .lease(jobId: 1, attempt: 1, worker: "w1"),
            .result(jobId: 1, attempt: 1, result: Fixtures.result, checkpoint: Fixtures.checkpoint, wallSeconds: 1,
                    worker: "w1"),
            .misfit(jobId: 1, attempt: 1, kind: .duplicate, outcome: .done, worker: "w2"),
            .misfit(jobId: 2, attempt: 3, kind: .stale, outcome: .failed, worker: "w3"),
            .misfit(jobId: 99, attempt: 1, kind: .stale, outcome: .done, worker: "w3"),
        ])
        #expect(verdicts == [.leased, .result(.counted), .misfit(.journaled), .misfit(.journaled),
                             .misfit(.unknownJob)])
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
        #expect(try store.commit([.misfit(jobId: 2, attempt: 1, kind: .stale, outcome: .done, worker: "w1")])
                    == [.misfit(.currentLease)])
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
                              .expire(jobId: 2, attempt: 1, reason: .lost, message: "never leased")])
        }
        #expect(try store.workers().isEmpty)
        #expect(try store.commit([worker, .lease(jobId: 1, attempt: 1, worker: "n/7/aa")]) == [.workerRecorded, .leased])
        clock.advance(5)
        #expect(try store.commit([worker]) == [.workerRecorded])
        clock.advance(2)
        #expect(try store.commit([.workerGone(identity: "n/7/aa", reason: "lost (silent for 3100 ms)"),
                                  .workerGone(identity: "never/1/bb", reason: "left")])
                    == [.workerRecorded, .workerRecorded])
        let workers = try store.workers()
        #expect(workers == [WorkerRecord(identity: "n/7/aa", name: "n/1", host: "n", pid: 7, cores: 8,
                                         buildCPU: "skylake-avx512", version: "0.4.0",
                                         firstSeen: clock.now.addingTimeInterval(-7), lastSeen: clock.now)])
        let events = try store.events(limit: 10)
        #expect(events.map(\.kind) == ["worker", "dispatched", "worker", "workerGone", "workerGone"])
        #expect(events[3].worker == "n/7/aa" && events[3].message == "lost (silent for 3100 ms)")
    }
}
