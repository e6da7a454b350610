// JSON bodies (frame 2) of every command (PROTOCOL.md, "Commands"). Each decodes strictly (no
// unknown or duplicate keys) and has a `validate()` that both the decoder and the encoder run.
import Cell

/// Largest job id and attempt number accepted on the wire.
let maxJobID = 10_000_000
let maxAttempt = 1_000
/// Largest step counter or cost (samples) accepted: far above any real job, far below overflow.
let maxCount = 1 << 50

/// A lease's identity: which job, which attempt. The ACK body; also listed in READY.
public struct JobRef: Codable, Sendable, Hashable, MessageBody {
    public var jobId: Int
    public var attempt: Int

    public init(jobId: Int, attempt: Int) {
        (self.jobId, self.attempt) = (jobId, attempt)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case jobId, attempt
    }

    private static let keys = CodingKeys.allCases.map(\.rawValue)

    /// As the strict `Decodable` reads it (`ObjectReader`).
    static func read(_ body: JSONValue) throws -> JobRef {
        let o = try ObjectReader(body, keys: keys)
        return JobRef(jobId: try o.int("jobId"), attempt: try o.int("attempt"))
    }

    func validate() throws { try validate("") }

    func validate(_ prefix: @autoclosure () -> String) throws {
        try Check.int(jobId, prefix() + "jobId", 1...maxJobID)
        try Check.int(attempt, prefix() + "attempt", 1...maxAttempt)
    }

    static let command = Command.ack
}

extension JobRef: JSONWritable {
    /// The synthesized `Encodable`'s bytes, keys in order (see `JSONWriter`).
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("attempt", attempt)
        json.field("jobId", jobId)
        json.endObject()
    }
}

/// A data set a worker has loaded: its canonical name and content hash.
public struct DatasetOffer: Codable, Sendable, Hashable {
    /// `fashion-mnist` or `synthetic/seed=1/count=12000` (`DatasetSelection.name`).
    public var name: String
    /// Trainer's `contentHash` of the training set (16 hex digits).
    public var hash: String

    public init(name: String, hash: String) {
        self.name = name
        self.hash = hash
    }

    func validate(_ prefix: @autoclosure () -> String) throws {
        try Check.string(name, prefix() + "name")
        try Check.hash(hash, prefix() + "hash")
    }
}

/// READY, worker → coordinator: who the worker is and what it can run.
public struct Ready: Codable, Sendable, Equatable, MessageBody {
    /// Display name, e.g. `node-3/2` (host and local index).
    public var name: String
    public var host: String
    public var pid: Int
    /// Per-process random nonce (8 hex digits), also part of the routing id.
    public var nonce: String
    public var cores: Int
    /// CPU features the machine has (`avx512f`, `fma`, …).
    public var cpuFeatures: [String]
    /// The CPU the binary was compiled for (`skylake-avx512`).
    public var buildCPU: String
    /// Binary version, compared for equality with the coordinator's.
    public var version: String
    public var datasets: [DatasetOffer]
    /// Jobs it runs at once.
    public var slots: Int
    /// Leases the worker still holds (running, or result not yet ACKed), for re-adoption after a
    /// coordinator restart; empty on a first connect.
    public var running: [JobRef]

    public init(name: String, host: String, pid: Int, nonce: String, cores: Int, cpuFeatures: [String],
                buildCPU: String, version: String, datasets: [DatasetOffer], slots: Int, running: [JobRef] = []) {
        self.name = name
        self.host = host
        self.pid = pid
        self.nonce = nonce
        self.cores = cores
        self.cpuFeatures = cpuFeatures
        self.buildCPU = buildCPU
        self.version = version
        self.datasets = datasets
        self.slots = slots
        self.running = running
    }

    /// Why `name` cannot be a worker's display name (empty, too long, a control character), or
    /// nil: the check READY's `validate()` makes, for a command to run before it connects.
    public static func problem(withName name: String) -> String? {
        do { try Check.string(name, "name") } catch let failure as FieldFailure { return failure.detail } catch {
            return "\(error)"
        }
        return nil
    }

    func validate() throws {
        try Check.string(name, "name")
        try Check.string(host, "host")
        try Check.int(pid, "pid", 1...Int(Int32.max))
        try Check.string(nonce, "nonce", maxLength: 64)
        try Check.int(cores, "cores", 1...65_536)
        try Check.list(cpuFeatures.count, "cpuFeatures")
        for (i, feature) in cpuFeatures.enumerated() { try Check.string(feature, "cpuFeatures[\(i)]", maxLength: 64) }
        try Check.string(buildCPU, "buildCPU", maxLength: 64)
        try Check.string(version, "version")
        try Check.list(datasets.count, "datasets", max: 64)
        for (i, offer) in datasets.enumerated() { try offer.validate("datasets[\(i)].") }
        try Check.int(slots, "slots", 1...1_024)
        try Check.list(running.count, "running")
        for (i, ref) in running.enumerated() { try ref.validate("running[\(i)].") }
    }

    static let command = Command.ready
}

/// WELCOME, coordinator → worker: the worker is admitted; the timing in force.
public struct Welcome: Codable, Sendable, Equatable, MessageBody {
    /// The coordinator process's instance nonce; a new one after a restart.
    public var coordinator: String
    public var heartbeatMs: Int
    public var liveness: Int
    /// Minimum stall window; the coordinator applies max(this, stallStepFactor × median step time).
    public var stallWindowMs: Int
    public var stallStepFactor: Int
    /// The sweep's (normalized) grid: every JOB names a cell of it (`Job.init(_:in:)`). Checked
    /// whole by the worker when it arrives (`GridSpec.validate`), not by every WELCOME's encoder.
    public var grid: GridSpec

    public init(coordinator: String, grid: GridSpec, heartbeat: Duration = TimingDefaults.heartbeat,
                liveness: Int = TimingDefaults.liveness, stallWindow: Duration = TimingDefaults.stallWindowMinimum,
                stallStepFactor: Int = TimingDefaults.stallStepFactor) {
        self.coordinator = coordinator
        self.grid = grid
        heartbeatMs = Int(clamping: heartbeat.inMilliseconds)
        self.liveness = liveness
        stallWindowMs = Int(clamping: stallWindow.inMilliseconds)
        self.stallStepFactor = stallStepFactor
    }

    /// The heartbeat period in force.
    public var heartbeat: Duration { .milliseconds(heartbeatMs) }

    func validate() throws {
        try Check.string(coordinator, "coordinator", maxLength: 64)
        try Check.int(heartbeatMs, "heartbeatMs", 10...60_000)
        try Check.int(liveness, "liveness", 1...100)
        try Check.int(stallWindowMs, "stallWindowMs", 100...86_400_000)
        try Check.int(stallStepFactor, "stallStepFactor", 1...1_000)
        try Check.require(grid.format == FormatTag.grid, "grid.format", "is '\(grid.format)', not '\(FormatTag.grid)'")
    }

    static let command = Command.welcome
}

/// Why a worker was refused.
public enum RefuseReason: String, Codable, Sendable, CaseIterable {
    /// Binary version differs from the coordinator's.
    case version
    /// No offered data set has the sweep's content hash.
    case dataset
    /// The READY cannot be read (the message names the field): sending it again cannot help.
    case malformed
    /// The coordinator admits no more workers (`SchedulerConfig.maxWorkers`).
    case full
}

/// REFUSE, coordinator → worker: not admitted; the message names both sides' values.
public struct Refuse: Codable, Sendable, Equatable, MessageBody {
    public var reason: RefuseReason
    public var message: String

    public init(reason: RefuseReason, message: String) {
        self.reason = reason
        self.message = Wire.messageText(message)
    }

    /// The refusal of a worker built from another version, naming both versions.
    public static func versionMismatch(worker: String, coordinator: String) -> Refuse {
        Refuse(reason: .version,
               message: "worker version \(worker) differs from coordinator version \(coordinator); "
                   + "run the same thermosweep binary on every node")
    }

    /// The refusal of a worker that serves none of the sweep's data.
    public static func datasetMismatch(offered: [DatasetOffer], needed: DatasetOffer) -> Refuse {
        let list = offered.isEmpty ? "no data set" : offered.map { "\($0.name) \($0.hash)" }.joined(separator: ", ")
        return Refuse(reason: .dataset,
                      message: "worker serves \(list) but the sweep needs \(needed.name) \(needed.hash); "
                          + "start the worker with the sweep's data files")
    }

    /// The refusal of a READY that cannot be read, naming why.
    public static func malformed(_ error: ProtocolError) -> Refuse {
        Refuse(reason: .malformed, message: "READY refused: \(error.description)")
    }

    /// The refusal of a worker beyond the coordinator's limit.
    public static func full(limit: Int) -> Refuse {
        Refuse(reason: .full, message: "this coordinator admits at most \(limit) workers at once and has that many; "
                   + "give this worker more slots (--jobs) instead, or run it when others have left")
    }

    func validate() throws {
        try Check.string(message, "message", maxLength: Wire.maxMessageText)
    }

    static let command = Command.refuse
}

/// Progress of one running job in a HEARTBEAT.
public struct JobProgress: Codable, Sendable, Hashable {
    public var jobId: Int
    public var attempt: Int
    /// Steps done so far over all phases of the job.
    public var step: Int
    public var totalSteps: Int

    public init(jobId: Int, attempt: Int, step: Int, totalSteps: Int) {
        self.jobId = jobId
        self.attempt = attempt
        self.step = step
        self.totalSteps = totalSteps
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case jobId, attempt, step, totalSteps
    }

    private static let keys = CodingKeys.allCases.map(\.rawValue)

    /// As the strict `Decodable` reads it (`ObjectReader`), at `path` (`jobs[2]`).
    static func read(_ value: JSONValue, path: ObjectPath) throws -> JobProgress {
        let o = try ObjectReader(value, path: path, keys: keys)
        return JobProgress(jobId: try o.int("jobId"), attempt: try o.int("attempt"), step: try o.int("step"),
                           totalSteps: try o.int("totalSteps"))
    }

    func validate(_ prefix: @autoclosure () -> String) throws {
        try JobRef(jobId: jobId, attempt: attempt).validate(prefix())
        try Check.int(totalSteps, prefix() + "totalSteps", 0...maxCount)
        try Check.int(step, prefix() + "step", 0...totalSteps)
    }
}

extension JobProgress: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("attempt", attempt)
        json.field("jobId", jobId)
        json.field("step", step)
        json.field("totalSteps", totalSteps)
        json.endObject()
    }
}

/// HEARTBEAT, both ways: the worker lists its running jobs; the coordinator sends none.
public struct Heartbeat: Codable, Sendable, Equatable, MessageBody {
    public var jobs: [JobProgress]

    public init(jobs: [JobProgress] = []) { self.jobs = jobs }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case jobs
    }

    private static let keys = CodingKeys.allCases.map(\.rawValue)

    /// As the strict `Decodable` reads it (`ObjectReader`).
    static func read(_ body: JSONValue) throws -> Heartbeat {
        Heartbeat(jobs: try ObjectReader(body, keys: keys).objects("jobs", JobProgress.read))
    }

    func validate() throws {
        try Check.list(jobs.count, "jobs", max: 1_024)
        var seen = Set<Int>()
        for (i, job) in jobs.enumerated() {
            try job.validate("jobs[\(i)].")
            try Check.require(seen.insert(job.jobId).inserted, "jobs[\(i)].jobId", "job \(job.jobId) is listed twice")
        }
    }

    static let command = Command.heartbeat
}

extension Heartbeat: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("jobs", jobs)
        json.endObject()
    }
}

/// Why a lease was withdrawn.
public enum CancelReason: String, Codable, Sendable, CaseIterable {
    /// The lease expired (lost or stalled); the job went back to the queue.
    case expired
    /// Another attempt already completed the job.
    case completed
    /// The sweep is over.
    case finished
}

extension CancelReason: JSONWritable {}

/// CANCEL, coordinator → worker: stop this attempt and drop its result.
public struct Cancel: Codable, Sendable, Equatable, MessageBody {
    public var jobId: Int
    public var attempt: Int
    public var reason: CancelReason

    public init(jobId: Int, attempt: Int, reason: CancelReason) {
        self.jobId = jobId
        self.attempt = attempt
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case jobId, attempt, reason
    }

    private static let keys = CodingKeys.allCases.map(\.rawValue)

    /// As the strict `Decodable` reads it (`ObjectReader`).
    static func read(_ body: JSONValue) throws -> Cancel {
        let o = try ObjectReader(body, keys: keys)
        return Cancel(jobId: try o.int("jobId"), attempt: try o.int("attempt"), reason: try o.value("reason"))
    }

    func validate() throws { try JobRef(jobId: jobId, attempt: attempt).validate() }

    static let command = Command.cancel
}

extension Cancel: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("attempt", attempt)
        json.field("jobId", jobId)
        json.field("reason", reason)
        json.endObject()
    }
}

/// One worker in a STATUS-REPLY.
public struct WorkerStatus: Codable, Sendable, Equatable {
    public var name: String
    /// Ids of the jobs it holds.
    public var jobs: [Int]
    /// The step counter of each job in `jobs` (same order), from the worker's last heartbeat.
    public var steps: [Int]

    public init(name: String, jobs: [Int], steps: [Int]? = nil) {
        self.name = name
        self.jobs = jobs
        self.steps = steps ?? Array(repeating: 0, count: jobs.count)
    }

    func validate(_ prefix: @autoclosure () -> String) throws {
        try Check.string(name, prefix() + "name")
        try Check.list(jobs.count, prefix() + "jobs", max: 1_024)
        try Check.list(steps.count, prefix() + "steps", max: 1_024)
        if steps.count != jobs.count {
            throw FieldFailure(kind: .invalidValue, field: prefix() + "steps",
                               detail: "has \(steps.count) entries for \(jobs.count) jobs")
        }
        for (i, step) in steps.enumerated() { try Check.int(step, prefix() + "steps[\(i)]", 0...maxCount) }
        for (i, id) in jobs.enumerated() { try Check.int(id, prefix() + "jobs[\(i)]", 1...maxJobID) }
    }
}

/// How many of a sweep's jobs are in each state: what STATUS-REPLY carries and `status` shows.
public struct StatusCounts: Codable, Sendable, Equatable {
    public var total: Int
    public var done: Int
    public var failed: Int
    public var running: Int
    public var queued: Int

    public init(total: Int, done: Int, failed: Int, running: Int, queued: Int) {
        self.total = total
        self.done = done
        self.failed = failed
        self.running = running
        self.queued = queued
    }

    func validate() throws {
        try Check.int(total, "total", 0...maxJobID)
        try Check.int(done, "done", 0...total)
        try Check.int(failed, "failed", 0...total)
        try Check.int(running, "running", 0...total)
        try Check.int(queued, "queued", 0...total)
        try Check.require(done + failed + running + queued <= total, "total",
                          "done + failed + running + queued = \(done + failed + running + queued) exceeds total \(total)")
    }

    /// Encodes the counts and `fields` into one JSON object, the counts' keys beside the others.
    public func encode<Key: CodingKey>(to encoder: any Encoder, beside fields: KeyValuePairs<Key, any Encodable>) throws {
        try encode(to: encoder)
        var object = encoder.container(keyedBy: Key.self)
        for (key, value) in fields { try object.encode(value, forKey: key) }
    }
}

/// STATUS-REPLY, coordinator → status client: the sweep at a glance.
public struct StatusReply: Codable, Sendable, Equatable, MessageBody {
    public var specHash: String
    /// On the wire its fields stand beside the others, not in an object of their own.
    public var counts: StatusCounts
    public var workers: [WorkerStatus]
    public var uptimeSeconds: Double

    public init(specHash: String, counts: StatusCounts, workers: [WorkerStatus], uptimeSeconds: Double) {
        self.specHash = specHash
        self.counts = counts
        self.workers = workers
        self.uptimeSeconds = uptimeSeconds
    }

    // Every key of the flat body, so that the strict reader accepts the counts' keys too.
    private enum CodingKeys: String, CodingKey {
        case specHash, total, done, failed, running, queued, workers, uptimeSeconds
    }

    public init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int { try body.decode(Int.self, forKey: key) }
        specHash = try body.decode(String.self, forKey: .specHash)
        counts = StatusCounts(total: try count(.total), done: try count(.done), failed: try count(.failed),
                              running: try count(.running), queued: try count(.queued))
        workers = try body.decode([WorkerStatus].self, forKey: .workers)
        uptimeSeconds = try body.decode(Double.self, forKey: .uptimeSeconds)
    }

    public func encode(to encoder: any Encoder) throws {
        try counts.encode(to: encoder, beside: [CodingKeys.specHash: specHash, .workers: workers, .uptimeSeconds: uptimeSeconds])
    }

    func validate() throws {
        try Check.hash(specHash, "specHash")
        try counts.validate()
        try Check.list(workers.count, "workers")
        for (i, worker) in workers.enumerated() { try worker.validate("workers[\(i)].") }
        try Check.double(uptimeSeconds, "uptimeSeconds", 0...1e9)
    }

    static let command = Command.statusReply
}

/// Error codes of an ERROR reply.
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    /// The peer's message was refused by the decoder; the message says why.
    case malformed
    /// The coordinator does not know this peer (e.g. after a restart): send READY.
    case unknownPeer
    /// The job id is not part of this sweep.
    case unknownJob
    /// The (job, attempt) is not a lease this peer holds.
    case notLeased
}

/// ERROR, coordinator → peer: its traffic was refused.
public struct ErrorReply: Codable, Sendable, Equatable, MessageBody {
    public var code: ErrorCode
    public var message: String

    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = Wire.messageText(message)
    }

    func validate() throws { try Check.string(message, "message", maxLength: Wire.maxMessageText) }

    static let command = Command.error
}

/// BYE, either way: the worker leaves (its leases are released), or the sweep is over.
public struct Bye: Codable, Sendable, Equatable, MessageBody {
    public var reason: String

    public init(reason: String) { self.reason = Wire.messageText(reason) }

    func validate() throws { try Check.string(reason, "reason", maxLength: Wire.maxMessageText, allowEmpty: true) }

    static let command = Command.bye
}

/// STATUS, status client → coordinator: a request; the body is `{}`.
public struct StatusRequest: Codable, Sendable, Equatable, MessageBody {
    public init() {}

    public init(from decoder: any Decoder) throws {
        // Through the strict decoder: any key at all is refused.
        _ = try decoder.container(keyedBy: EmptyKeys.self)
    }

    public func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: EmptyKeys.self)
    }

    func validate() throws {}

    static let command = Command.status
}

/// The keys of an empty object: none.
enum EmptyKeys: CodingKey {}
