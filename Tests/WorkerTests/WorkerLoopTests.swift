import Foundation
import SweepProtocol
import TestSupport
import Testing
import Worker
import ZeroMQ

@Suite(.ownThread) struct WorkerLoopTests {
    @Test func readyNamesTheWorker() throws {
        let coordinator = try FakeCoordinator()
        let (worker, ready) = try startWorker(coordinator)
        #expect(ready.name == "test/1" && ready.version == "0.1.0 (test)" && ready.buildCPU == "x86-64")
        #expect(ready.datasets == [DatasetOffer(name: "synthetic/seed=1/count=300", hash: testHash)])
        #expect(ready.slots == 1 && ready.running.isEmpty && ready.cpuFeatures == ["avx2"])
        #expect(ready.nonce.count == 8 && ready.pid == Int(ProcessInfo.processInfo.processIdentifier))
        #expect(coordinator.peer == Array(worker.loop.config.routingID.utf8))
        try coordinator.send(.bye(Bye(reason: "done")))
        #expect(worker.exit() == .bye("done"))
    }

    /// The coordinator's BYE is answered with the worker's own, after which nothing more comes.
    @Test func byeIsAnsweredWithByeAsTheLastMessage() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator)
        try coordinator.send(.bye(Bye(reason: "the sweep is over")))
        coordinator.beating = false  // the worker is leaving: nothing may be sent to it
        #expect(worker.exit() == .bye("the sweep is over"))
        let answer = try coordinator.receive(within: .seconds(2)) { message -> Bye? in
            if case .bye(let bye) = message { bye } else { nil }
        }
        #expect(answer?.reason == "worker test/1 is leaving")
        #expect(try coordinator.receive(within: .milliseconds(300)) == nil)
    }

    /// The loop keeps a trivial job's deadline; `onThread` runs the same job on a job thread (a
    /// runner that computes, as `CellJobRunner` does for training jobs).
    @Test(arguments: [false, true]) func trivialJobBeatsWithAdvancingStepsThenResults(onThread: Bool) throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator, runner: onThread ? ThreadedTrivialRunner() : TrivialJobRunner(), millis: 400)
        try coordinator.send(.job(trivialLease()))
        var steps: [Int] = []
        let done = try coordinator.receive(within: .seconds(3)) { message -> JobResult? in
            if case .heartbeat(let beat) = message, let job = beat.jobs.first {
                #expect(job.jobId == 1 && job.attempt == 1 && job.totalSteps == 40)
                steps.append(job.step)
            }
            return result(message)
        }
        let record = try #require(done)
        #expect(record.outcome == .done && record.kind == .trivial && record.ref == JobRef(jobId: 1, attempt: 1))
        let json = try JSONSerialization.jsonObject(with: Data(try #require(record.result))) as? [String: Any]
        #expect(json?["format"] as? String == FormatTag.trivial)
        #expect(steps.count >= 3)
        #expect(steps == steps.sorted() && (steps.last ?? 0) > (steps.first ?? 0))
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    /// Two JOBs in one batch, both ending at once: their RESULTs leave in one batch too.
    @Test func resultsOfOnePassLeaveInOneBatch() throws {
        let coordinator = try FakeCoordinator()
        var config = testConfig(coordinator.endpoint)
        config.slots = 2
        let (worker, _) = try readyWorker(coordinator, config: config)
        var second = trivialLease(id: 2)
        (second.seedIndex, second.key) = (2, "trivial/lr=0.05/b=32/seed=2")
        try coordinator.send(batch: [.welcome(Welcome(coordinator: "c0ffee01", grid: trivialGrid(millis: 0),
                                                      heartbeat: .milliseconds(50), liveness: 3)),
                                     .job(trivialLease(id: 1)), .job(second)])
        let results = try #require(try coordinator.receiveBatch()).compactMap(result)
        #expect(Set(results.map(\.ref)) == [JobRef(jobId: 1, attempt: 1), JobRef(jobId: 2, attempt: 1)])
        #expect(results.allSatisfy { $0.outcome == .done })
        try coordinator.send(batch: [.ack(JobRef(jobId: 1, attempt: 1)), .ack(JobRef(jobId: 2, attempt: 1)),
                                     .bye(Bye(reason: "over"))])
        #expect(worker.exit() == .bye("over"))
    }

    @Test func resultIsResentUntilAcked() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator, millis: 20)
        try coordinator.send(.job(trivialLease()))
        #expect(try coordinator.receive(result) != nil)
        // resultResend is 300 ms: within 800 ms at least one more copy arrives.
        let again = try coordinator.collect(for: .milliseconds(800)).compactMap(result)
        #expect(again.count >= 1 && again.allSatisfy { $0.ref == JobRef(jobId: 1, attempt: 1) })
        try coordinator.send(.ack(JobRef(jobId: 1, attempt: 1)))
        Thread.sleep(forTimeInterval: 0.1)
        _ = try coordinator.collect(for: .milliseconds(50))  // anything already in flight
        let after = try coordinator.collect(for: .milliseconds(700))
        #expect(after.compactMap(result).isEmpty)
        #expect(after.contains { if case .heartbeat = $0 { true } else { false } })
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    @Test func refuseEndsTheLoopWithTheReason() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try readyWorker(coordinator)
        let refusal = Refuse.versionMismatch(worker: "0.1.0 (test)", coordinator: "0.2.0 (x)")
        try coordinator.send(.refuse(refusal))
        let exit = worker.exit()
        #expect(exit == .refused(.version, refusal.message))
        #expect(exit?.exitStatus == 2)
    }

    @Test func silentCoordinatorEndsALocalWorker() throws {
        let coordinator = try FakeCoordinator()
        coordinator.beating = false
        let clock = ContinuousClock()
        let began = clock.now
        let (worker, _) = try startWorker(coordinator, heartbeatMs: 50, exitOnLoss: true)
        // Liveness 3 × 50 ms: the worker gives up after 150 ms of silence.
        let exit = worker.exit(within: .seconds(2))
        #expect(exit == .coordinatorLost)
        #expect(clock.now - began < .seconds(1))
    }

    @Test func lostCoordinatorIsReconnectedWithHeldLeases() throws {
        let coordinator = try FakeCoordinator()
        coordinator.beating = false
        let (worker, _) = try startWorker(coordinator, heartbeatMs: 50, exitOnLoss: false, millis: 20)
        try coordinator.send(.job(trivialLease()))
        #expect(try coordinator.receive(result) != nil)
        // No traffic from the coordinator: after 150 ms + 100 ms backoff a new READY lists the lease.
        let ready = try coordinator.receive(within: .seconds(2)) { if case .ready(let r) = $0 { r } else { nil } }
        #expect(ready?.running == [JobRef(jobId: 1, attempt: 1)])
        try coordinator.send(.welcome(Welcome(coordinator: "c0ffee02", grid: trivialGrid(millis: 20),
                                              heartbeat: .milliseconds(50), liveness: 3)))
        #expect(try coordinator.receive(within: .seconds(1), result)?.ref == JobRef(jobId: 1, attempt: 1))
        worker.loop.stop()
        #expect(worker.exit() == .stopped)
        #expect(try coordinator.receive { if case .bye(let b) = $0 { b } else { nil } } != nil)
    }

    @Test func unknownPeerErrorResendsReady() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator)
        try coordinator.send(.error(ErrorReply(code: .unknownPeer, message: "who are you")))
        #expect(try coordinator.receive { if case .ready(let r) = $0 { r } else { nil } } != nil)
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    /// A cancelled running trivial job is abandoned: no RESULT is sent for it, and it leaves the
    /// heartbeats at once (a waiting job) or once its thread notices (within one 10 ms step).
    @Test(arguments: [false, true]) func cancelledJobSendsNoResult(onThread: Bool) throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator, runner: onThread ? ThreadedTrivialRunner() : TrivialJobRunner(), millis: 400)
        try coordinator.send(.job(trivialLease()))
        #expect(try coordinator.receive { if case .heartbeat(let h) = $0, !h.jobs.isEmpty { h } else { nil } } != nil)
        try coordinator.send(.cancel(Cancel(jobId: 1, attempt: 1, reason: .expired)))
        let after = try coordinator.collect(for: .milliseconds(700))
        #expect(after.compactMap(result).isEmpty)
        let lastBeat = after.compactMap { if case .heartbeat(let h) = $0 { h } else { nil } }.last
        #expect(lastBeat?.jobs.isEmpty == true)
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    @Test func secondJobBeyondTheSlotsFailsTransient() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator, millis: 400)
        try coordinator.send(.job(trivialLease(id: 1)))
        try coordinator.send(.job(trivialLease(id: 2)))
        let refused = try #require(try coordinator.receive(result))
        #expect(refused.ref == JobRef(jobId: 2, attempt: 1) && refused.outcome == .failed)
        #expect(refused.errorKind == .transient)
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    /// A coordinator of another protocol (another release) cannot read this worker, nor it the
    /// coordinator: the worker says so and exits as refused, instead of waiting for an answer.
    @Test func aCoordinatorOfAnotherProtocolEndsTheWorker() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try readyWorker(coordinator)
        let peer = try #require(coordinator.peer)
        #expect(try coordinator.router.send([peer, Array("TSW9".utf8), Array("WELCOME".utf8), Array("{}".utf8)]))
        guard case .refused(.version, let message)? = worker.exit() else {
            Issue.record("the worker did not end as refused")
            return
        }
        #expect(message.contains("'TSW9'") && message.contains(Wire.versionTag) && message.contains("same thermosweep binary"))
        #expect(worker.exit()?.exitStatus == 2)
    }

    /// A JOB that names no cell of WELCOME's grid is refused for good, naming the value.
    @Test func aJobOutsideTheGridFailsDeterministic() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try startWorker(coordinator, millis: 20)
        var lease = trivialLease(id: 3)
        lease.learningRate = 0.07
        try coordinator.send(.job(lease))
        let refused = try #require(try coordinator.receive(result))
        #expect(refused.ref == JobRef(jobId: 3, attempt: 1) && refused.outcome == .failed)
        #expect(refused.errorKind == .deterministic && refused.message?.contains("η = 0.07") == true)
        try coordinator.send(.job(trivialLease(id: 4)))
        #expect(try coordinator.receive(result)?.outcome == .done)
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    /// A grid the worker cannot run ends it with the reason: both ends run one binary, so no
    /// retry could help.
    @Test func aGridItCannotRunEndsTheWorker() throws {
        let coordinator = try FakeCoordinator()
        let (worker, _) = try readyWorker(coordinator)
        var grid = trivialGrid()
        grid.trivialMillis = -5
        try coordinator.send(.welcome(Welcome(coordinator: "c0ffee01", grid: grid, heartbeat: .milliseconds(50), liveness: 3)))
        guard case .failed(let message)? = worker.exit() else {
            Issue.record("the worker did not end")
            return
        }
        #expect(message.contains("--trivial-ms -5") && message.contains("same thermosweep binary"))
    }
}

/// Trivial jobs run on a job thread: the runner does not say that they only wait.
struct ThreadedTrivialRunner: JobRunner {
    func totalSteps(of job: Job) -> Int { TrivialJobRunner().totalSteps(of: job) }
    func run(_ job: Job, progress: JobProgressCounter) -> JobResult? { TrivialJobRunner().run(job, progress: progress) }
}
