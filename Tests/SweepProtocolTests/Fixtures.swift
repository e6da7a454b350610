import Cell
import Foundation
@testable import SweepProtocol

/// Sample messages of every command and every body variant, and helpers to build raw frames.
enum Fixtures {
    static let cellResult = Array(#"{"format":"thermosweep-cell/1","spec":{"seed":18446744073709551615},"train":{"accuracy":0.84}}"#.utf8)
    static let warmResult = Array(#"{"format":"thermosweep-warm/1","steps":5625}"#.utf8)
    static let trivialResult = Array(#"{"format":"thermosweep-trivial/1","value":0.25}"#.utf8)
    /// Stand-in for `Checkpoint.encoded()` bytes; the protocol treats them as opaque.
    static let checkpoint: [UInt8] = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    static let grid = GridSpec(datasetHash: "0123456789abcdef")

    static func spec(_ kind: JobKind) -> JobSpec {
        grid.spec(kind: kind, seedIndex: 2, learningRate: 0.05, batchSize: 32)
    }

    static let ready = Ready(name: "node-3/2", host: "node-3", pid: 4242, nonce: "9f3a11c0", cores: 2,
                             cpuFeatures: ["avx512f", "fma"], buildCPU: "skylake-avx512", version: "0.4.0 (abc123)",
                             datasets: [DatasetOffer(name: "fashion-mnist", hash: "0123456789abcdef")], slots: 1,
                             running: [JobRef(jobId: 7, attempt: 2)])

    static let measureJob = JobLease(jobId: 17, attempt: 1, kind: .measure, key: "cell/lr=0.05/b=32/seed=2",
                                     expectedCost: 34_048, seedIndex: 2, learningRate: 0.05, batchSize: 32, momentum: 0,
                                     batchMode: .iid, checkpoint: checkpoint)
    static let warmJob = JobLease(jobId: 2, attempt: 3, kind: .warmStart, key: "warm/seed=2", expectedCost: 180_000,
                                  seedIndex: 2, learningRate: 0.05, batchSize: 32)
    static let trivialJob = JobLease(jobId: 5, attempt: 1, kind: .trivial, key: "trivial/lr=0.05/b=32/seed=2",
                                     expectedCost: 100, seedIndex: 2, learningRate: 0.05, batchSize: 32, momentum: 0,
                                     batchMode: .iid)

    static let heartbeat = Heartbeat(jobs: [JobProgress(jobId: 17, attempt: 1, step: 250, totalSteps: 1_000),
                                            JobProgress(jobId: 18, attempt: 2, step: 0, totalSteps: 0)])

    static var all: [Message] {
        [
            .ready(ready),
            .ready(Ready(name: "w", host: "h", pid: 1, nonce: "00000000", cores: 1, cpuFeatures: [], buildCPU: "x86-64",
                         version: "1", datasets: [], slots: 1)),
            .welcome(Welcome(coordinator: "c0ffee00", grid: grid.normalized)),
            .refuse(.versionMismatch(worker: "0.3.0", coordinator: "0.4.0")),
            .refuse(.datasetMismatch(offered: ready.datasets, needed: DatasetOffer(name: "fashion-mnist", hash: "ffffffffffffffff"))),
            .heartbeat(heartbeat),
            .heartbeat(Heartbeat()),
            .job(measureJob),
            .job(warmJob),
            .job(trivialJob),
            .result(.done(jobId: 17, attempt: 1, kind: .measure, wallSeconds: 12.5, result: cellResult)),
            .result(.done(jobId: 2, attempt: 3, kind: .warmStart, wallSeconds: 40, result: warmResult, checkpoint: checkpoint)),
            .result(.done(jobId: 5, attempt: 1, kind: .trivial, wallSeconds: 0.2, result: trivialResult)),
            .result(.failed(jobId: 17, attempt: 1, kind: .measure, wallSeconds: 3, errorKind: .deterministic,
                            message: "diverged: loss NaN at step 12")),
            .result(.failed(jobId: 2, attempt: 1, kind: .warmStart, wallSeconds: 0, errorKind: .transient, message: "out of memory")),
            .ack(JobRef(jobId: 17, attempt: 1)),
            .cancel(Cancel(jobId: 17, attempt: 1, reason: .expired)),
            .status(StatusRequest()),
            .statusReply(StatusReply(specHash: "0123456789abcdef",
                                     counts: StatusCounts(total: 78, done: 40, failed: 1, running: 2, queued: 35),
                                     workers: [WorkerStatus(name: "node-3/2", jobs: [17, 18])], uptimeSeconds: 12.25)),
            .error(ErrorReply(code: .unknownPeer, message: "send READY first")),
            .bye(Bye(reason: "")),
            .bye(Bye(reason: "SIGTERM")),
        ]
    }

    static func frames(_ command: String, _ body: String, _ attachments: [[UInt8]] = []) -> [[UInt8]] {
        [Array("TSW6".utf8), Array(command.utf8), Array(body.utf8)] + attachments
    }

    /// The body of `message` as a JSON dictionary.
    static func bodyObject(_ message: Message) throws -> [String: Any] {
        let frames = try message.encode()
        return try JSONSerialization.jsonObject(with: Data(frames[2])) as? [String: Any] ?? [:]
    }

    /// `message`'s frames with the body replaced by `object` (re-serialized).
    static func withBody(_ message: Message, _ object: Any) throws -> [[UInt8]] {
        var frames = try message.encode()
        frames[2] = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]))
        return frames
    }

    /// The error the decoder gives, or nil if it accepted.
    static func refusal(_ frames: [[UInt8]]) -> ProtocolError? {
        do {
            _ = try Message.decode(frames)
            return nil
        } catch {
            return error
        }
    }
}

