import Cell
import Foundation
import SweepProtocol
import TestSupport
import Testing
import Worker
import ZeroMQ

/// A tiny synthetic cell: lenet-4-8 on 300 images, 0.2 warm-start epochs, 20 + 20 steps, no probes.
@Suite(.ownThread) struct CellJobRunnerTests {
    static let runner = CellJobRunner.synthetic(seed: 1, trainCount: 300, testCount: 100)

    /// One cell and one seed, as a coordinator's WELCOME would give it.
    static func grid(hash: String?) -> GridSpec {
        GridSpec(model: .lenet48, learningRates: [0.05], batchSizes: [16], seeds: 1, dataset: .synthetic(seed: 1, count: 300),
                 datasetHash: hash, warmStart: WarmStartSpec(learningRate: 0.05, batchSize: 16, epochs: 0.2),
                 cell: CellSettings(burnInSteps: 20, measureSteps: 20, calibrationProbes: 0, probeBatchSize: 16)).normalized
    }

    static let warmLease = JobLease(jobId: 1, attempt: 1, kind: .warmStart, key: "warm/seed=1", expectedCost: 64,
                                    seedIndex: 1, learningRate: 0.05, batchSize: 16)

    static func measureLease(checkpoint: [UInt8]) -> JobLease {
        JobLease(jobId: 2, attempt: 1, kind: .measure, key: "cell/lr=0.05/b=16/seed=1", expectedCost: 640, seedIndex: 1,
                 learningRate: 0.05, batchSize: 16, momentum: 0, batchMode: .iid, checkpoint: checkpoint)
    }

    static func warmJob(hash: String?) throws -> Job { try Job(warmLease, in: grid(hash: hash)) }

    static func measureJob(checkpoint: [UInt8]) throws -> Job {
        try Job(measureLease(checkpoint: checkpoint), in: grid(hash: runner.offer.hash))
    }

    @Test func offersItsDataSet() {
        #expect(Self.runner.offer.name == "synthetic/seed=1/count=300")
        #expect(Self.runner.offer.hash.count == 16)
    }

    @Test func refusesAJobForAnotherDataSetNamingBothHashes() throws {
        let job = try Self.warmJob(hash: "ffffffffffffffff")
        let result = try #require(Self.runner.run(job, progress: JobProgressCounter(totalSteps: 1)))
        #expect(result.outcome == .failed && result.errorKind == .deterministic)
        let message = try #require(result.message)
        #expect(message.contains("ffffffffffffffff") && message.contains(Self.runner.offer.hash))
    }

    @Test func refusesACorruptCheckpoint() throws {
        let job = try Self.measureJob(checkpoint: Array("{\"not\":1}".utf8))
        let result = try #require(Self.runner.run(job, progress: JobProgressCounter(totalSteps: 41)))
        #expect(result.outcome == .failed && result.errorKind == .deterministic)
    }

    /// Warm start, then the cell from its checkpoint, both through the socket as a coordinator would.
    @Test func warmStartThenMeasureThroughTheSocket() throws {
        let coordinator = try FakeCoordinator()
        let (worker, ready) = try startWorker(coordinator, runner: Self.runner, heartbeatMs: 100,
                                              grid: Self.grid(hash: Self.runner.offer.hash), datasets: [Self.runner.offer])
        #expect(ready.datasets == [Self.runner.offer])
        #expect(Self.runner.totalSteps(of: try Self.warmJob(hash: Self.runner.offer.hash)) == 4)  // ⌈0.2 × 300 / 16⌉
        try coordinator.send(.job(Self.warmLease))
        let warmResult = try #require(try coordinator.receive(within: .seconds(20), result))
        try coordinator.send(.ack(warmResult.ref))
        #expect(warmResult.outcome == .done && warmResult.kind == .warmStart)
        let checkpoint = try #require(warmResult.checkpoint)
        let warmRecord = try JSONSerialization.jsonObject(with: Data(try #require(warmResult.result))) as? [String: Any]
        #expect(warmRecord?["format"] as? String == FormatTag.warmStart)

        #expect(Self.runner.totalSteps(of: try Self.measureJob(checkpoint: checkpoint)) == 41)
        try coordinator.send(.job(Self.measureLease(checkpoint: checkpoint)))
        let cell = try #require(try coordinator.receive(within: .seconds(30), result))
        try coordinator.send(.ack(cell.ref))
        #expect(cell.outcome == .done && cell.kind == .measure && cell.ref == JobRef(jobId: 2, attempt: 1))
        let record = try JSONSerialization.jsonObject(with: Data(try #require(cell.result))) as? [String: Any]
        #expect(record?["format"] as? String == FormatTag.cell)
        #expect(record?["datasetHash"] as? String == Self.runner.offer.hash)
        #expect(record?["burnInSteps"] as? Int == 20 && record?["measureSteps"] as? Int == 20)
        try coordinator.send(.bye(Bye(reason: "over")))
        #expect(worker.exit() == .bye("over"))
    }

    /// A job run on a thread of its own, as the worker loop runs it; `finish` waits (bounded).
    final class JobThread: @unchecked Sendable {
        // Safe to share: `outcome` is only touched under `lock`.
        let progress: JobProgressCounter
        private let lock = NSLock()
        private var outcome: JobResult??

        init(_ job: Job, progress: JobProgressCounter) {
            self.progress = progress
            Thread { [self] in
                let result = CellJobRunnerTests.runner.run(job, progress: progress)
                lock.withLock { outcome = .some(result) }
            }.start()
        }

        /// The job's return (nil inside: it gave up), or nil if it did not return within `timeout`.
        func finish(within timeout: Duration) -> JobResult?? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let outcome = lock.withLock({ outcome }) { return outcome }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return lock.withLock { outcome }
        }

        /// Waits (bounded) until the step counter reaches `step`.
        func await(step: Int, within timeout: Duration) -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if progress.step >= step { return true }
                Thread.sleep(forTimeInterval: 0.001)
            }
            return false
        }
    }

    /// Cancels `job` once its counter passed `cancelAt`, and checks that it gives up (nil) within
    /// a few hundred steps of where the counter stood when cancelled, far from its end.
    func cancelMidRun(_ job: Job, cancelAt: Int) throws {
        let total = Self.runner.totalSteps(of: job)
        let thread = JobThread(job, progress: JobProgressCounter(totalSteps: total))
        try #require(thread.await(step: cancelAt, within: .seconds(120)), "the job never reached step \(cancelAt)")
        thread.progress.cancel()
        // The counter moves in steps of 100 (`CellRunner.progressInterval`); read after the cancel,
        // it is at most 99 behind the step the job was at when the flag went up.
        let atCancel = thread.progress.step
        let outcome = try #require(thread.finish(within: .seconds(120)), "the cancelled job did not return")
        #expect(outcome.map(\.outcome) == nil, "a cancelled job returned a result")
        let last = thread.progress.step
        // The runner checks the flag every 10 steps (`CellRunner.stopCheckInterval`): 200 is ample.
        #expect(last <= atCancel + 200,
                "ran on from step \(atCancel) to \(last) of \(total) after its cancel")
        #expect(last < total)
    }

    /// A cancelled measure job stops in its burn-in, long before its 200 000 steps.
    @Test func aCancelledMeasureJobStopsWithinAFewHundredSteps() throws {
        let warm = try #require(try Self.runner.run(Self.warmJob(hash: Self.runner.offer.hash),
                                                progress: JobProgressCounter(totalSteps: 4)))
        var job = try Self.measureJob(checkpoint: try #require(warm.checkpoint))
        job.spec.cell?.burnInSteps = 200_000
        #expect(Self.runner.totalSteps(of: job) == 200_021)
        try cancelMidRun(job, cancelAt: 300)
    }

    /// A cancelled warm start stops too (3 750 steps planned).
    @Test func aCancelledWarmStartStopsWithinAFewHundredSteps() throws {
        var job = try Self.warmJob(hash: Self.runner.offer.hash)
        job.spec.warmStart?.spec = WarmStartSpec(learningRate: 0.05, batchSize: 16, epochs: 200)
        #expect(Self.runner.totalSteps(of: job) == 3_750)
        try cancelMidRun(job, cancelAt: 300)
    }

    /// A job whose lease was cancelled before its thread started trains nothing.
    @Test func aJobCancelledBeforeItStartsTrainsNothing() throws {
        let progress = JobProgressCounter(totalSteps: 4)
        progress.cancel()
        #expect(try Self.runner.run(Self.warmJob(hash: Self.runner.offer.hash), progress: progress).map(\.outcome) == nil)
        #expect(progress.step == 0)
    }
}
