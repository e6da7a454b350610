// Trivial-job throughput of the whole coordinator path (ROUTER, codec, scheduler, one journal
// commit per poll round) with 8 hand-played workers on threads. Opt-in (`TS_BENCH=1`), release:
//   TS_BENCH=1 swift test -c release ... --filter CoordinatorLoopBenchmarkTests
import Cell
import Coordinator
import Foundation
import Store
import SweepProtocol
import Testing
import TestSupport
import ZeroMQ

@Suite("Coordinator loop throughput", .benchmark)
struct CoordinatorLoopBenchmarkTests {
    /// One worker thread: answers every JOB at once, beats every 200 ms, leaves on BYE.
    private static func work(context: Context, endpoint: String, name: String, slots: Int,
                             record: [UInt8] = HandWorker.resultBytes) throws -> Int {
        let socket = try Socket(context, .dealer)
        defer { socket.close() }
        try socket.set(.routingID, Array("host/\(name)/0000abcd".utf8))
        try socket.set(.linger, .milliseconds(0))
        try socket.connect(endpoint)
        try socket.send(Message.ready(Ready(name: name, host: "host", pid: 1, nonce: "0000abcd", cores: 1,
                                            cpuFeatures: [], buildCPU: "x", version: LoopFixture.version,
                                            datasets: [], slots: slots)).encode())
        let beat = try Message.heartbeat(Heartbeat()).encode()
        var lastBeat = ContinuousClock.now
        var done = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if ContinuousClock.now - lastBeat > .milliseconds(200) {
                lastBeat = ContinuousClock.now
                try socket.send(beat)
            }
            guard try socket.poll(.readable, timeout: .milliseconds(50)).contains(.readable) else { continue }
            while let frames = try socket.receive(dontWait: true) {
                for message in try Message.decodeBatch(frames) {
                    switch message {
                    case .job(let job):
                        try socket.send(Message.result(.done(jobId: job.jobId, attempt: job.attempt, kind: .trivial,
                                                             wallSeconds: 0, result: record)).encode())
                        done += 1
                    case .bye:
                        return done
                    default:
                        break
                    }
                }
            }
        }
        return done
    }

    @Test func eightWorkersThroughput() throws {
        // 10 η × 10 |B| × 60 seeds = 6,000 trivial jobs.
        let fixture = try LoopFixture(learningRates: (1...10).map { Double($0) * 0.01 },
                                      batchSizes: (1...10).map { $0 * 8 }, seeds: 60)
        let endpoint = try fixture.start(config: LoopFixture.config(heartbeatMs: 1_000))
        let context = fixture.context
        let counts = LockedBox<[Int]>([])
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for w in 0..<8 {
            group.enter()
            Thread {
                let n = (try? Self.work(context: context, endpoint: endpoint, name: "bench\(w)", slots: 4)) ?? -1
                counts.withLock { $0.append(n) }
                group.leave()
            }.start()
        }
        #expect(group.wait(timeout: .now() + 90) == .success)
        let elapsed = ContinuousClock.now - start
        #expect(try fixture.waitForEnd() == .finished)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let total = counts.withLock { $0.reduce(0, +) }
        print("coordinator loop: \(total) trivial jobs through 8 workers in \(String(format: "%.3f", seconds)) s = "
                + "\(Int(Double(total) / seconds)) jobs/s")
        #expect(total == 6_000)
        #expect(try fixture.readOnly().counts().done == 6_000)
    }

    /// The coordinator's own CPU per result when each RESULT carries a real result's size: the
    /// loop thread's CPU time over 2,000 jobs (the check of the record, its hash, its journal row,
    /// the JOB out), the ZeroMQ I/O thread apart. The issue's bound is 300 µs per real result.
    @Test func realSizedResults() throws {
        let fixture = try LoopFixture(learningRates: (1...10).map { Double($0) * 0.01 },
                                      batchSizes: (1...10).map { $0 * 8 }, seeds: 20)
        let endpoint = try fixture.start(config: LoopFixture.config(heartbeatMs: 1_000))
        let context = fixture.context, record = RealSizedRecord.bytes
        let counts = LockedBox<[Int]>([])
        let group = DispatchGroup()
        for w in 0..<8 {
            group.enter()
            Thread {
                let n = (try? Self.work(context: context, endpoint: endpoint, name: "real\(w)", slots: 4, record: record)) ?? -1
                counts.withLock { $0.append(n) }
                group.leave()
            }.start()
        }
        #expect(group.wait(timeout: .now() + 90) == .success)
        #expect(try fixture.waitForEnd() == .finished)
        let total = counts.withLock { $0.reduce(0, +) }
        let cpu = fixture.loopCPUSeconds.withLock { $0 }
        print("coordinator loop: \(total) results of \(record.count) bytes, loop thread \(String(format: "%.0f", cpu / Double(total) * 1e6)) µs of CPU per result")
        #expect(total == 2_000)
    }
}
