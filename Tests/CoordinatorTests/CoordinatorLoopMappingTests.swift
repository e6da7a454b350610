// Scheduler changes → journal transitions (JournalMapping), without sockets or a database.
import Coordinator
import Store
import SweepProtocol
import Testing

struct CoordinatorLoopMappingTests {
    let peer = PeerID("host/1/0000abcd")
    let ref = JobRef(jobId: 3, attempt: 2)
    let at = Instant(milliseconds: 5)

    @Test func leasesAndResultsBecomeTransitionsNamingTheRoutingID() {
        var mapping = JournalMapping()
        #expect(mapping.transition(for: .lease(ref, peer: peer, worker: "w", at: at))
                    == .lease(jobId: 3, attempt: 2, worker: "host/1/0000abcd"))
        #expect(mapping.transition(for: .adopt(ref, peer: peer, worker: "w", at: at))
                    == .adopt(jobId: 3, attempt: 2, worker: "host/1/0000abcd"))
        let bytes = Array(#"{"format":"thermosweep-trivial/1"}"#.utf8)
        let done = JobResult.done(jobId: 3, attempt: 2, kind: .trivial, wallSeconds: 1.5, result: bytes)
        #expect(mapping.transition(for: .resultCounted(done, peer: peer, at: at))
                    == .result(jobId: 3, attempt: 2, result: bytes, checkpoint: nil, wallSeconds: 1.5,
                               worker: "host/1/0000abcd"))
        let failed = JobResult.failed(jobId: 3, attempt: 2, kind: .trivial, wallSeconds: 0.5, errorKind: .deterministic,
                                      message: "diverged")
        #expect(mapping.transition(for: .resultCounted(failed, peer: peer, at: at))
                    == .failure(jobId: 3, attempt: 2, kind: .deterministic, message: "diverged", wallSeconds: 0.5,
                                worker: "host/1/0000abcd"))
    }

    @Test func leaseEndsBecomeExpiriesOrTransientFailuresOfTheHolder() {
        var mapping = JournalMapping()
        _ = mapping.transition(for: .lease(ref, peer: peer, worker: "w", at: at))
        #expect(mapping.transition(for: .leaseEnded(ref, .transientFailure("oom"), at: at))
                    == .failure(jobId: 3, attempt: 2, kind: .transient, message: "oom", wallSeconds: 0,
                                worker: "host/1/0000abcd"))
        let ends: [(LeaseEnd, ExpiryReason)] = [(.lost, .lost), (.stalled, .stalled), (.released, .released),
                                                (.orphanExpired, .orphanExpired), (.dropped, .dropped)]
        for (end, reason) in ends {
            #expect(mapping.transition(for: .leaseEnded(ref, end, at: at))
                        == .expire(jobId: 3, attempt: 2, reason: reason, message: end.reason))
            #expect(reason.countsAsRetry == end.countsAsFailure)
        }
        // The holder of an orphaned lease comes from the journal.
        var restored = JournalMapping(leases: [Lease(jobId: 3, attempt: 2, worker: "old/9/0000beef",
                                                     startedAt: .init(timeIntervalSince1970: 0))])
        #expect(restored.transition(for: .leaseEnded(ref, .transientFailure("x"), at: at))
                    == .failure(jobId: 3, attempt: 2, kind: .transient, message: "x", wallSeconds: 0,
                                worker: "old/9/0000beef"))
    }

    @Test func changesTheStoreDerivesNeedNoTransition() {
        var mapping = JournalMapping()
        let changes: [Change] = [
            .workerSeen(peer: peer, name: "w", host: "h", at: at), .resultDuplicate(ref, peer: peer, at: at),
            .resultStale(ref, peer: peer, at: at), .requeued(ref, failures: 1), .failed(ref, reason: "r", at: at),
        ]
        for change in changes { #expect(mapping.transition(for: change) == nil) }
    }

    @Test func verdictsAgreeOnlyWithWhatTheSchedulerDecided() {
        let result = Transition.result(jobId: 1, attempt: 1, result: [], checkpoint: nil, wallSeconds: 0, worker: "w")
        #expect(JournalMapping.agrees(result, .result(.counted)))
        #expect(!JournalMapping.agrees(result, .result(.stale)))
        #expect(JournalMapping.agrees(.lease(jobId: 1, attempt: 1, worker: "w"), .leased))
        let deterministic = Transition.failure(jobId: 1, attempt: 1, kind: .deterministic, message: "m", wallSeconds: 0,
                                               worker: "w")
        #expect(JournalMapping.agrees(deterministic, .failure(.failed(blocked: []))))
        #expect(!JournalMapping.agrees(deterministic, .failure(.requeued(attempt: 2))))
    }
}
