import Cell
import Foundation
import Testing
import TestSupport
@testable import SweepProtocol

/// Encode + decode time per message. The coordinator must dispatch 5,000 jobs/s: per job one JOB
/// out, one RESULT and a few HEARTBEATs in. Opt-in (`TS_BENCH=1`): timings belong in benchmark
/// reports, not in the pass/fail of the suite on a shared machine; the bounds catch gross regressions.
@Suite("Codec speed", .benchmark)
struct CodecBenchmarkTests {
    /// CPU time of this thread in seconds: unlike wall time, it does not count the time other
    /// processes on a shared, loaded machine hold the core.
    private func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Median over `rounds` of the mean thread CPU time of `reps` runs of `body` (given the run's
    /// index), in µs.
    private func medianMicros(rounds: Int = 9, reps: Int, _ body: (Int) throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<rounds {
            let start = threadCPUSeconds()
            for rep in 0..<reps { try body(rep) }
            times.append((threadCPUSeconds() - start) / Double(reps) * 1e6)
        }
        return times.sorted()[rounds / 2]
    }

    /// The same for round trips of `message` (or only encodes, or only decodes).
    private func medianMicros(_ message: Message, rounds: Int = 9, reps: Int, encode: Bool = true,
                              decode: Bool = true) throws -> Double {
        let frames = try message.encode()
        return try medianMicros(rounds: rounds, reps: reps) { _ in
            let sent = encode ? try message.encode() : frames
            if decode { _ = try Message.decode(sent) }
        }
    }

    @Test("HEARTBEAT and JOB round trips are fast enough for 5,000 jobs/s")
    func speed() throws {
        #if DEBUG
        let reps = 20
        #else
        let reps = 400
        #endif
        let heartbeat = try medianMicros(.heartbeat(Fixtures.heartbeat), reps: reps)
        let warmJob = try medianMicros(.job(Fixtures.warmJob), reps: reps)
        let measureJob = try medianMicros(.job(Fixtures.measureJob), reps: reps)
        let trivialResult = Message.result(.done(jobId: 5, attempt: 1, kind: .trivial, wallSeconds: 0.2,
                                                 result: Fixtures.trivialResult))
        let result = try medianMicros(trivialResult, reps: reps)
        // The coordinator's own share per job: encode one JOB, decode one RESULT.
        let jobEncode = try medianMicros(.job(Fixtures.trivialJob), reps: reps, decode: false)
        let resultDecode = try medianMicros(trivialResult, reps: reps, encode: false)
        let heartbeatDecode = try medianMicros(.heartbeat(Fixtures.heartbeat), reps: reps, encode: false)
        let checkpoint = Message.job(JobLease(jobId: 17, attempt: 1, kind: .measure, key: "k", expectedCost: 1, seedIndex: 2,
                                              learningRate: 0.05, batchSize: 32, momentum: 0, batchMode: .iid,
                                              checkpoint: [UInt8](repeating: 7, count: 70_000)))
        let lenet = try medianMicros(checkpoint, reps: max(reps / 4, 5))
        print(String(format: "encode+decode µs (thread CPU time): HEARTBEAT(2 jobs) %.1f, JOB warm-start %.1f, JOB measure (5 kB ckpt) %.1f, "
                         + "JOB measure (70 kB ckpt) %.1f, RESULT trivial %.1f; coordinator side: JOB encode %.1f, RESULT decode %.1f, "
                         + "HEARTBEAT decode %.1f", heartbeat, warmJob, measureJob, lenet, result, jobEncode, resultDecode,
                         heartbeatDecode))
        #if !DEBUG
        // 5,000 jobs/s leaves 200 µs per job for one JOB, one RESULT and its heartbeats, with the
        // journal and the sockets; the codec must take well under half of that. Measured ≈ 15 µs
        // (JOB encode) + 10 µs (RESULT decode) on a Zen 4 core; the bounds leave room for noise.
        #expect(jobEncode + resultDecode < 80)
        #expect(heartbeatDecode < 40)
        #endif
    }

    /// What the coordinator does to each real result's record on its way to the journal, step by
    /// step, on a 44 kB record: the checksum (and the FNV-1a-64 hash it replaced in TSW4), the
    /// UTF-8 check, the JSON check (and the whole parse the exports do), and the whole `decode` of
    /// a RESULT carrying it. Printed only: the bound is the loop's (`realSizedResults`).
    @Test func realSizedRecordSteps() throws {
        // Two records that differ in their last byte, taken in turn: no step can be computed once
        // for all repetitions (the optimizer sees that these functions have no side effects).
        let record = RealSizedRecord.bytes
        let records = [record, Array(record.dropLast()) + [0x20, 0x7D]]
        var answers = 0
        func median(_ body: ([UInt8]) throws -> Int) rethrows -> Double {
            let before = answers
            let micros = try medianMicros(reps: 50) { rep in answers &+= try body(records[rep & 1]) }
            #expect(answers != before)
            return micros
        }
        let result = Message.result(.done(jobId: 5, attempt: 1, kind: .trivial, wallSeconds: 0.2, result: record))
        let frames = try result.encode()
        let fnv = median { FNV1a.hash($0) == 0 ? 0 : 1 }
        let crc = median { AttachmentChecksum.hex($0).utf8.count }
        let string = median { String(validating: $0, as: UTF8.self)?.utf8.count ?? 0 }
        let top = try median { if case .object(let pairs) = try JSONValue.parseTopLevel($0) { pairs.count } else { 0 } }
        let whole = try median { if case .object(let pairs) = try JSONValue.parse($0) { pairs.count } else { 0 } }
        let decode = try median { _ in if case .result = try Message.decode(frames) { 1 } else { 0 } }
        print(String(format: "\(record.count)-byte record, µs (thread CPU time, median of 9 × 50): FNV-1a %.1f, CRC-32 %.1f; "
                         + "String(validating:) %.1f; parseTopLevel %.1f, parse %.1f; RESULT decode %.1f",
                     fnv, crc, string, top, whole, decode))
    }
}
