import Cell
// The JOB and RESULT bodies: the two commands with attachments. The Swift values hold the
// attachment bytes; the JSON bodies hold their lengths and CRC-32s, which the decoder checks.

/// JOB, coordinator → worker: a lease on one attempt of one job. It names the job's cell in the
/// grid that WELCOME gave (its η, |B|, m, batch mode and seed index), not its spec: the worker
/// derives the spec from the grid with the function the coordinator's job list uses
/// (`GridSpec.spec`), so the two cannot differ, and a JOB is a dozen numbers instead of a cell
/// contract read field by field for every job.
public struct JobLease: Codable, Sendable, Equatable, MessageBody {
    public var jobId: Int
    public var attempt: Int
    public var kind: JobKind
    /// Human-readable job key, e.g. `cell/lr=0.05/b=32/seed=1`.
    public var key: String
    /// Samples the job trains (≈ |B| × steps): for progress and ETA.
    public var expectedCost: Int
    /// The cell: seed index (1-based), η and |B|; m and batch mode only where the job's cell has
    /// its own (a warm start's are the grid's).
    public var seedIndex: Int
    public var learningRate: Double
    public var batchSize: Int
    public var momentum: Double?
    public var batchMode: BatchMode?
    /// Length and hash of the checkpoint attachment (measure jobs only).
    public private(set) var checkpointBytes: Int?
    public private(set) var checkpointHash: String?
    /// The seed's warm-start checkpoint (Trainer's `Checkpoint.encoded()` bytes), measure jobs only.
    public private(set) var checkpoint: [UInt8]?

    public init(jobId: Int, attempt: Int, kind: JobKind, key: String, expectedCost: Int, seedIndex: Int,
                learningRate: Double, batchSize: Int, momentum: Double? = nil, batchMode: BatchMode? = nil,
                checkpoint: [UInt8]? = nil) {
        (self.jobId, self.attempt, self.kind, self.key, self.expectedCost) = (jobId, attempt, kind, key, expectedCost)
        (self.seedIndex, self.learningRate, self.batchSize) = (seedIndex, learningRate, batchSize)
        (self.momentum, self.batchMode) = (momentum, batchMode)
        self.checkpoint = checkpoint
        checkpointBytes = checkpoint?.count
        checkpointHash = checkpoint.map(AttachmentChecksum.hex)
    }

    /// The lease on attempt `attempt` of `job`.
    public init(_ job: JobDescriptor, attempt: Int, checkpoint: [UInt8]? = nil) {
        let cell = job.cell
        self.init(jobId: job.id, attempt: attempt, kind: job.kind, key: job.key, expectedCost: job.cost,
                  seedIndex: job.seedIndex, learningRate: cell.learningRate, batchSize: cell.batchSize,
                  momentum: cell.momentum, batchMode: cell.batchMode, checkpoint: checkpoint)
    }

    public var ref: JobRef { JobRef(jobId: jobId, attempt: attempt) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case jobId, attempt, kind, key, expectedCost, seedIndex, learningRate, batchSize, momentum, batchMode,
             checkpointBytes, checkpointHash
    }

    private static let keys = CodingKeys.allCases.map(\.rawValue)

    /// As the strict `Decodable` reads it (`ObjectReader`).
    static func read(_ body: JSONValue) throws -> JobLease {
        let o = try ObjectReader(body, keys: keys)
        var lease = JobLease(jobId: try o.int("jobId"), attempt: try o.int("attempt"), kind: try o.value("kind"),
                             key: try o.string("key"), expectedCost: try o.int("expectedCost"),
                             seedIndex: try o.int("seedIndex"), learningRate: try o.double("learningRate"),
                             batchSize: try o.int("batchSize"), momentum: try o.double(ifPresent: "momentum"),
                             batchMode: try o.value(ifPresent: "batchMode"))
        lease.checkpointBytes = try o.int(ifPresent: "checkpointBytes")
        lease.checkpointHash = try o.string(ifPresent: "checkpointHash")
        return lease
    }

    var attachmentCount: Int { kind == .measure ? 1 : 0 }

    /// Ranges only: whether the cell is one of the grid's is for `Job.init(_:in:)`, which has the grid.
    func validate() throws {
        try JobRef(jobId: jobId, attempt: attempt).validate()
        try Check.string(key, "key")
        try Check.int(expectedCost, "expectedCost", 0...maxCount)
        try Check.int(seedIndex, "seedIndex", 1...GridLimits.maxJobs)
        try Check.require(CellLimits.accepts(.learningRate, learningRate), "learningRate",
                          "\(learningRate) is not a learning rate the cell contract accepts")
        try Check.require(CellLimits.accepts(.batchSize, batchSize), "batchSize",
                          "\(batchSize) is not a batch size the cell contract accepts")
        if let momentum {
            try Check.require(CellLimits.accepts(.momentum, momentum), "momentum",
                              "\(momentum) is not a momentum the cell contract accepts")
        }
        try validateAttachment(kind == .measure, bytes: checkpointBytes, hash: checkpointHash,
                               name: "checkpoint", limit: Wire.maxCheckpointSize, why: "measure jobs")
    }

    mutating func attach(_ frames: ArraySlice<[UInt8]>) throws {
        if kind == .measure, let frame = frames.first {
            try checkAttachment(frame, bytes: checkpointBytes, hash: checkpointHash, name: "checkpoint")
            checkpoint = frame
        }
    }

    var attachments: [[UInt8]] { checkpoint.map { [$0] } ?? [] }

    static let command = Command.job
}

extension JobLease: JSONWritable {
    /// The synthesized `Encodable`'s bytes, keys in order (see `JSONWriter`).
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("attempt", attempt)
        json.field("batchMode", batchMode)
        json.field("batchSize", batchSize)
        json.field("checkpointBytes", checkpointBytes)
        json.field("checkpointHash", checkpointHash)
        json.field("expectedCost", expectedCost)
        json.field("jobId", jobId)
        json.field("key", key)
        json.field("kind", kind)
        json.field("learningRate", learningRate)
        json.field("momentum", momentum)
        json.field("seedIndex", seedIndex)
        json.endObject()
    }
}

/// A JOB that names no job of the grid WELCOME gave: a coordinator bug or another build (both
/// ends run the same binary), answered `RESULT failed deterministic` with this text.
public struct JobLeaseError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// One attempt of one job, as a worker runs it: its lease and the spec its cell has in the grid.
public struct Job: Sendable, Equatable {
    public var jobId: Int
    public var attempt: Int
    public var kind: JobKind
    /// Human-readable job key, e.g. `cell/lr=0.05/b=32/seed=1`.
    public var key: String
    /// Samples the job trains (≈ |B| × steps): for progress and ETA.
    public var expectedCost: Int
    public var spec: JobSpec
    /// The seed's warm-start checkpoint, measure jobs only.
    public var checkpoint: [UInt8]?

    public init(jobId: Int, attempt: Int, kind: JobKind, key: String, expectedCost: Int, spec: JobSpec,
                checkpoint: [UInt8]? = nil) {
        (self.jobId, self.attempt, self.kind, self.key, self.expectedCost) = (jobId, attempt, kind, key, expectedCost)
        self.spec = spec
        self.checkpoint = checkpoint
    }

    /// The job `lease` names in `grid` (the one WELCOME gave), or why it names none.
    public init(_ lease: JobLease, in grid: GridSpec) throws(JobLeaseError) {
        func refuse(_ why: String) -> JobLeaseError {
            JobLeaseError(description: "JOB #\(lease.jobId) (\(lease.key)) \(why); the coordinator and this worker "
                              + "must run the same thermosweep binary")
        }
        let kinds: [JobKind] = grid.jobKind == .train ? [.warmStart, .measure] : [.trivial]
        guard kinds.contains(lease.kind) else {
            throw refuse("is a \(lease.kind.rawValue) job; this grid's jobs are \(kinds.map(\.rawValue).joined(separator: " and "))")
        }
        guard (1...max(grid.seeds, 1)).contains(lease.seedIndex) else {
            throw refuse("names seed index \(lease.seedIndex); the grid has \(grid.seeds) seeds")
        }
        guard grid.learningRates.contains(lease.learningRate) else {
            throw refuse("names η = \(lease.learningRate), which is not on the grid's η axis")
        }
        guard grid.batchSizes.contains(lease.batchSize) else {
            throw refuse("names |B| = \(lease.batchSize), which is not on the grid's |B| axis")
        }
        if let m = lease.momentum, !grid.momentumValues.contains(m) {
            throw refuse("names momentum \(m), which is not on the grid's momentum axis")
        }
        if let mode = lease.batchMode, !grid.batchModeValues.contains(mode) {
            throw refuse("names batch mode \(mode.rawValue), which is not on the grid's batch-mode axis")
        }
        self.init(jobId: lease.jobId, attempt: lease.attempt, kind: lease.kind, key: lease.key,
                  expectedCost: lease.expectedCost,
                  spec: grid.spec(kind: lease.kind, seedIndex: lease.seedIndex, learningRate: lease.learningRate,
                                  batchSize: lease.batchSize, momentum: lease.momentum, batchMode: lease.batchMode),
                  checkpoint: lease.checkpoint)
    }

    public var ref: JobRef { JobRef(jobId: jobId, attempt: attempt) }
}

/// How a job ended on the worker.
public enum Outcome: String, Codable, Sendable, CaseIterable {
    case done
    case failed
}

extension Outcome: JSONWritable {}

/// Whether a failure would happen again.
public enum FailureKind: String, Codable, Sendable, CaseIterable {
    /// Would fail again with the same spec (diverged training, data-set hash mismatch, bad spec):
    /// a result; the job is not retried.
    case deterministic
    /// Might succeed on another attempt (out of memory, I/O error): re-queued with attempt + 1.
    case transient
}

extension FailureKind: JSONWritable {}

/// RESULT, worker → coordinator: the end of one attempt. Re-sent until ACK.
public struct JobResult: Codable, Sendable, Equatable, MessageBody {
    public var jobId: Int
    public var attempt: Int
    public var kind: JobKind
    public var outcome: Outcome
    public var wallSeconds: Double
    /// Failed only: whether to retry, and why.
    public var errorKind: FailureKind?
    public var message: String?
    public private(set) var resultBytes: Int?
    public private(set) var resultHash: String?
    public private(set) var checkpointBytes: Int?
    public private(set) var checkpointHash: String?
    /// Done only: the result record (JSON object with `format`; `CellResult` for measure jobs).
    public private(set) var result: [UInt8]?
    /// Done warm-start jobs only: the trained checkpoint.
    public private(set) var checkpoint: [UInt8]?

    /// A finished attempt: `result` is the JSON record, `checkpoint` the warm start's checkpoint.
    public static func done(jobId: Int, attempt: Int, kind: JobKind, wallSeconds: Double, result: [UInt8],
                            checkpoint: [UInt8]? = nil) -> JobResult {
        var value = JobResult(jobId: jobId, attempt: attempt, kind: kind, outcome: .done, wallSeconds: wallSeconds)
        value.result = result
        value.resultBytes = result.count
        value.resultHash = AttachmentChecksum.hex(result)
        value.checkpoint = checkpoint
        value.checkpointBytes = checkpoint?.count
        value.checkpointHash = checkpoint.map(AttachmentChecksum.hex)
        return value
    }

    /// A failed attempt.
    public static func failed(jobId: Int, attempt: Int, kind: JobKind, wallSeconds: Double,
                              errorKind: FailureKind, message: String) -> JobResult {
        var value = JobResult(jobId: jobId, attempt: attempt, kind: kind, outcome: .failed, wallSeconds: wallSeconds)
        value.errorKind = errorKind
        value.message = Wire.messageText(message)
        return value
    }

    public var ref: JobRef { JobRef(jobId: jobId, attempt: attempt) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case jobId, attempt, kind, outcome, wallSeconds, errorKind, message, resultBytes, resultHash,
             checkpointBytes, checkpointHash
    }

    private static let keys = CodingKeys.allCases.map(\.rawValue)

    /// As the strict `Decodable` reads it (`ObjectReader`).
    static func read(_ body: JSONValue) throws -> JobResult {
        let o = try ObjectReader(body, keys: keys)
        var value = JobResult(jobId: try o.int("jobId"), attempt: try o.int("attempt"), kind: try o.value("kind"),
                              outcome: try o.value("outcome"), wallSeconds: try o.double("wallSeconds"))
        value.errorKind = try o.value(ifPresent: "errorKind")
        value.message = try o.string(ifPresent: "message")
        value.resultBytes = try o.int(ifPresent: "resultBytes")
        value.resultHash = try o.string(ifPresent: "resultHash")
        value.checkpointBytes = try o.int(ifPresent: "checkpointBytes")
        value.checkpointHash = try o.string(ifPresent: "checkpointHash")
        return value
    }

    var attachmentCount: Int {
        outcome == .failed ? 0 : (kind == .warmStart ? 2 : 1)
    }

    func validate() throws {
        try JobRef(jobId: jobId, attempt: attempt).validate()
        try Check.double(wallSeconds, "wallSeconds", 0...1e9)
        let done = outcome == .done
        try Check.require(done == (errorKind == nil), "errorKind",
                          done ? "applies only to a failed result" : "is required for a failed result")
        if let message {
            try Check.require(!done, "message", "applies only to a failed result")
            try Check.string(message, "message", maxLength: Wire.maxMessageText)
        } else {
            try Check.require(done, "message", "is required for a failed result")
        }
        try validateAttachment(done, bytes: resultBytes, hash: resultHash, name: "result",
                               limit: Wire.maxResultSize, why: "done results")
        try validateAttachment(done && kind == .warmStart, bytes: checkpointBytes, hash: checkpointHash,
                               name: "checkpoint", limit: Wire.maxCheckpointSize, why: "done warm-start results")
        // Set when sending (a received body gets its record in `attach`, which checks it there).
        if let result { try checkResultRecord(result, kind: kind) }
    }

    mutating func attach(_ frames: ArraySlice<[UInt8]>) throws {
        guard outcome == .done, let first = frames.first else { return }
        try checkAttachment(first, bytes: resultBytes, hash: resultHash, name: "result")
        try checkResultRecord(first, kind: kind)
        result = first
        if kind == .warmStart, let second = frames.dropFirst().first {
            try checkAttachment(second, bytes: checkpointBytes, hash: checkpointHash, name: "checkpoint")
            checkpoint = second
        }
    }

    var attachments: [[UInt8]] { [result, checkpoint].compactMap { $0 } }

    static let command = Command.result
}

extension JobResult: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("attempt", attempt)
        json.field("checkpointBytes", checkpointBytes)
        json.field("checkpointHash", checkpointHash)
        json.field("errorKind", errorKind)
        json.field("jobId", jobId)
        json.field("kind", kind)
        json.field("message", message)
        json.field("outcome", outcome)
        json.field("resultBytes", resultBytes)
        json.field("resultHash", resultHash)
        json.field("wallSeconds", wallSeconds)
        json.endObject()
    }
}

/// The declared length and hash of an attachment: both present exactly when `required`.
private func validateAttachment(_ required: Bool, bytes: Int?, hash: String?, name: String, limit: Int,
                                why: String) throws {
    if required {
        guard let bytes else { throw Check.fail(name + "Bytes", "is required for \(why)") }
        guard let hash else { throw Check.fail(name + "Hash", "is required for \(why)") }
        try Check.int(bytes, name + "Bytes", 0...limit)
        try Check.checksum(hash, name + "Hash")
    } else {
        try Check.require(bytes == nil, name + "Bytes", "applies only to \(why)")
        try Check.require(hash == nil, name + "Hash", "applies only to \(why)")
    }
}

/// Refuses an attachment frame whose length or hash differs from the body's declaration.
private func checkAttachment(_ frame: [UInt8], bytes: Int?, hash: String?, name: String) throws {
    guard frame.count == bytes else {
        throw FieldFailure(kind: .badAttachment, field: name + "Bytes",
                           detail: "the \(name) frame has \(frame.count) bytes, the body declares \(bytes ?? 0)")
    }
    let actual = AttachmentChecksum.hex(frame)
    guard actual == hash else {
        throw FieldFailure(kind: .badAttachment, field: name + "Hash",
                           detail: "the \(name) frame hashes to \(actual), the body declares \(hash ?? "none")")
    }
}
