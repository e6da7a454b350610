// Support for tests that talk TSW6 to a real coordinator process: a hand-played DEALER peer, a
// coordinator started with its endpoint file, database snapshots, and /proc readings (CPU time,
// peak memory) for the benchmarks.
import Foundation
import Session
import Store
import SweepProtocol
import Testing
import Worker
import ZeroMQ

/// The release the coordinator compares with every READY: the first word of `--version`
/// ("0.1.0 (built for CPU skylake-avx512)"; workers built for another CPU are admitted).
let binaryVersion: String = {
    let folder = NSTemporaryDirectory() + "thermosweep-version-\(getpid())"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    guard let process = try? Spawned(["--version"], outputPrefix: folder + "/version") else { return "?" }
    _ = process.wait(timeout: 30)
    return process.stdout.split(separator: " ").first.map(String.init) ?? "?"
}()

/// A coordinator process (`thermosweep sweep`) listening on loopback, with its endpoint.
struct SweepProcess {
    let process: Spawned
    let endpoint: String
    let db: String

    /// Starts `sweep --db <scratch>/sweep.sqlite --endpoint-file … arguments` and waits (bounded)
    /// for the endpoint.
    /// With `wrapper` (e.g. `["/usr/bin/time", "-v"]`) the binary runs under that command.
    init(_ arguments: [String], in scratch: Scratch, name: String = "sweep", wrapper: [String] = []) throws {
        db = scratch.file("\(name).sqlite")
        let endpointFile = scratch.file("\(name).endpoint")
        let command = ["sweep", "--db", db, "--endpoint-file", endpointFile] + arguments
        if let executable = wrapper.first {
            process = try Spawned(Array(wrapper.dropFirst()) + [Binary.path] + command, outputPrefix: scratch.file(name),
                                  executable: executable)
        } else {
            process = try Spawned(command, outputPrefix: scratch.file(name))
        }
        guard let found = SweepTests.endpoint(in: endpointFile, timeout: 60) else {
            process.kill9()
            throw SpawnError(description: "no endpoint from the coordinator within 60 s: \(process.stderr)")
        }
        endpoint = found
    }

    /// The coordinator's own pid: the child of the wrapper, if there is one.
    var coordinatorPid: pid_t? {
        guard process.arguments.first != "sweep" else { return process.pid }
        return children(of: process.pid).first
    }

    /// SIGKILL to the coordinator (and its wrapper), by pid.
    func kill9() {
        if let pid = coordinatorPid, pid != process.pid { kill(pid, SIGKILL) }
        process.kill9()
    }

    /// Lines of its standard error that contain `text`.
    func logLines(containing text: String) -> [Substring] {
        process.stderr.split(separator: "\n").filter { $0.contains(text) }
    }
}

/// A hand-played peer of the coordinator: one DEALER with its own routing id. Every wait is bounded.
final class RawPeer {
    /// The rest of the last batch received, not handed out yet.
    private var pending: [Message] = []
    let context: Context
    let socket: Socket
    let name: String
    let nonce: String

    /// Connects a DEALER with routing id `test/<pid>/<nonce>`.
    init(_ endpoint: String, name: String = "raw", nonce: String = Wire.nonce(),
         context: Context? = nil, configure: (Socket) throws -> Void = { _ in }) throws {
        self.context = try context ?? Context()
        self.name = name
        self.nonce = nonce
        socket = try Socket(self.context, .dealer)
        try socket.set(.routingID, Array(Wire.routingID(host: "test", pid: Int(getpid()), nonce: nonce).utf8))
        try socket.set(.linger, .milliseconds(0))
        try configure(socket)
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    /// The READY of this peer (the coordinator's version unless told otherwise).
    func ready(slots: Int = 1, version: String = binaryVersion, running: [JobRef] = []) -> Message {
        .ready(Ready(name: name, host: "test", pid: Int(getpid()), nonce: nonce, cores: 1, cpuFeatures: [],
                     buildCPU: "x86-64", version: version, datasets: [], slots: slots, running: running))
    }

    func send(_ message: Message) throws {
        #expect(try socket.send(message.encode(), dontWait: true), "\(message.command.rawValue) not queued")
    }

    /// Sends frames as they are (no encoding, no checks); false when they could not be queued.
    @discardableResult
    func sendRaw(_ frames: [[UInt8]]) throws -> Bool { try socket.send(frames, dontWait: true) }

    /// The next message's frames within `timeout`, or nil.
    func receiveFrames(within timeout: Duration = .seconds(5)) throws -> [[UInt8]]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let frames = try socket.receive(dontWait: true) { return frames }
            let left = deadline - ContinuousClock.now
            if left <= .zero { return nil }
            _ = try socket.poll(.readable, timeout: min(left, .milliseconds(50)))
        }
    }

    /// The first message within `timeout` that `match` accepts; others (HEARTBEATs, …) are skipped.
    /// The coordinator never sends what its own decoder would refuse, so decoding must succeed.
    func receive<T>(within timeout: Duration = .seconds(5), _ match: (Message) -> T?) throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if pending.isEmpty {
                guard let frames = try receiveFrames(within: deadline - ContinuousClock.now) else { return nil }
                pending = try Message.decodeBatch(frames)
            }
            if let value = match(pending.removeFirst()) { return value }
        }
        return nil
    }

    /// Drops every message waiting now.
    func drain() throws {
        pending = []
        while try socket.receive(dontWait: true) != nil {}
    }

    /// Asks for STATUS and returns the reply (nil if none within `timeout`).
    func status(within timeout: Duration = .seconds(5)) throws -> StatusReply? {
        try send(.status(StatusRequest()))
        return try receive(within: timeout) { if case .statusReply(let r) = $0 { r } else { nil } }
    }
}

// Matchers for `RawPeer.receive`.
func asWelcome(_ m: Message) -> Welcome? { if case .welcome(let w) = m { w } else { nil } }
func asJob(_ m: Message) -> JobLease? { if case .job(let j) = m { j } else { nil } }
func asAck(_ m: Message) -> JobRef? { if case .ack(let r) = m { r } else { nil } }
func asError(_ m: Message) -> ErrorReply? { if case .error(let e) = m { e } else { nil } }
func asRefuse(_ m: Message) -> Refuse? { if case .refuse(let r) = m { r } else { nil } }
func asBye(_ m: Message) -> Bye? { if case .bye(let b) = m { b } else { nil } }

/// A done RESULT for a trivial job.
func trivialResult(_ job: JobRef, wallSeconds: Double = 0.001) -> Message {
    let body = Array(#"{"format":"thermosweep-trivial/1","jobId":\#(job.jobId),"attempt":\#(job.attempt)}"#.utf8)
    return .result(.done(jobId: job.jobId, attempt: job.attempt, kind: .trivial, wallSeconds: wallSeconds, result: body))
}

/// Everything a sweep database holds about jobs, results and events: equal before and after
/// traffic that must not write.
struct DatabaseSnapshot: Equatable {
    let jobs: [JobRecord]
    let results: [ResultRecord]
    let events: [EventRecord]
    let workers: [WorkerRecord]

    init(_ db: String) throws {
        let store = try Store.openReadOnly(path: db)
        defer { try? store.close() }
        jobs = try store.jobs()
        results = try store.results()
        events = try store.events(limit: 1_000_000)
        workers = try store.workers()
    }
}

/// In-process workers (`WorkerLoop`, one thread each) sharing one ZeroMQ context.
final class WorkerFleet: @unchecked Sendable {
    // Safe to share: `exits` is only touched under `lock`; `loops` is immutable after init.
    let context: Context
    let loops: [WorkerLoop]
    private let lock = NSLock()
    private var exits: [Int: WorkerExit] = [:]

    /// `count` trivial workers named `fleet-<i>` (routing nonce = i in hex, so all are distinct).
    /// `liveness` holds until WELCOME replaces it: a long one lets the fleet wait for a coordinator
    /// that is not listening yet.
    init(count: Int, endpoint: String, slots: Int = 1, heartbeatMs: Int = Int(TimingDefaults.heartbeat.inMilliseconds),
         liveness: Int = TimingDefaults.liveness, ioThreads: Int = 2) throws {
        let context = try Context(ioThreads: ioThreads, maxSockets: max(1_024, count + 64))
        self.context = context
        let version = binaryVersion
        loops = try (0..<count).map { i in
            let hex = String(i, radix: 16)
            let config = WorkerConfig(endpoint: endpoint, name: "fleet-\(i)", slots: slots,
                                      heartbeatInterval: .milliseconds(heartbeatMs), liveness: liveness,
                                      exitOnCoordinatorLoss: true, version: version, buildCPU: "x86-64",
                                      datasets: [], host: "fleet", nonce: String(repeating: "0", count: 8 - hex.count) + hex,
                                      cores: 1, log: { _ in })
            return try WorkerLoop(config: config, runner: TrivialJobRunner(), context: context)
        }
    }

    /// `count` trivial workers that dial `ipc://…/sweep.ipc` in `scratch` before any coordinator
    /// listens there, started: all their READYs arrive together the moment one binds it (libzmq
    /// re-dials every 100 ms). Liveness 60 beats until WELCOME: the coordinator may take a while to
    /// start on a loaded machine.
    static func dialing(count: Int, in scratch: Scratch) throws -> (fleet: WorkerFleet, endpoint: String) {
        let endpoint = "ipc://" + scratch.file("sweep.ipc")
        let fleet = try WorkerFleet(count: count, endpoint: endpoint, liveness: 60)
        fleet.start()
        return (fleet, endpoint)
    }

    /// Starts every loop on a thread of its own.
    func start() {
        for (i, loop) in loops.enumerated() {
            let thread = Thread { [self] in
                let exit = loop.run()
                lock.withLock { exits[i] = exit }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Exit reasons so far, by worker index.
    var exited: [Int: WorkerExit] { lock.withLock { exits } }

    /// Waits up to `timeout` seconds for every loop to return; true if all did.
    func waitForExit(timeout: Double) -> Bool {
        eventually(timeout: timeout) { exited.count == loops.count }
    }

    /// Asks every loop to say BYE and return, and waits (bounded).
    func stop(timeout: Double = 30) {
        for loop in loops { loop.stop() }
        _ = waitForExit(timeout: timeout)
    }
}

// MARK: - /proc readings (Linux)

/// User + system CPU seconds of process `pid` so far (all its threads), or nil.
func cpuSeconds(_ pid: pid_t) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    // After the ")": state(0) ppid(1) … utime(11) stime(12), in clock ticks.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// A `VmHWM`/`VmRSS`-style line of /proc/<pid>/status in MB (10⁶ bytes), or nil.
func statusMegabytes(_ pid: pid_t, _ key: String) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        let parts = line.split(separator: " ")
        if parts.count >= 2, let kB = Double(parts[1]) { return kB * 1024 / 1e6 }
    }
    return nil
}

/// Pids of the processes whose parent is `parent` (zombies excluded).
func children(of parent: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, fields[0] != "Z", pid_t(fields[1]) == parent else { return nil }
        return pid
    }
}

/// What `/usr/bin/time -v` reported: peak resident memory (MB, 10⁶ bytes), CPU and wall seconds.
struct TimeReport {
    let maxResidentMB: Double
    let cpuSeconds: Double
    let wallSeconds: Double

    /// Parses the report at the end of `stderr`; nil if it is not there.
    init?(_ stderr: String) {
        func value(_ label: String) -> Substring? {
            stderr.split(separator: "\n").last { $0.contains(label) }?.split(separator: ":", maxSplits: 1).last
                .map { $0.drop { $0 == " " } }
        }
        guard let rss = value("Maximum resident set size (kbytes)").flatMap({ Double($0) }),
              let user = value("User time (seconds)").flatMap({ Double($0) }),
              let system = value("System time (seconds)").flatMap({ Double($0) }),
              let wallLine = stderr.split(separator: "\n").last(where: { $0.contains("Elapsed (wall clock) time") })
        else { return nil }
        // "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:12.34"
        let clock = wallLine.split(separator: " ").last.map(String.init) ?? ""
        let parts = clock.split(separator: ":").compactMap { Double($0) }
        maxResidentMB = rss * 1024 / 1e6
        cpuSeconds = user + system
        wallSeconds = parts.reduce(0) { $0 * 60 + $1 }
    }
}

/// The load averages (1, 5, 15 minutes).
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3)
        .joined(separator: " ")
}

/// The median of `values` (0 for none).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Seconds since `start`.
func elapsed(since start: ContinuousClock.Instant) -> Double {
    (ContinuousClock.now - start) / .seconds(1)
}
