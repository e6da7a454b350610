// Scheduler changes → journal transitions, one for one, without sockets; and through a real journal.
import Coordinator
import Foundation
import Store
import SweepProtocol
import Testing

struct CoordinatorLoopMappingTests {
    let peer = PeerID("host/1/0000abcd")
    let ref = JobRef(jobId: 3, attempt: 2)
    let at = Instant(milliseconds: 5)

    @Test func leasesAndResultsBecomeTransitionsNamingTheRoutingID() {
        #expect(Change.lease(ref, peer: peer, worker: "w", at: at).transition
                    == .lease(jobId: 3, attempt: 2, worker: "host/1/0000abcd"))
        #expect(Change.adopt(ref, peer: peer, worker: "w", at: at).transition
                    == .adopt(jobId: 3, attempt: 2, worker: "host/1/0000abcd"))
        let bytes = Array(#"{"format":"thermosweep-trivial/1"}"#.utf8)
        let done = JobResult.done(jobId: 3, attempt: 2, kind: .trivial, wallSeconds: 1.5, result: bytes)
        #expect(Change.resultCounted(done, peer: peer, at: at).transition
                    == .result(jobId: 3, attempt: 2, result: bytes, checkpoint: nil, wallSeconds: 1.5,
                               worker: "host/1/0000abcd"))
        let failed = JobResult.failed(jobId: 3, attempt: 2, kind: .trivial, wallSeconds: 0.5, errorKind: .deterministic,
                                      message: "diverged")
        #expect(Change.resultCounted(failed, peer: peer, at: at).transition
                    == .deterministicFailure(jobId: 3, attempt: 2, message: "diverged", wallSeconds: 0.5,
                                             worker: "host/1/0000abcd"))
    }

    @Test func theSchedulersDecisionsAreRecordedAsMade() {
        for end in [LeaseEnd.lost, .stalled, .released, .orphanExpired, .dropped, .transientFailure("oom")] {
            #expect(Change.requeued(ref, end: end, worker: peer, failures: 2, at: at).transition
                        == .requeue(jobId: 3, attempt: 2, end: end, worker: "host/1/0000abcd", failures: 2))
        }
        #expect(Change.requeued(ref, end: .orphanExpired, worker: nil, failures: 0, at: at).transition
                    == .requeue(jobId: 3, attempt: 2, end: .orphanExpired, worker: nil, failures: 0))
        #expect(Change.failed(ref, .exhausted, reason: "r", end: .lost, worker: peer, failures: 3, at: at).transition
                    == .fail(jobId: 3, attempt: 2, failure: .exhausted, reason: "r", end: .lost,
                             worker: "host/1/0000abcd", failures: 3))
        #expect(Change.failed(ref, .dependency, reason: "w", end: nil, worker: nil, failures: 0, at: at).transition
                    == .fail(jobId: 3, attempt: 2, failure: .dependency, reason: "w", end: nil, worker: nil, failures: 0))
    }

    @Test func workersAndUncountedResultsBecomeTheirOwnTransitions() {
        #expect(Change.workerGone(peer: peer, reason: "lost", at: at).transition
                    == .workerGone(identity: "host/1/0000abcd", reason: "lost"))
        let ready = Ready(name: "node-3/1", host: "node-3", pid: 4242, nonce: "0000abcd", cores: 2,
                          cpuFeatures: ["avx512f"], buildCPU: "skylake-avx512", version: "0.4.0 (abc)",
                          datasets: [], slots: 1)
        #expect(Change.workerSeen(peer: peer, ready: ready, at: at).transition
                    == .worker(identity: "host/1/0000abcd", name: "node-3/1", host: "node-3", pid: 4242, cores: 2,
                               buildCPU: "skylake-avx512", version: "0.4.0 (abc)"))
        let done = JobResult.done(jobId: 3, attempt: 2, kind: .warmStart, wallSeconds: 1, result: Array("{}".utf8),
                                  checkpoint: [1, 2])
        #expect(Change.resultDuplicate(done, peer: peer, at: at).transition
                    == .misfit(jobId: 3, attempt: 2, kind: .duplicate, outcome: .done, worker: "host/1/0000abcd"))
        let failed = JobResult.failed(jobId: 3, attempt: 1, kind: .warmStart, wallSeconds: 1, errorKind: .transient,
                                      message: "oom")
        #expect(Change.resultStale(failed, peer: peer, at: at).transition
                    == .misfit(jobId: 3, attempt: 1, kind: .stale, outcome: .failed, worker: "host/1/0000abcd"))
    }

    /// Scheduler → Store, one commit per `handle` call as `CoordinatorLoop.perform` does it:
    /// admitted workers land in the worker table with pid, cores and version, the lost lease as a
    /// re-queue, and late and re-sent results as `stale` / `duplicate` events, warm-start copies
    /// without their checkpoint included, without a refused commit.
    @Test func workersAndMisfitsReachTheJournalThroughTheScheduler() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mapping-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = GridSpec(learningRates: [0.05], batchSizes: [8], seeds: 1, dataset: .synthetic())  // warm 1, cell 2
        var config = SchedulerConfig(version: "0.4.0 (abc)", dataset: nil, specHash: "", coordinatorNonce: "c0ffee00")
        config.timing.heartbeat = .milliseconds(1_000)
        let start = try CoordinatorStart.open(path: folder.appendingPathComponent("sweep.db").path, spec: spec,
                                              config: config)
        defer { try? start.store.close() }
        var scheduler = start.scheduler
        var now = Instant(milliseconds: 0)
        // Every decision must be a legal step for the journal: a refused commit throws here.
        func round(_ event: Event) throws -> [Effect] {
            let effects = scheduler.handle(event, now: now)
            var transitions: [Transition] = []
            for case .journal(let change) in effects { transitions.append(change.transition) }
            try start.store.commit(transitions)
            return effects
        }
        func ready(_ host: String, pid: Int, running: [JobRef] = []) -> Message {
            .ready(Ready(name: "\(host)/1", host: host, pid: pid, nonce: "0000abcd", cores: pid % 7 + 1,
                         cpuFeatures: ["avx512f"], buildCPU: "skylake-avx512", version: config.version, datasets: [],
                         slots: 1, running: running))
        }
        let w1 = PeerID("node-1/101/0000abcd"), w2 = PeerID("node-2/202/0000abcd")
        let warm = { (attempt: Int, checkpoint: [UInt8]?) in
            JobResult.done(jobId: 1, attempt: attempt, kind: checkpoint == nil ? .trivial : .warmStart, wallSeconds: 1,
                           result: Array(#"{"format":"thermosweep-warm/1"}"#.utf8), checkpoint: checkpoint)
        }
        _ = try round(.start(start.restored))
        _ = try round(.message(w1, ready("node-1", pid: 101)))  // leases the warm start, attempt 1
        for _ in 0..<8 {  // w1 falls silent: lost, the warm start goes back as attempt 2
            now = now.advanced(by: .milliseconds(500))
            _ = try round(.tick())
        }
        _ = try round(.message(w2, ready("node-2", pid: 202)))  // attempt 2
        #expect(scheduler.holder(of: 1) == w2 && scheduler.attempt(of: 1) == 2)
        _ = try round(.message(w1, ready("node-1", pid: 101, running: [JobRef(jobId: 1, attempt: 1)])))
        _ = try round(.message(w1, .result(warm(1, [7, 7]))))  // stale, with its checkpoint
        _ = try round(.message(w1, .result(warm(1, nil))))  // stale, of the wrong kind and without it
        _ = try round(.message(w2, .result(warm(2, [8, 8]))))  // counted
        _ = try round(.message(w2, .result(warm(2, [8, 8]))))  // duplicate
        _ = try round(.message(w2, .result(warm(2, nil))))  // duplicate, of the wrong kind and without it

        let store = start.store
        let workers = try store.workers()
        #expect(workers.map(\.identity) == [w1.description, w2.description])
        #expect(workers.map(\.name) == ["node-1/1", "node-2/1"] && workers.map(\.host) == ["node-1", "node-2"])
        #expect(workers.map(\.pid) == [101, 202] && workers.map(\.cores) == [4, 7])
        #expect(workers.allSatisfy { $0.version == "0.4.0 (abc)" && $0.buildCPU == "skylake-avx512" })
        #expect(workers.allSatisfy { $0.lastSeen >= $0.firstSeen })
        let workerEvents = try store.events(limit: 1000).filter { $0.kind.hasPrefix("worker") }
        #expect(workerEvents.map(\.kind) == ["worker", "workerGone", "worker", "worker"])
        #expect(workerEvents.map(\.worker) == [w1, w1, w2, w1].map(\.description))  // w1 lost, then back
        #expect(workerEvents[1].message?.hasPrefix("lost (silent for 3500 ms)") == true, "\(workerEvents[1])")
        let misfits = try store.events(jobId: 1).filter { $0.kind == "duplicate" || $0.kind == "stale" }
        #expect(misfits.map(\.kind) == ["stale", "stale", "duplicate", "duplicate"])
        #expect(misfits.map(\.attempt) == [1, 1, 2, 2])
        #expect(misfits.map(\.worker) == [w1, w1, w2, w2].map(\.description))
        #expect(try store.misfitCounts() == MisfitCounts(duplicate: 2, stale: 2))
        // Counted once, with the counted attempt's checkpoint.
        #expect(try store.job(1)?.state == .done && (try store.checkpoint(jobId: 1)) == [8, 8])
        #expect(try store.results().map(\.attempt) == [1 + 1])
        #expect(try store.events(jobId: 1).map(\.kind).prefix(4) == ["dispatched", "lost", "requeued", "dispatched"])
    }
}
