import Testing
@testable import SweepProtocol

/// Encode + decode time per message. The coordinator must dispatch 5,000 jobs/s: per job one JOB
/// out, one RESULT and a few HEARTBEATs in. Timing bounds are checked in release builds only.
@Suite("Codec speed")
struct CodecBenchmarkTests {
    /// Median over `rounds` of the mean time of `reps` encode+decode round trips, in µs.
    private func medianMicros(_ message: Message, rounds: Int = 9, reps: Int) throws -> Double {
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<rounds {
            let start = clock.now
            for _ in 0..<reps {
                let frames = try message.encode()
                _ = try Message.decode(frames)
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            times.append(seconds / Double(reps) * 1e6)
        }
        return times.sorted()[rounds / 2]
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
        let result = try medianMicros(.result(.done(jobId: 5, attempt: 1, kind: .trivial, wallSeconds: 0.2,
                                                    result: Fixtures.trivialResult)), reps: reps)
        let checkpoint = Message.job(Job(jobId: 17, attempt: 1, kind: .measure, key: "k", expectedCost: 1,
                                         spec: Fixtures.spec(.measure), checkpoint: [UInt8](repeating: 7, count: 70_000)))
        let lenet = try medianMicros(checkpoint, reps: max(reps / 4, 5))
        print(String(format: "encode+decode µs: HEARTBEAT(2 jobs) %.1f, JOB warm-start %.1f, JOB measure (5 kB ckpt) %.1f, "
                         + "JOB measure (70 kB ckpt) %.1f, RESULT trivial %.1f", heartbeat, warmJob, measureJob, lenet, result))
        #if !DEBUG
        // 5,000 jobs/s leaves 200 µs per job for one JOB, one RESULT and its heartbeats, with the
        // journal and the sockets; the codec must take well under half of that.
        #expect(heartbeat < 50)
        #expect(warmJob < 100)
        #expect(result < 100)
        #endif
    }
}
