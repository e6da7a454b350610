import Coordinator
import SweepProtocol
import Testing

@Suite struct SchedulerAdmissionTests {
    /// The journal names workers by their routing id's text: two ids never read alike.
    @Test func routingIdsThatLookAlikeAreNamedApart() {
        let binary = PeerID(bytes: [0xCA, 0xFE, 0xBA, 0xBE]), text = PeerID("0xcafebabe")
        #expect(binary.description == "0xcafebabe")
        #expect(text.description != binary.description)
        #expect(PeerID("node-3/123/abcd0123").description == "node-3/123/abcd0123")
        #expect(PeerID(bytes: Array("a\u{1}b".utf8)).description == "0x610162")
    }

    @Test func readyIsWelcomedThenGivenOneJobPerSlot() {
        var h = Harness(jobs: Harness.trivialJobs())
        let effects = h.ready("w1", slots: 2)
        #expect(effects.isInContractOrder)
        let messages = effects.messages(to: "w1")
        #expect(messages.count == 3)
        guard case .welcome(let welcome) = messages.first else {
            Issue.record("first message is \(String(describing: messages.first))")
            return
        }
        #expect(welcome.coordinator == "c0ffee00")
        #expect(welcome.heartbeatMs == 1_000 && welcome.liveness == 3 && welcome.stallWindowMs == 60_000)
        // Longest first: b=32 (id 3), then b=16 (id 2).
        #expect(effects.jobs(to: "w1").map(\.jobId) == [3, 2])
        #expect(effects.jobs(to: "w1").allSatisfy { $0.attempt == 1 })
        let changes = effects.changes
        #expect(changes.count == 3)
        if case .workerSeen(let peer, let ready, _) = changes.first {
            #expect(peer == PeerID("w1") && ready == Harness.readyBody("w1", slots: 2))
        } else {
            Issue.record("first change is not workerSeen: \(changes)")
        }
        #expect(h.scheduler.jobs(of: PeerID("w1")) == [3, 2])
        #expect(h.scheduler.state(of: 1) == .queued)
        // Operations see each admitted worker's host, cores and version in one line.
        let logs = effects.compactMap { if case .log(let line) = $0 { line } else { nil } }
        #expect(logs.contains { $0.hasPrefix("worker w1 admitted: host host, 2 cores, 2 slots,")
                                    && $0.contains("version \(Harness.version)") && $0.contains("pid 100") },
                "\(logs)")
    }

    @Test func versionMismatchIsRefusedNamingBothVersions() {
        var h = Harness(jobs: Harness.trivialJobs())
        let effects = h.ready("w1", version: "0.3.9 (old)")
        #expect(effects.changes.isEmpty)
        guard case .refuse(let refuse) = effects.messages(to: "w1").first else {
            Issue.record("no REFUSE: \(effects)")
            return
        }
        #expect(refuse.reason == .version)
        #expect(refuse.message.contains("0.3.9 (old)") && refuse.message.contains(Harness.version))
        #expect(effects.jobs.isEmpty)
        #expect(h.scheduler.workerCount == 0)
        // The refused peer is forgotten.
        let after = h.heartbeat("w1", [])
        #expect(after.errors(to: "w1").map(\.code) == [.unknownPeer])
    }

    /// Beyond `maxWorkers`, a new READY is refused `full`; an admitted worker's READY is not.
    @Test func aREADYBeyondTheWorkerLimitIsRefusedFull() {
        var h = Harness(jobs: Harness.trivialJobs()) { $0.maxWorkers = 2 }
        h.ready("w1")
        h.ready("w2")
        let third = h.ready("w3")
        guard case .refuse(let refuse) = third.messages(to: "w3").first else {
            Issue.record("no REFUSE: \(third)")
            return
        }
        #expect(refuse.reason == .full && refuse.message.contains("at most 2 workers"))
        #expect(third.changes.isEmpty && h.scheduler.workerCount == 2)
        #expect(h.ready("w1").messages(to: "w1").contains { if case .welcome = $0 { true } else { false } },
                "an admitted worker's second READY was refused")
        h.handle(.message(PeerID("w2"), .bye(Bye(reason: "done"))))
        guard case .welcome = h.ready("w3").messages(to: "w3").first else {
            Issue.record("w3 was refused after w2 left")
            return
        }
    }

    @Test func datasetMismatchIsRefused() {
        var h = Harness(jobs: Harness.trivialJobs()) {
            $0.dataset = DatasetOffer(name: "fashion-mnist", hash: "fedcba9876543210")
        }
        let effects = h.ready("w1", datasets: [DatasetOffer(name: "fashion-mnist", hash: "0000000000000001")])
        guard case .refuse(let refuse) = effects.messages(to: "w1").first else {
            Issue.record("no REFUSE: \(effects)")
            return
        }
        #expect(refuse.reason == .dataset)
        #expect(refuse.message.contains("fedcba9876543210") && refuse.message.contains("0000000000000001"))
        #expect(effects.changes.isEmpty)
        let good = h.ready("w2", datasets: [DatasetOffer(name: "fashion-mnist", hash: "fedcba9876543210")])
        #expect(good.jobs(to: "w2").count == 1)
    }

    @Test func unknownPeerGetsErrorAndNothingIsJournaled() {
        var h = Harness(jobs: Harness.trivialJobs())
        for message: Message in [.heartbeat(Heartbeat()), .result(Harness.doneResult(1, attempt: 1, kind: .trivial))] {
            let effects = h.send("ghost", message)
            #expect(effects.changes.isEmpty)
            #expect(effects.errors(to: "ghost").map(\.code) == [.unknownPeer])
        }
        // A peer that leaves does not listen: its BYE is not answered.
        #expect(h.send("ghost", .bye(Bye(reason: "x"))).isEmpty)
        // An ERROR from a peer is logged, never answered.
        let error = h.send("ghost", .error(ErrorReply(code: .malformed, message: "x")))
        #expect(error.sends.isEmpty)
        #expect(h.scheduler.state(of: 1) == .queued)
    }

    @Test func coordinatorCommandsSentToTheCoordinatorAreMalformed() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1")
        let effects = h.send("w1", .ack(JobRef(jobId: 3, attempt: 1)))
        #expect(effects.errors(to: "w1").map(\.code) == [.malformed])
        #expect(effects.changes.isEmpty)
    }

    @Test func statusRepliesWithCountsAndWorkers() {
        var h = Harness(jobs: Harness.trivialJobs())
        h.ready("w1", slots: 2)
        h.done("w1", 3, attempt: 1)
        h.now = Instant(milliseconds: 2_500)
        let effects = h.send("client", .status(StatusRequest()))
        #expect(effects.changes.isEmpty)
        guard case .statusReply(let reply) = effects.messages(to: "client").first else {
            Issue.record("no STATUS-REPLY: \(effects)")
            return
        }
        #expect(reply.counts == StatusCounts(total: 3, done: 1, failed: 0, running: 2, queued: 0))
        #expect(reply.workers == [WorkerStatus(name: "w1", jobs: [2, 1])])
        #expect(reply.uptimeSeconds == 2.5)
        #expect(reply.specHash == "00000000000000ff")
        // The reply passes the protocol's own validation.
        #expect(throws: Never.self) { _ = try Message.statusReply(reply).encode() }
    }
}
