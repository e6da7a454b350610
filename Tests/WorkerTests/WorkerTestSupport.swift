import Cell
// A coordinator played by hand: a ROUTER on tcp://127.0.0.1:*, bounded waits only.
import Foundation
import SweepProtocol
import Testing
import Worker
import ZeroMQ

/// The test's side of the conversation.
final class FakeCoordinator {
    /// The rest of the last batch received, not handed out yet.
    private var pending: [Message] = []
    let context: Context
    let router: Socket
    let endpoint: String
    /// The worker's routing id, learned from its first message.
    var peer: [UInt8]?
    /// Whether `receive` sends the coordinator's HEARTBEAT every 40 ms while it waits; off plays a
    /// silent (lost) coordinator.
    var beating = true
    private var lastBeat = ContinuousClock.now

    init() throws {
        context = try Context()
        router = try Socket(context, .router)
        try router.set(.routerMandatory, true)
        try router.set(.routerHandover, true)
        endpoint = try router.bind("tcp://127.0.0.1:*")
    }

    /// The next message from the worker within `timeout`, or nil.
    func receive(within timeout: Duration = .seconds(3)) throws -> Message? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if beating, peer != nil, ContinuousClock.now - lastBeat >= .milliseconds(40) {
                lastBeat = ContinuousClock.now
                try send(.heartbeat(Heartbeat()))
            }
            if !pending.isEmpty { return pending.removeFirst() }
            if let frames = try router.receive(dontWait: true) {
                peer = frames[0]
                pending = try Message.decodeBatch(Array(frames.dropFirst()))
                continue
            }
            let left = deadline - ContinuousClock.now
            if left <= .zero { return nil }
            _ = try router.poll(.readable, timeout: min(left, .milliseconds(20)))
        }
    }

    /// The first message within `timeout` that `match` accepts (others are skipped).
    func receive<T>(within timeout: Duration = .seconds(3), _ match: (Message) -> T?) throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let message = try receive(within: deadline - ContinuousClock.now) else { return nil }
            if let value = match(message) { return value }
        }
        return nil
    }

    /// Every message within `window`.
    func collect(for window: Duration) throws -> [Message] {
        let deadline = ContinuousClock.now + window
        var messages: [Message] = []
        while ContinuousClock.now < deadline {
            if let message = try receive(within: deadline - ContinuousClock.now) { messages.append(message) }
        }
        return messages
    }

    func send(_ message: Message) throws {
        try send(batch: [message])
    }

    /// Sends `messages` in one ZeroMQ message.
    func send(batch messages: [Message]) throws {
        let peer = try #require(peer, "the worker has not spoken yet")
        let batch = try #require(Message.encode(batch: messages) { _, error in Issue.record("\(error)") })
        #expect(try router.send([peer] + batch.frames))
    }

    /// The messages of the next ZeroMQ message from the worker that holds more than HEARTBEATs,
    /// heartbeats left out (nil after `timeout`): what the worker sent together.
    func receiveBatch(within timeout: Duration = .seconds(3)) throws -> [Message]? {
        precondition(pending.isEmpty, "receiveBatch after receive split a batch")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard try router.poll(.readable, timeout: .milliseconds(20)).contains(.readable),
                  let frames = try router.receive(dontWait: true) else { continue }
            peer = frames[0]
            let messages = try Message.decodeBatch(Array(frames.dropFirst()))
                .filter { if case .heartbeat = $0 { false } else { true } }
            if !messages.isEmpty { return messages }
        }
        return nil
    }
}

/// Runs a worker loop on a thread of its own; `exit` waits (bounded) for its return.
final class WorkerThread: @unchecked Sendable {
    // Safe to share: `result` is only touched under `lock`.
    let loop: WorkerLoop
    private let lock = NSLock()
    private var result: WorkerExit?

    init(_ loop: WorkerLoop) {
        self.loop = loop
        let thread = Thread { [self] in
            let exit = loop.run()
            lock.withLock { result = exit }
        }
        thread.start()
    }

    /// The loop's exit reason, waiting at most `timeout`.
    func exit(within timeout: Duration = .seconds(3)) -> WorkerExit? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let result = lock.withLock({ result }) { return result }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return lock.withLock { result }
    }
}

let testHash = "0123456789abcdef"

func testConfig(_ endpoint: String, heartbeatMs: Int = 50, exitOnLoss: Bool = true,
                datasets: [DatasetOffer] = [DatasetOffer(name: "synthetic/seed=1/count=300", hash: testHash)])
    -> WorkerConfig {
    WorkerConfig(endpoint: endpoint, name: "test/1", heartbeatInterval: .milliseconds(heartbeatMs),
                 reconnectInitial: .milliseconds(100), resultResend: .milliseconds(300),
                 exitOnCoordinatorLoss: exitOnLoss, version: "0.1.0 (test)", buildCPU: "x86-64",
                 cpuFeatures: ["avx2"], datasets: datasets, log: { _ in })
}

/// A worker connected to `coordinator` and welcomed (heartbeats every `heartbeatMs`) to `grid`, by
/// default one of trivial jobs of `millis` ms.
func startWorker(_ coordinator: FakeCoordinator, runner: any JobRunner = TrivialJobRunner(),
                 heartbeatMs: Int = 50, exitOnLoss: Bool = true, millis: Int = 300, grid: GridSpec? = nil,
                 datasets: [DatasetOffer]? = nil) throws -> (WorkerThread, Ready) {
    var config = testConfig(coordinator.endpoint, heartbeatMs: heartbeatMs, exitOnLoss: exitOnLoss)
    if let datasets { config.datasets = datasets }
    let (worker, ready) = try readyWorker(coordinator, runner: runner, config: config)
    try coordinator.send(.welcome(Welcome(coordinator: "c0ffee01", grid: grid ?? trivialGrid(millis: millis),
                                          heartbeat: .milliseconds(heartbeatMs), liveness: 3)))
    return (worker, ready)
}

/// A worker connected to `coordinator` that has said READY and is not welcomed yet.
func readyWorker(_ coordinator: FakeCoordinator, runner: any JobRunner = TrivialJobRunner(),
                 config: WorkerConfig? = nil) throws -> (WorkerThread, Ready) {
    let worker = WorkerThread(try WorkerLoop(config: config ?? testConfig(coordinator.endpoint), runner: runner))
    let ready = try #require(try coordinator.receive { if case .ready(let r) = $0 { r } else { nil } })
    return (worker, ready)
}

/// One cell (η 0.05, |B| 32) of trivial jobs of `millis` ms, two seeds.
func trivialGrid(millis: Int = 300) -> GridSpec {
    GridSpec(model: .lenet48, learningRates: [0.05], batchSizes: [32], seeds: 2, jobKind: .trivial,
             dataset: .synthetic(seed: 1, count: 300), trivialMillis: millis).normalized
}

/// The JOB of seed 1's trivial job of `trivialGrid`.
func trivialLease(id: Int = 1, attempt: Int = 1) -> JobLease {
    JobLease(jobId: id, attempt: attempt, kind: .trivial, key: "trivial/lr=0.05/b=32/seed=1", expectedCost: 0,
             seedIndex: 1, learningRate: 0.05, batchSize: 32, momentum: 0, batchMode: .iid)
}

/// The same job as a worker runs it, in a grid of `millis` ms.
func trivialJob(id: Int = 1, attempt: Int = 1, millis: Int = 300) throws -> Job {
    try Job(trivialLease(id: id, attempt: attempt), in: trivialGrid(millis: millis))
}

func result(_ message: Message) -> JobResult? {
    if case .result(let r) = message { r } else { nil }
}
