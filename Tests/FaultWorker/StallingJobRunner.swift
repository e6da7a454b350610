// A job runner for the stall watchdog's test (RELIABILITY.md, test 3): a trainer that hangs while
// the worker's loop thread, and so its socket and heartbeats, stay alive.
import Foundation
import Synchronization
import SweepProtocol
import Worker

/// Runs jobs on `inner`, except that the first `count` jobs of this process stop advancing their
/// step counter after `afterSteps` steps and wait until their lease is cancelled.
struct StallingJobRunner: JobRunner {
    let inner: any JobRunner
    let afterSteps: Int
    /// How many jobs hang; 0 means every job.
    let count: Int
    private let started = Started()

    /// Jobs started so far, shared by the job threads.
    private final class Started: Sendable {
        let value = Mutex(0)
    }

    /// Pace of the steps before the hang, as a trivial job's.
    private static let stepMillis = TrivialJobRunner.stepMillis

    init(inner: any JobRunner, afterSteps: Int, count: Int) {
        self.inner = inner
        self.afterSteps = afterSteps
        self.count = count
    }

    func totalSteps(of job: Job) -> Int { inner.totalSteps(of: job) }

    func run(_ job: Job, progress: JobProgressCounter) -> JobResult? {
        let index = started.value.withLock { started in
            started += 1
            return started
        }
        guard count == 0 || index <= count else { return inner.run(job, progress: progress) }
        // Never report the last step: a finished counter is not a hang.
        let advance = min(afterSteps, max(0, progress.totalSteps - 1))
        var step = 0
        while step < advance && !progress.isCancelled {
            Thread.sleep(forTimeInterval: Double(Self.stepMillis) / 1000)
            step += 1
            progress.report(step: step)
        }
        while !progress.isCancelled { Thread.sleep(forTimeInterval: Double(Self.stepMillis) / 1000) }
        return nil
    }
}
