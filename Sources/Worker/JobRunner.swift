// What runs one job on a worker thread. The loop thread owns the socket; a runner only computes
// and reports its step counter through a `JobProgressCounter`, which the loop reads for heartbeats.
import Cell
import Foundation
import SweepProtocol
import Thermometer
import Trainer

/// A job's step counter and cancel flag, shared between its thread and the loop thread.
public final class JobProgressCounter: @unchecked Sendable {
    // Safe to share: every field is read and written under `lock`.
    private let lock = NSLock()
    private var _step = 0
    private var _total: Int
    private var _cancelled = false

    public init(totalSteps: Int) { _total = max(0, totalSteps) }

    /// Steps done so far.
    public var step: Int { lock.withLock { _step } }
    public var totalSteps: Int { lock.withLock { _total } }
    /// Whether the coordinator withdrew the lease; a runner may stop early.
    public var isCancelled: Bool { lock.withLock { _cancelled } }

    /// Sets the step counter (never backwards; clamped to the total).
    public func report(step: Int) {
        lock.withLock { _step = min(max(_step, step), _total) }
    }

    public func cancel() { lock.withLock { _cancelled = true } }
}

/// Runs one job to its end on the calling thread.
public protocol JobRunner: Sendable {
    /// Steps the job will report in heartbeats (its `totalSteps`).
    func totalSteps(of job: Job) -> Int
    /// Runs `job`, reporting progress; nil when it gave up because the lease was cancelled.
    func run(_ job: Job, progress: JobProgressCounter) -> JobResult?
    /// For a job that computes nothing and only waits (a trivial job): what it waits and what it
    /// then returns. The worker's loop keeps a deadline for it instead of a thread. nil (the
    /// default): `run` it on a thread.
    func wait(for job: Job) -> JobWait?
}

extension JobRunner {
    public func wait(for job: Job) -> JobWait? { nil }
}

/// A job that only waits: `steps` steps of `stepDuration` (the last one shorter), then `result`.
public struct JobWait: Sendable {
    public let duration: Duration
    public let stepDuration: Duration
    public let steps: Int
    /// The job's result, given the seconds it took.
    public let result: @Sendable (_ wallSeconds: Double) -> JobResult

    public init(duration: Duration, stepDuration: Duration, steps: Int,
                result: @escaping @Sendable (_ wallSeconds: Double) -> JobResult) {
        self.duration = duration
        self.stepDuration = stepDuration
        self.steps = steps
        self.result = result
    }

    /// Steps done after `elapsed`: one per whole `stepDuration`, all of them once `duration` passed.
    public func step(after elapsed: Duration) -> Int {
        if elapsed >= duration { return steps }
        guard stepDuration > .zero else { return 0 }
        return min(steps, max(0, Int(elapsed / stepDuration)))
    }
}

/// Seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    max(0, (ContinuousClock.now - start) / .seconds(1))
}

/// JSON bytes of a small record with sorted keys.
func recordJSON(_ object: [String: Any]) -> [UInt8] {
    (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { Array($0) } ?? []
}

/// Runs `trivial` jobs: waits `trivialMillis` in 10 ms steps, trains nothing.
public struct TrivialJobRunner: JobRunner {
    /// Length of one step.
    public static let stepMillis = 10

    public init() {}

    public func totalSteps(of job: Job) -> Int {
        let millis = job.spec.trivialMillis ?? 0
        return max(1, (millis + Self.stepMillis - 1) / Self.stepMillis)
    }

    public func run(_ job: Job, progress: JobProgressCounter) -> JobResult? {
        let start = ContinuousClock.now
        guard let wait = wait(for: job) else {
            return .failed(jobId: job.jobId, attempt: job.attempt, kind: job.kind, wallSeconds: 0,
                           errorKind: .deterministic,
                           message: "this worker runs only trivial jobs, not \(job.kind.rawValue)")
        }
        for step in 1...wait.steps {
            // A cancelled trivial job is abandoned: nothing of it will be counted.
            if progress.isCancelled { return nil }
            let left = wait.duration - wait.stepDuration * (step - 1)
            Thread.sleep(forTimeInterval: min(wait.stepDuration, max(.zero, left)) / .seconds(1))
            progress.report(step: step)
        }
        return wait.result(seconds(since: start))
    }

    /// A trivial job waits `trivialMillis` in steps of `stepMillis`; any other kind is not one.
    public func wait(for job: Job) -> JobWait? {
        guard job.kind == .trivial, let millis = job.spec.trivialMillis else { return nil }
        let steps = totalSteps(of: job)
        return JobWait(duration: .milliseconds(millis), stepDuration: .milliseconds(Self.stepMillis), steps: steps) {
            wallSeconds in
            // Written directly, keys in sorted order: JSONSerialization took a third of a worker's
            // CPU per trivial job.
            var record = JSONWriter(capacity: 128)
            record.beginObject()
            record.field("attempt", job.attempt)
            record.field("format", FormatTag.trivial)
            record.field("jobId", job.jobId)
            record.field("key", job.key)
            record.field("millis", millis)
            record.field("steps", steps)
            record.endObject()
            return .done(jobId: job.jobId, attempt: job.attempt, kind: .trivial, wallSeconds: wallSeconds,
                         result: record.bytes)
        }
    }
}

/// Runs warm-start and measure jobs with the Thermometer's `CellRunner` on one loaded data set;
/// trivial jobs go to a `TrivialJobRunner`.
public struct CellJobRunner: JobRunner {
    public let runner: CellRunner
    /// The name offered in READY (`DatasetSelection.name`).
    public let datasetName: String

    public init(train: Dataset, test: Dataset, datasetName: String) {
        runner = CellRunner(train: train, test: test)
        self.datasetName = datasetName
    }

    /// A runner on the synthetic set `synthetic/seed=…/count=…` (for tests and smoke runs).
    public static func synthetic(seed: UInt64, trainCount: Int, testCount: Int) -> CellJobRunner {
        let split = SyntheticDataset.makeSplit(seed: seed, trainCount: trainCount, testCount: testCount)
        return CellJobRunner(train: split.train, test: split.test,
                             datasetName: DatasetSelection.synthetic(seed: seed, count: trainCount).name)
    }

    /// What READY offers: this data set's name and content hash.
    public var offer: DatasetOffer { DatasetOffer(name: datasetName, hash: runner.train.contentHash) }

    public func wait(for job: Job) -> JobWait? { TrivialJobRunner().wait(for: job) }

    public func totalSteps(of job: Job) -> Int {
        switch job.kind {
        case .trivial: return TrivialJobRunner().totalSteps(of: job)
        case .warmStart: return max(1, job.spec.warmStart?.spec.steps(trainCount: runner.train.count) ?? 1)
        case .measure:
            guard let cell = job.spec.cell else { return 1 }
            return cell.resolvedBurnInSteps + cell.resolvedMeasureSteps + 1
        }
    }

    public func run(_ job: Job, progress: JobProgressCounter) -> JobResult? {
        let start = ContinuousClock.now
        func fail(_ message: String, _ kind: FailureKind = .deterministic) -> JobResult {
            .failed(jobId: job.jobId, attempt: job.attempt, kind: job.kind, wallSeconds: seconds(since: start),
                    errorKind: kind, message: String(message.prefix(Wire.maxMessageText)))
        }
        if job.kind == .trivial { return TrivialJobRunner().run(job, progress: progress) }
        if progress.isCancelled { return nil }
        if let needed = job.spec.datasetHash, needed != runner.train.contentHash {
            return fail("job needs data set \(job.spec.dataset.name) with hash \(needed); this worker serves "
                        + "\(datasetName) with hash \(runner.train.contentHash)")
        }
        // A cancelled lease is abandoned within `CellRunner.stopCheckInterval` steps: its result
        // would be dropped anyway, and the slot is needed for the next job.
        let stopCheck: CellRunner.StopCheck = { phase, step in
            if progress.isCancelled { throw CellRunStopped(phase: phase, step: step) }
        }
        do {
            switch job.kind {
            case .trivial:
                return nil
            case .warmStart:
                guard let run = job.spec.warmStart else { return fail("a warm-start job without its warm start") }
                try run.validate()
                _ = try runner.architecture(of: run.model)
                let checkpoint = try runner.warmStart(run, progress: { _, step, _ in progress.report(step: step) },
                                                      stopCheck: stopCheck)
                guard checkpoint.parameters.allSatisfy(\.isFinite) else {
                    return fail("the warm start of \(run.model.rawValue) seed \(run.seed) diverged (NaN or infinite weights)")
                }
                let bytes = Array(try checkpoint.encoded())
                let record = recordJSON(["format": FormatTag.warmStart, "model": run.model.rawValue,
                                         "seed": run.seed, "parameterCount": checkpoint.parameters.count,
                                         "steps": progress.totalSteps])
                progress.report(step: progress.totalSteps)
                return .done(jobId: job.jobId, attempt: job.attempt, kind: .warmStart,
                             wallSeconds: seconds(since: start), result: record, checkpoint: bytes)
            case .measure:
                guard let cell = job.spec.cell else { return fail("a measure job without its cell") }
                guard let attachment = job.checkpoint else { return fail("a measure job without its checkpoint") }
                let checkpoint = try Checkpoint.decode(Data(attachment))
                let burnIn = cell.resolvedBurnInSteps, window = cell.resolvedMeasureSteps
                let result = try runner.run(cell, from: checkpoint, progress: { phase, step, _ in
                    switch phase {
                    case .warmStart, .burnIn: progress.report(step: step)
                    case .measure: progress.report(step: burnIn + step)
                    case .evaluate: progress.report(step: burnIn + window)
                    }
                }, stopCheck: stopCheck)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let bytes = Array(try encoder.encode(result))
                progress.report(step: progress.totalSteps)
                return .done(jobId: job.jobId, attempt: job.attempt, kind: .measure,
                             wallSeconds: seconds(since: start), result: bytes)
            }
        } catch is CellRunStopped {
            return nil
        } catch {
            return fail("\(job.key): \(error)")
        }
    }
}
