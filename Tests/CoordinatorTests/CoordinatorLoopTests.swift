// The ROUTER loop end to end: a real journal, a real ROUTER, workers played by hand.
import Coordinator
import Foundation
import Store
import SweepProtocol
import TestSupport
import Testing
import ZeroMQ

@Suite(.serialized, .ownThread)
struct CoordinatorLoopTests {
    @Test func trivialGridCompletesThroughTwoWorkers() throws {
        let fixture = try LoopFixture()
        let endpoint = try fixture.start()
        let a = try HandWorker(fixture, endpoint: endpoint, name: "a")
        let b = try HandWorker(fixture, endpoint: endpoint, name: "b")
        try a.ready()
        try b.ready()
        let done = try serve([a, b])
        #expect(a.gotBye && b.gotBye)
        #expect(try fixture.waitForEnd() == .finished)
        #expect(done["a", default: []].count > 0 && done["b", default: []].count > 0)
        let store = try fixture.readOnly()
        let jobs = try store.jobs()
        #expect(jobs.count == 8)
        #expect(jobs.allSatisfy { $0.state == .done && $0.attempt == 1 })
        #expect(try store.results().map(\.jobId) == jobs.map(\.id))
        #expect(try store.events(limit: 1000).filter { $0.kind == "dispatched" }.count == 8)
        #expect(!fixture.logContains("JOURNAL DISAGREES"))
    }

    /// After the last job, the loop serves late traffic (a READY gets its BYE), each message
    /// keeps it serving for another quiet window, and it ends once quiet, long before the grace.
    @Test func aFinishedLoopServesLateTrafficThenEndsOnceQuiet() throws {
        let fixture = try LoopFixture(learningRates: [0.0125], batchSizes: [8], seeds: 1)
        let quiet = Duration.seconds(2)
        let endpoint = try fixture.start(finishGrace: .seconds(60), finishQuiet: quiet)
        let worker = try HandWorker(fixture, endpoint: endpoint, name: "w")
        let late = try HandWorker(fixture, endpoint: endpoint, name: "late")
        let later = try HandWorker(fixture, endpoint: endpoint, name: "later")
        guard let job = try worker.joinAndTakeJob() else { return }
        try worker.send(.result(worker.result(for: JobRef(jobId: job.jobId, attempt: job.attempt))))
        guard case .ack = try worker.expect() else { Issue.record("no ACK"); return }
        guard case .bye = try worker.expect() else { Issue.record("no BYE"); return }
        let finished = ContinuousClock.now
        // Within the first quiet window, then past it but within the window the first READY opened.
        for (peer, at) in [(late, quiet * 0.6), (later, quiet * 1.2)] {
            let wait = finished + at - ContinuousClock.now
            if wait > .zero { Thread.sleep(forTimeInterval: wait / .seconds(1)) }
            try peer.ready()
            var reply = try peer.expect()
            if case .welcome = reply { reply = try peer.expect() }
            guard case .bye = reply else {
                Issue.record("a READY \(at) after the last job got \(String(describing: reply)), not BYE")
                return
            }
        }
        #expect(try fixture.waitForEnd(timeout: 30) == .finished)
        let served = ContinuousClock.now - finished
        #expect(served < .seconds(20), "the loop served \(served) after the last job, most of it with nothing to read")
    }

    /// A finished loop that awaits its dismissed workers' goodbyes ends once the last one has
    /// answered, long before its quiet window; a worker told BYE later (its READY came after the
    /// last job) is awaited too, and no goodbye is answered with an error.
    @Test func aFinishedLoopEndsOnceEveryDismissedWorkerSaidGoodbye() throws {
        let fixture = try LoopFixture(learningRates: [0.0125], batchSizes: [8], seeds: 1)
        let endpoint = try fixture.start(finishGrace: .seconds(60), finishQuiet: .seconds(30))
        let worker = try HandWorker(fixture, endpoint: endpoint, name: "w")
        let late = try HandWorker(fixture, endpoint: endpoint, name: "late")
        guard let job = try worker.joinAndTakeJob() else { return }
        // No heartbeat after the last result: the dismissed worker's would be answered ERROR
        // unknownPeer, which the silence checked below must not mistake for an answered goodbye.
        worker.lastBeat = .now + .seconds(3600)
        late.lastBeat = .now + .seconds(3600)
        try worker.send(.result(worker.result(for: JobRef(jobId: job.jobId, attempt: job.attempt))))
        guard case .ack = try worker.expect() else { Issue.record("no ACK"); return }
        guard case .bye = try worker.expect() else { Issue.record("no BYE"); return }
        try late.ready()
        guard case .bye = try late.expect() else { Issue.record("a READY after the last job got no BYE"); return }
        try worker.send(.bye(Bye(reason: "worker w is leaving")))
        // One goodbye is still awaited: the loop keeps serving.
        #expect(try fixture.waitForEnd(timeout: 1) == nil)
        #expect(try worker.receive(timeout: .milliseconds(200)) == nil, "a goodbye was answered")
        let asked = ContinuousClock.now
        try late.send(.bye(Bye(reason: "worker late is leaving")))
        #expect(try fixture.waitForEnd(timeout: 10) == .finished)
        let served = ContinuousClock.now - asked
        #expect(served < .seconds(5), "the loop served \(served) after the last goodbye")
    }

    @Test func resultIsAckedOnlyOnceCommittedAndDuplicatesAreNotCounted() throws {
        let fixture = try LoopFixture(learningRates: [0.0125], batchSizes: [8, 16], seeds: 1)
        let endpoint = try fixture.start()
        let worker = try HandWorker(fixture, endpoint: endpoint, name: "w")
        guard let job = try worker.joinAndTakeJob() else { return }
        let ref = JobRef(jobId: job.jobId, attempt: job.attempt)
        #expect(try fixture.readOnly().job(job.jobId)?.state == .running)
        try worker.send(.result(worker.result(for: ref)))
        guard case .ack(let acked) = try worker.expect() else { Issue.record("no ACK"); return }
        #expect(acked == ref)
        // The ACK came after the commit: the database already holds the result.
        let reader = try fixture.readOnly()
        #expect(try reader.job(job.jobId)?.state == .done)
        #expect(try reader.results().count == 1)
        guard case .job(let next) = try worker.expect() else { Issue.record("no second JOB"); return }
        // A re-sent result is ACKed again, never counted.
        try worker.send(.result(worker.result(for: ref)))
        guard case .ack(let again) = try worker.expect() else { Issue.record("duplicate not ACKed"); return }
        #expect(again == ref)
        #expect(try fixture.readOnly().results().count == 1)
        #expect(fixture.logContains("duplicate result #\(job.jobId)"))
        try worker.send(.result(worker.result(for: JobRef(jobId: next.jobId, attempt: next.attempt))))
        guard case .ack = try worker.expect() else { Issue.record("no ACK for the second job"); return }
        guard case .bye = try worker.expect() else { Issue.record("no BYE"); return }
        #expect(try fixture.waitForEnd() == .finished)
        let results = try fixture.readOnly().results()
        #expect(results.map(\.jobId).sorted() == [job.jobId, next.jobId].sorted())
    }

    @Test func aRoundsMessagesToOneWorkerLeaveInOneBatch() throws {
        let fixture = try LoopFixture(learningRates: [0.0125], batchSizes: [8, 16, 24, 32], seeds: 1)
        let endpoint = try fixture.start()
        let worker = try HandWorker(fixture, endpoint: endpoint, name: "w")
        try worker.ready(slots: 2)
        // One READY: the WELCOME and the JOBs for both slots answer it together.
        guard let first = try worker.receiveBatch() else { Issue.record("no WELCOME"); return }
        #expect(first.map(\.command) == [.welcome, .job, .job])
        let jobs = first.compactMap { if case .job(let job) = $0 { job.ref } else { nil } }
        // Both RESULTs in one batch: both ACKs and the two JOBs that follow come back in one.
        guard let results = Message.encode(batch: jobs.map { .result(worker.result(for: $0)) }, refused: { _, error in
            Issue.record("\(error)")
        }) else { return }
        #expect(try worker.socket.send(results.frames, dontWait: true))
        guard let second = try worker.receiveBatch() else { Issue.record("no answer"); return }
        #expect(second.map(\.command).sorted { $0.rawValue < $1.rawValue } == [.ack, .ack, .job, .job])
        #expect(Set(second.compactMap { if case .ack(let ref) = $0 { ref } else { nil } }) == Set(jobs))
        let next = second.compactMap { if case .job(let job) = $0 { job.ref } else { nil } }
        for ref in next { try worker.send(.result(worker.result(for: ref))) }
        var acked: Set<JobRef> = []
        while acked.count < 2, let message = try worker.expect() {
            if case .ack(let ref) = message { acked.insert(ref) }
        }
        #expect(acked == Set(next))
        guard case .bye = try worker.expect() else { Issue.record("no BYE"); return }
        #expect(try fixture.waitForEnd() == .finished)
        #expect(try fixture.readOnly().results().count == 4)
    }

    @Test func malformedTrafficLeavesTheJournalAloneAndTheLoopRunning() throws {
        let fixture = try LoopFixture()
        let endpoint = try fixture.start()
        let before = try fixture.readOnly().events(limit: 10_000)
        let peer = try HandWorker(fixture, endpoint: endpoint, name: "junk")
        let garbage: [[[UInt8]]] = [
            [[0xff, 0x00, 0x13]],
            [Array("TSW6".utf8), Array("READY".utf8), Array("{}".utf8)],
            [Array("TSW6".utf8), Array("FROB".utf8), Array("{}".utf8)],
            [Array("TSW6".utf8), Array("HEARTBEAT".utf8), Array(#"{"jobs":[],"extra":1}"#.utf8)],
            [Array("TSW6".utf8), Array("RESULT".utf8), [0xc3, 0x28]],
        ]
        for frames in garbage {
            try peer.sendRaw(frames)
            let reply = try peer.expect(timeout: .seconds(3))
            if frames.count == 3 && frames[1] == Array("READY".utf8) {
                // A READY that cannot be read is refused: sending it again could not help.
                guard case .refuse(let refuse) = reply else { Issue.record("no REFUSE for a bad READY"); continue }
                #expect(refuse.reason == .malformed && refuse.message.contains("name"), "\(refuse)")
                continue
            }
            guard case .error(let error) = reply else {
                Issue.record("no ERROR for \(frames.count) frames"); continue
            }
            #expect(error.code == .malformed)
        }
        // A claimed ERROR that does not decode is not answered (no error ping-pong).
        try peer.sendRaw([Array("TSW6".utf8), Array("ERROR".utf8), Array("{".utf8)])
        try peer.send(.status(StatusRequest()))
        guard case .statusReply(let status) = try peer.expect() else { Issue.record("no STATUS-REPLY"); return }
        #expect(status.counts.total == 8 && status.counts.queued == 8)
        #expect(status.specHash == (try fixture.readOnly().specHash))
        #expect(try fixture.readOnly().events(limit: 10_000) == before)
        #expect(try fixture.stop() == .stopped)
    }

    @Test func restartedLoopCountsTheResultOfAnOrphanedLease() throws {
        let fixture = try LoopFixture(learningRates: [0.0125], batchSizes: [8, 16], seeds: 1)
        let first = try fixture.start()
        var worker = try HandWorker(fixture, endpoint: first, name: "w")
        guard let job = try worker.joinAndTakeJob() else { return }
        let ref = JobRef(jobId: job.jobId, attempt: job.attempt)
        #expect(try fixture.stop() == .stopped)
        #expect(try fixture.readOnly().job(job.jobId)?.state == .running)

        // A new coordinator on the same journal; the worker reconnects with the same routing id.
        let second = try fixture.start()
        #expect(try fixture.readOnly().job(job.jobId)?.state == .orphaned)
        worker = try HandWorker(fixture, endpoint: second, name: "w")
        try worker.ready(running: [ref])
        guard case .welcome = try worker.expect() else { Issue.record("no WELCOME after restart"); return }
        try worker.send(.result(worker.result(for: ref)))
        let done = try serve([worker])
        #expect(worker.gotBye)
        #expect(try fixture.waitForEnd() == .finished)
        let store = try fixture.readOnly()
        let restarted = try store.job(job.jobId)
        #expect(restarted?.state == .done && restarted?.attempt == 1)
        #expect(try store.results().count == 2)
        #expect(try store.jobs().allSatisfy { $0.state == .done })
        #expect(try store.events(jobId: job.jobId).contains { $0.kind == "adopted" })
        #expect(done["w", default: []].count == 1)
        #expect(!fixture.logContains("JOURNAL DISAGREES"))
    }

    @Test func silentWorkersJobIsRequeuedAndDoneByTheOther() throws {
        let fixture = try LoopFixture(learningRates: [0.0125], batchSizes: [8, 16], seeds: 1)
        let endpoint = try fixture.start()
        let silent = try HandWorker(fixture, endpoint: endpoint, name: "silent")
        guard let lost = try silent.joinAndTakeJob() else { return }
        // From now on `silent` says nothing; `busy` does the rest, including the re-queued job.
        let busy = try HandWorker(fixture, endpoint: endpoint, name: "busy")
        try busy.ready()
        let done = try serve([busy])
        #expect(busy.gotBye)
        #expect(try fixture.waitForEnd() == .finished)
        #expect(done["busy", default: []].contains(JobRef(jobId: lost.jobId, attempt: lost.attempt + 1)))
        let store = try fixture.readOnly()
        let requeued = try store.job(lost.jobId)
        #expect(requeued?.state == .done && requeued?.attempt == 2 && requeued?.retries == 1)
        #expect(try store.events(jobId: lost.jobId).contains { $0.kind == "lost" })
        #expect(try store.jobs().allSatisfy { $0.state == .done })
        #expect(!fixture.logContains("JOURNAL DISAGREES"))
    }
}
