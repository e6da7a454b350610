import Cell
// The JOB and RESULT bodies: the two commands with attachments. The Swift values hold the
// attachment bytes; the JSON bodies hold their lengths and CRC-32s, which the decoder checks.

/// JOB, coordinator → worker: a lease on one attempt of one job.
public struct Job: Codable, Sendable, Equatable, MessageBody {
    public var jobId: Int
    public var attempt: Int
    public var kind: JobKind
    /// Human-readable job key, e.g. `cell/lr=0.05/b=32/seed=1`.
    public var key: String
    /// Samples the job trains (≈ |B| × steps): for progress and ETA.
    public var expectedCost: Int
    public var spec: JobSpec
    /// Length and hash of the checkpoint attachment (measure jobs only).
    public private(set) var checkpointBytes: Int?
    public private(set) var checkpointHash: String?
    /// The seed's warm-start checkpoint (Trainer's `Checkpoint.encoded()` bytes), measure jobs only.
    public private(set) var checkpoint: [UInt8]?

    public init(jobId: Int, attempt: Int, kind: JobKind, key: String, expectedCost: Int, spec: JobSpec,
                checkpoint: [UInt8]? = nil) {
        self.jobId = jobId
        self.attempt = attempt
        self.kind = kind
        self.key = key
        self.expectedCost = expectedCost
        self.spec = spec
        self.checkpoint = checkpoint
        checkpointBytes = checkpoint?.count
        checkpointHash = checkpoint.map(AttachmentChecksum.hex)
    }

    enum CodingKeys: String, CodingKey {
        case jobId, attempt, kind, key, expectedCost, spec, checkpointBytes, checkpointHash
    }

    var attachmentCount: Int { kind == .measure ? 1 : 0 }

    func validate() throws {
        try JobRef(jobId: jobId, attempt: attempt).validate()
        try Check.string(key, "key")
        try Check.int(expectedCost, "expectedCost", 0...maxCount)
        try spec.validate(kind: kind)
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

extension Job: JSONWritable {
    /// The synthesized `Encodable`'s bytes, keys in order (see `JSONWriter`).
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("attempt", attempt)
        json.field("checkpointBytes", checkpointBytes)
        json.field("checkpointHash", checkpointHash)
        json.field("expectedCost", expectedCost)
        json.field("jobId", jobId)
        json.field("key", key)
        json.field("kind", kind)
        json.field("spec", spec)
        json.endObject()
    }
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

    enum CodingKeys: String, CodingKey {
        case jobId, attempt, kind, outcome, wallSeconds, errorKind, message, resultBytes, resultHash,
             checkpointBytes, checkpointHash
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
