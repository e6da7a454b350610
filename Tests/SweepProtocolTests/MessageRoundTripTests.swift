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
            #expect(frames[0] == Array("TSW6".utf8))
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

    @Test("an empty checkpoint and the extreme learning rates survive")
    func edgeValues() throws {
        for lr in [CellLimits.minimumLearningRate, CellLimits.maximumLearningRate, 0.1 + 0.2] {
            let job = JobLease(jobId: 1, attempt: 1, kind: .measure, key: "k", expectedCost: 0, seedIndex: 1,
                               learningRate: lr, batchSize: CellLimits.maxBatchSize, momentum: 0.9, batchMode: .shuffle,
                               checkpoint: [])
            #expect(try Message.decode(Message.job(job).encode()) == .job(job))
        }
    }

    @Test("a JOB names its cell; the worker derives the cell contract's spec from WELCOME's grid")
    func jobsNameTheirCell() throws {
        let grid = Fixtures.grid.normalized
        let cell = grid.cell(learningRate: 0.05, batchSize: 32, seedIndex: 2)
        let measure = try Job(Fixtures.measureJob, in: grid)
        #expect(measure.spec.cell == cell && measure.spec.warmStart == nil && measure.checkpoint == Fixtures.checkpoint)
        let warm = try Job(Fixtures.warmJob, in: grid)
        #expect(warm.spec.warmStart == cell.warmStartRun && warm.spec.cell == nil)
        #expect(Set(try Fixtures.bodyObject(.job(Fixtures.warmJob)).keys)
            == ["jobId", "attempt", "kind", "key", "expectedCost", "seedIndex", "learningRate", "batchSize"])
    }

    /// Both ends derive a job's spec with `GridSpec.spec`: the coordinator from its job list, the
    /// worker from the lease and WELCOME's grid. Every job of grids with every axis must agree.
    @Test("every job's lease gives the worker the coordinator's spec", arguments: [GridJobKind.train, .trivial])
    func leasesGiveTheCoordinatorsSpec(kind: GridJobKind) throws {
        var grid = GridSpec(learningRates: [0.2, 0.05, 0.1], batchSizes: [64, 8], seeds: 2, jobKind: kind,
                            datasetHash: "0123456789abcdef", trivialMillis: 7)
        grid.momentumValues = [0.9, 0, 0.5]
        grid.batchModeValues = [.shuffle, .iid]
        let jobs = grid.jobs()
        #expect(jobs.count == (kind == .train ? 2 : 0) + 3 * 2 * 3 * 2 * 2)
        for job in jobs {
            let lease = JobLease(job, attempt: 3, checkpoint: job.kind == .measure ? [1, 2] : nil)
            guard case .job(let received) = try Message.decode(Message.job(lease).encode()) else {
                Issue.record("not a JOB")
                return
            }
            let resolved = try Job(received, in: job.grid)
            #expect(resolved.spec == job.spec, "\(job.key)")
            #expect(resolved.key == job.key && resolved.kind == job.kind && resolved.expectedCost == job.cost)
            #expect(resolved.ref == JobRef(jobId: job.id, attempt: 3))
        }
    }

    @Test("a JOB that names no cell of the grid is refused, saying which value is off")
    func leasesOutsideTheGrid() throws {
        let grid = Fixtures.grid.normalized
        func refusal(_ change: (inout JobLease) -> Void) -> String? {
            var lease = Fixtures.measureJob
            change(&lease)
            do {
                _ = try Job(lease, in: grid)
                return nil
            } catch { return error.description }
        }
        #expect(refusal { _ in } == nil)
        #expect(refusal { $0.learningRate = 0.07 }?.contains("η = 0.07") == true)
        #expect(refusal { $0.batchSize = 33 }?.contains("|B| = 33") == true)
        #expect(refusal { $0.seedIndex = 4 }?.contains("seed index 4; the grid has 3 seeds") == true)
        #expect(refusal { $0.momentum = 0.9 }?.contains("momentum 0.9") == true)
        #expect(refusal { $0.batchMode = .shuffle }?.contains("batch mode shuffle") == true)
        #expect(refusal { $0.kind = .trivial }?.contains("is a trivial job; this grid's jobs are warm-start and measure") == true)
        #expect(refusal { $0.learningRate = 0.07 }?.contains("same thermosweep binary") == true)
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
        let noCheckpoint = JobLease(jobId: 1, attempt: 1, kind: .measure, key: "k", expectedCost: 1, seedIndex: 1,
                                    learningRate: 0.05, batchSize: 32)
        #expect(encodeError(.job(noCheckpoint))?.field == "checkpointBytes")
        let badRecord = JobResult.done(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1,
                                       result: Array(#"{"format":"thermosweep-warm/1"}"#.utf8))
        #expect(encodeError(.result(badRecord))?.kind == .badAttachment)
        #expect(encodeError(.welcome(Welcome(coordinator: "c", grid: Fixtures.grid, heartbeat: .zero)))?.field == "heartbeatMs")
    }

    @Test("routing ids are host/pid/nonce")
    func routingID() {
        #expect(Wire.routingID(host: "node-3", pid: 42, nonce: "9f3a11c0") == "node-3/42/9f3a11c0")
    }
}
