// Tests that wait (for processes they spawned, for sockets, for timers) off the concurrency pool.
// Swift Testing runs test bodies on the cooperative pool, which has one thread per core: on a
// 2-core machine two tests that sit in `waitpid` or `zmq_poll` hold the whole pool, and every
// other test, however short, waits for them. A test under `.ownThread` runs on a thread of its own
// instead, so its waiting costs no other test anything. (An async test body and its child tasks
// would share that one thread: a child that blocks would hold up its siblings. The bodies that use
// the trait are synchronous.)
//
// Two refinements:
// - A test whose processes keep the CPU busy (training sweeps) says `.ownThread(.cpuBound)`: at
//   most one such test per core runs at once; the others wait for a place without holding a thread.
// - The suites that form the run's longest chain of tests that must follow one another (the
//   failure tests) say `.ownThread(.criticalPath)`: once the suite has started, the runner's steps
//   for it (starting a test, ending it, going on to the next) run at high priority, ahead of the
//   computing tests queued on the pool, so the chain never waits for the pool between two tests.
import Foundation
import Testing

extension Trait where Self == OwnThread {
    /// Runs each test body of the test or suite on a thread of its own.
    public static var ownThread: Self { OwnThread(kind: .waiting) }

    /// Runs each test body of the test or suite on a thread of its own, as `kind` says.
    public static func ownThread(_ kind: OwnThread.Kind) -> Self { OwnThread(kind: kind) }
}

/// The trait behind `.ownThread`.
public struct OwnThread: TestTrait, SuiteTrait, TestScoping {
    public enum Kind: Sendable {
        /// The test mostly waits.
        case waiting
        /// The test waits for processes that keep the CPU busy: one such test per core at once.
        case cpuBound
        /// The test mostly waits, in the chain of tests that takes longest: its steps go first.
        case criticalPath
    }

    let kind: Kind

    public var isRecursive: Bool { true }

    /// Each test case, and a critical path's suites themselves (whose steps start their tests).
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        test.isSuite ? (kind == .criticalPath ? self : nil) : (testCase == nil ? nil : self)
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        guard !test.isSuite else {
            // The task ends before `function` goes out of scope: it is awaited here.
            return try await withoutActuallyEscaping(function) { function in
                let steps = Task(priority: .high) { try await function() }
                return try await withTaskCancellationHandler { try await steps.value } onCancel: { steps.cancel() }
            }
        }
        if kind == .cpuBound { await CoreGate.shared.enter() }
        let executor = ThreadExecutor(name: test.name)
        defer {
            executor.finish()
            if kind == .cpuBound { Task { await CoreGate.shared.leave() } }
        }
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

/// One place per core for the `cpuBound` tests, first come first served.
actor CoreGate {
    static let shared = CoreGate(places: ProcessInfo.processInfo.activeProcessorCount)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(places: Int) { free = places }

    func enter() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// A task executor with one thread that runs its jobs in order until `finish()`.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false
    private var exited = false

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        condition.lock()
        if exited {
            // Nothing should come after the test body, but a job must never be lost.
            condition.unlock()
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(UnownedJob(job))
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once it has run the jobs enqueued so far.
    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                exited = true
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
