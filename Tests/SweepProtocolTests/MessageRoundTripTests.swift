import Cell
import Foundation
import Testing
@testable import SweepProtocol

@Suite("Message round trips")
struct MessageRoundTripTests {
    @Test("every sample message decodes to itself, with identical bytes when re-encoded")
    func roundTrip() throws {
        let samples = Fixtures.all
        #expect(Set(samples.map(\.command)) == Set(Command.allCases))
        for message in samples {
            let frames = try message.encode()
            #expect(frames[0] == Array("TSW4".utf8))
            #expect(frames[1] == Array(message.command.rawValue.utf8))
            let decoded = try Message.decode(frames)
            #expect(decoded == message, "\(message.command)")
            #expect(try decoded.encode() == frames)
        }
    }

    /// CRC-32 as zlib (and Python's `zlib.crc32`) computes it: the check value of the CRC
    /// catalogue, the empty frame, one zero byte, and the trivial record as Python checksums it.
    @Test func attachmentChecksumsAreZlibsCRC32() {
        #expect(AttachmentChecksum.hex(Array("123456789".utf8)) == "cbf43926")
        #expect(AttachmentChecksum.hex([]) == "00000000")
        #expect(AttachmentChecksum.hex([0]) == "d202ef8d")
        // zlib.crc32(b'{"format":"thermosweep-trivial/1"}')
        #expect(AttachmentChecksum.hex(Array(#"{"format":"thermosweep-trivial/1"}"#.utf8)) == "de746049")
    }

    @Test("attachments travel as their own frames, declared in the body by length and hash")
    func attachments() throws {
        let job = try Message.job(Fixtures.measureJob).encode()
        #expect(job.count == 4)
        #expect(job[3] == Fixtures.checkpoint)
        let body = try Fixtures.bodyObject(.job(Fixtures.measureJob))
        #expect(body["checkpointBytes"] as? Int == Fixtures.checkpoint.count)
        #expect(body["checkpointHash"] as? String == AttachmentChecksum.hex(Fixtures.checkpoint))
        #expect(try Message.job(Fixtures.warmJob).encode().count == 3)
        let warm = JobResult.done(jobId: 2, attempt: 3, kind: .warmStart, wallSeconds: 1, result: Fixtures.warmResult,
                                  checkpoint: Fixtures.checkpoint)
        let frames = try Message.result(warm).encode()
        #expect(frames.count == 5)
        #expect(frames[3] == Fixtures.warmResult && frames[4] == Fixtures.checkpoint)
        guard case .result(let decoded) = try Message.decode(frames) else {
            Issue.record("not a result")
            return
        }
        #expect(decoded.result == Fixtures.warmResult && decoded.checkpoint == Fixtures.checkpoint)
        #expect(decoded.ref == JobRef(jobId: 2, attempt: 3))
    }

    @Test("large UInt64 seeds and an empty checkpoint survive")
    func edgeValues() throws {
        var spec = Fixtures.spec(.measure)
        spec.cell?.seed = UInt64.max
        let job = Job(jobId: 1, attempt: 1, kind: .measure, key: "k", expectedCost: 0, spec: spec, checkpoint: [])
        #expect(try Message.decode(Message.job(job).encode()) == .job(job))
    }

    @Test("a JOB carries the cell contract's own spec: the cell of a measure job, the run of a warm start")
    func jobsCarryTheCellSpec() throws {
        let cell = Fixtures.grid.cell(learningRate: 0.05, batchSize: 32, seedIndex: 2)
        #expect(Fixtures.measureJob.spec.cell == cell && Fixtures.measureJob.spec.warmStart == nil)
        #expect(Fixtures.warmJob.spec.warmStart == cell.warmStartRun && Fixtures.warmJob.spec.cell == nil)
        let measure = try #require(try Fixtures.bodyObject(.job(Fixtures.measureJob))["spec"] as? [String: Any])
        #expect(Set(measure.keys) == ["cell", "dataset", "datasetHash"])
        let warm = try #require(try Fixtures.bodyObject(.job(Fixtures.warmJob))["spec"] as? [String: Any])
        #expect(Set(warm.keys) == ["warmStart", "dataset", "datasetHash"])
        let run = try #require(warm["warmStart"] as? [String: Any])
        #expect(Set(run.keys) == ["model", "seed", "spec"])
    }

    @Test("refusals name both versions and both data sets")
    func refusalMessages() {
        let version = Refuse.versionMismatch(worker: "0.3.0 (aaa)", coordinator: "0.4.0 (bbb)")
        #expect(version.reason == .version)
        #expect(version.message.contains("0.3.0 (aaa)") && version.message.contains("0.4.0 (bbb)"))
        let data = Refuse.datasetMismatch(offered: [DatasetOffer(name: "fashion-mnist", hash: "1111111111111111")],
                                          needed: DatasetOffer(name: "fashion-mnist", hash: "2222222222222222"))
        #expect(data.message.contains("1111111111111111") && data.message.contains("2222222222222222"))
        #expect(Refuse.datasetMismatch(offered: [], needed: DatasetOffer(name: "x", hash: "2222222222222222"))
            .message.contains("no data set"))
    }

    @Test("the encoder refuses what the decoder would refuse")
    func encoderChecks() {
        func encodeError(_ message: Message) -> ProtocolError? {
            do {
                _ = try message.encode()
                return nil
            } catch { return error }
        }
        #expect(encodeError(.ack(JobRef(jobId: 0, attempt: 1)))?.field == "jobId")
        #expect(encodeError(.heartbeat(Heartbeat(jobs: [JobProgress(jobId: 1, attempt: 1, step: 5, totalSteps: 4)])))?.field
            == "jobs[0].step")
        #expect(encodeError(.result(.failed(jobId: 1, attempt: 1, kind: .measure, wallSeconds: .nan,
                                            errorKind: .transient, message: "x")))?.field == "wallSeconds")
        let noCheckpoint = Job(jobId: 1, attempt: 1, kind: .measure, key: "k", expectedCost: 1, spec: Fixtures.spec(.measure))
        #expect(encodeError(.job(noCheckpoint))?.field == "checkpointBytes")
        let badRecord = JobResult.done(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1,
                                       result: Array(#"{"format":"thermosweep-warm/1"}"#.utf8))
        #expect(encodeError(.result(badRecord))?.kind == .badAttachment)
        #expect(encodeError(.welcome(Welcome(coordinator: "c", heartbeat: .zero)))?.field == "heartbeatMs")
    }

    @Test("routing ids are host/pid/nonce")
    func routingID() {
        #expect(Wire.routingID(host: "node-3", pid: 42, nonce: "9f3a11c0") == "node-3/42/9f3a11c0")
    }
}
