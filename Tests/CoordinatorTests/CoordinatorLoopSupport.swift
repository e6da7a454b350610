// In-process fixtures for the ROUTER loop: the loop on its own thread over a temp journal, and
// workers played by hand with DEALER sockets. Every wait is bounded.
import Coordinator
import Foundation
import Store
import SweepProtocol
import Testing
import ZeroMQ

/// A coordinator loop on a thread, with a journal in a fresh temp folder.
final class LoopFixture: @unchecked Sendable {
    static let version = "0.4.0 (loop-test)"

    let folder: URL
    let dbPath: String
    let spec: GridSpec
    let context: Context
    let logs = LockedBox<[String]>([])
    /// CPU time of the last loop's thread when it ended, in seconds (the ZeroMQ I/O thread apart).
    let loopCPUSeconds = LockedBox<Double>(0)
    private(set) var loop: CoordinatorLoop?
    private(set) var store: Store?
    private var finished: DispatchSemaphore?
    private let outcome = LockedBox<Result<CoordinatorLoopEnd, any Error>?>(nil)
    private var generation = 0

    /// A trivial grid of `lrs × batches × seeds` jobs.
    init(learningRates: [Double] = [0.0125, 0.025], batchSizes: [Int] = [8, 16], seeds: Int = 2) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-loop-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        dbPath = folder.appendingPathComponent("sweep.db").path
        spec = GridSpec(learningRates: learningRates, batchSizes: batchSizes, seeds: seeds, jobKind: .trivial,
                        dataset: .synthetic(), trivialMillis: 0)
        context = try Context()
    }

    static func config(heartbeatMs: Int64 = 100, graceMs: Int64 = 5_000) -> SchedulerConfig {
        var config = SchedulerConfig(version: version, dataset: nil, specHash: "00000000000000ff",
                                     coordinatorNonce: "c0ffee00")
        config.timing.heartbeat = .milliseconds(heartbeatMs)
        config.timing.readoptGrace = .milliseconds(graceMs)
        return config
    }

    /// Opens the journal and starts a loop on a thread; returns its endpoint.
    @discardableResult
    func start(config: SchedulerConfig = LoopFixture.config(), finishGrace: Duration = .milliseconds(100),
               finishQuiet: Duration = .milliseconds(50)) throws -> String {
        generation += 1
        let start = try CoordinatorStart.open(path: dbPath, spec: spec, config: config)
        var options = CoordinatorLoopOptions()
        options.zmtpHeartbeatInterval = .milliseconds(100)
        options.zmtpHeartbeatTimeout = .milliseconds(300)
        options.zmtpHeartbeatTTL = .milliseconds(300)
        options.finishGrace = finishGrace
        options.finishQuiet = finishQuiet
        let logs = self.logs
        let loop = try CoordinatorLoop(start: start, context: context,
                                       endpoint: "ipc://\(folder.path)/coord-\(generation).ipc",
                                       options: options, log: { line in logs.withLock { $0.append(line) } })
        self.loop = loop
        self.store = start.store
        let finished = DispatchSemaphore(value: 0)
        self.finished = finished
        outcome.withLock { $0 = nil }
        let outcome = self.outcome
        let loopCPU = self.loopCPUSeconds
        Thread {
            let result = Result { try loop.run() }
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            loopCPU.withLock { $0 = Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 }
            outcome.withLock { $0 = result }
            finished.signal()
        }.start()
        return loop.endpoint
    }

    /// Waits (bounded) for the loop to end and closes the journal; nil if it did not end in time.
    func waitForEnd(timeout: Double = 10) throws -> CoordinatorLoopEnd? {
        guard let finished, finished.wait(timeout: .now() + timeout) == .success else { return nil }
        self.finished = nil
        try store?.close()
        store = nil
        return try outcome.withLock { $0 }?.get()
    }

    /// Requests a stop and waits for it.
    func stop() throws -> CoordinatorLoopEnd? {
        loop?.stopFlag.request()
        return try waitForEnd()
    }

    func readOnly() throws -> Store { try Store.openReadOnly(path: dbPath) }

    func logContains(_ text: String) -> Bool { logs.withLock { $0.contains { $0.contains(text) } } }

    deinit {
        loop?.stopFlag.request()
        _ = finished?.wait(timeout: .now() + 5)
        try? store?.close()
        try? FileManager.default.removeItem(at: folder)
    }
}

/// A value shared between threads under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// A worker played by hand: a DEALER with a routing id.
final class HandWorker {
    let name: String
    let socket: Socket
    var lastBeat = ContinuousClock.now
    var held: [JobLease] = []
    var gotBye = false
    var slots = 1
    /// The rest of the last batch received, not handed out yet.
    var pending: [Message] = []

    init(_ fixture: LoopFixture, endpoint: String, name: String) throws {
        self.name = name
        socket = try Socket(fixture.context, .dealer)
        try socket.set(.routingID, Array("host/\(name)/0000abcd".utf8))
        try socket.set(.linger, .milliseconds(0))
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    func send(_ message: Message) throws { try socket.send(message.encode()) }

    func sendRaw(_ frames: [[UInt8]]) throws { try socket.send(frames) }

    func ready(slots: Int = 1, running: [JobRef] = []) throws {
        self.slots = slots
        try send(.ready(Ready(name: name, host: "host", pid: 100, nonce: "0000abcd", cores: 2,
                              cpuFeatures: ["avx512f"], buildCPU: "skylake-avx512", version: LoopFixture.version,
                              datasets: [], slots: slots, running: running)))
    }

    /// Sends READY and returns the JOB that follows the WELCOME; records an issue and returns nil
    /// when either does not come.
    func joinAndTakeJob() throws -> JobLease? {
        try ready()
        guard case .welcome = try expect() else { Issue.record("\(name): no WELCOME"); return nil }
        guard case .job(let job) = try expect() else { Issue.record("\(name): no JOB"); return nil }
        return job
    }

    /// Next message within `timeout`, or nil.
    func receive(timeout: Duration = .seconds(5)) throws -> Message? {
        if pending.isEmpty {
            guard try socket.poll(.readable, timeout: timeout).contains(.readable),
                  let frames = try socket.receive(dontWait: true) else { return nil }
            pending = try Message.decodeBatch(frames)
        }
        return pending.removeFirst()
    }

    /// The messages of the next ZeroMQ message that holds more than HEARTBEATs, heartbeats left
    /// out (nil after `timeout`): what the coordinator sent together.
    func receiveBatch(timeout: Duration = .seconds(5)) throws -> [Message]? {
        precondition(pending.isEmpty, "receiveBatch after receive split a batch")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try beatIfDue()
            guard try socket.poll(.readable, timeout: .milliseconds(20)).contains(.readable),
                  let frames = try socket.receive(dontWait: true) else { continue }
            let messages = try Message.decodeBatch(frames).filter { if case .heartbeat = $0 { false } else { true } }
            if !messages.isEmpty { return messages }
        }
        return nil
    }

    /// Next message that is not a HEARTBEAT within `timeout` (beating meanwhile), or nil.
    func expect(timeout: Duration = .seconds(5)) throws -> Message? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try beatIfDue()
            guard let message = try receive(timeout: .milliseconds(20)) else { continue }
            if case .heartbeat = message { continue }
            return message
        }
        return nil
    }

    func beatIfDue(every interval: Duration = .milliseconds(50)) throws {
        guard ContinuousClock.now - lastBeat >= interval else { return }
        lastBeat = ContinuousClock.now
        try send(.heartbeat(Heartbeat(jobs: held.map { JobProgress(jobId: $0.jobId, attempt: $0.attempt, step: 0,
                                                                   totalSteps: 1) })))
    }

    static let resultBytes = Array(#"{"format":"thermosweep-trivial/1"}"#.utf8)

    func result(for job: JobRef) -> JobResult {
        .done(jobId: job.jobId, attempt: job.attempt, kind: .trivial, wallSeconds: 0.001, result: Self.resultBytes)
    }
}

/// Serves `workers` until each got BYE or `timeout` passed: answers every JOB at once with a
/// done RESULT unless `answers` says no (then the job is held), beats while waiting.
/// Returns the jobs each worker finished, by name.
@discardableResult
func serve(_ workers: [HandWorker], timeout: Duration = .seconds(10),
           answers: (HandWorker, JobLease) -> Bool = { _, _ in true }) throws -> [String: [JobRef]] {
    var done: [String: [JobRef]] = [:]
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline && workers.contains(where: { !$0.gotBye }) {
        var idle = true
        for worker in workers where !worker.gotBye {
            try worker.beatIfDue()
            while let frames = try worker.socket.receive(dontWait: true) {
                idle = false
                for message in try Message.decodeBatch(frames) {
                    switch message {
                    case .job(let job):
                        if answers(worker, job) {
                            try worker.send(.result(worker.result(for: JobRef(jobId: job.jobId, attempt: job.attempt))))
                            done[worker.name, default: []].append(JobRef(jobId: job.jobId, attempt: job.attempt))
                        } else {
                            worker.held.append(job)
                        }
                    case .bye:
                        worker.gotBye = true
                    case .error(let error) where error.code == .unknownPeer:
                        // Declared lost while this thread was starved (a loaded machine): come back,
                        // as a real worker does.
                        try worker.ready(slots: worker.slots, running: worker.held.map { JobRef(jobId: $0.jobId, attempt: $0.attempt) })
                    default:
                        break
                    }
                }
            }
        }
        if idle { Thread.sleep(forTimeInterval: 0.002) }
    }
    return done
}
