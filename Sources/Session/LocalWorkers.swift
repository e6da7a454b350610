// `sweep --local-workers N`: worker processes of this same binary, started with posix_spawn, watched
// with waitpid, restarted when they die early, and stopped by pid when the sweep ends.
import Foundation

/// The local worker processes of one sweep.
public final class LocalWorkers: @unchecked Sendable {
    // Safe to share: every member is used under `lock`.
    private let lock = NSLock()
    private let executable: String
    private let arguments: (Int) -> [String]
    private let log: @Sendable (String) -> Void
    /// Slot index → pid of its running process.
    private var pids: [Int: pid_t] = [:]
    private var restarts: [Int: Int] = [:]
    /// Slots waiting to be restarted, and when (1 s doubling per death, at most 16 s).
    private var pendingRestarts: [Int: Date] = [:]
    /// Early deaths of one slot after which it is not restarted again.
    public static let restartLimit = 5
    /// The pipe every worker's stderr goes to: its lines reach `log` whole (through the sweep's
    /// console, which keeps them off the progress line) instead of the terminal directly.
    private var output: (read: Int32, write: Int32) = (-1, -1)
    private let forwarded = DispatchGroup()

    /// `arguments(slot)` are the worker's arguments after the executable.
    public init(count: Int, executable: String, arguments: @escaping (Int) -> [String],
         log: @escaping @Sendable (String) -> Void) throws {
        self.executable = executable
        self.arguments = arguments
        self.log = log
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            output = (ends[0], ends[1])
            let read = ends[0]
            forwarded.enter()
            let thread = Thread { [forwarded] in
                Self.forwardLines(from: read, to: log)
                close(read)
                forwarded.leave()
            }
            thread.name = "local-worker-output"
            thread.start()
        }
        do {
            for slot in 1...max(1, count) where count > 0 { try lock.withLock { try spawn(slot) } }
        } catch {
            // Those already started would only exit after their liveness window: stop them now.
            stop(grace: 0)
            throw error
        }
    }

    /// This process's own executable.
    public static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Pids of the workers still running.
    public var running: [pid_t] { lock.withLock { Array(pids.values) } }

    /// Starts slot `slot` (lock held). Each worker gets its own process group so that a Ctrl-C in
    /// the terminal reaches only the coordinator, which then stops the workers in order.
    private func spawn(_ slot: Int) throws {
        let pid: pid_t
        do {
            pid = try Spawn.start(executable, arguments(slot), stderrDescriptor: output.write >= 0 ? output.write : nil,
                                  ownProcessGroup: true)
        } catch {
            throw SpawnError(description: "cannot start local worker \(slot): \(error)")
        }
        pids[slot] = pid
    }

    /// Reaps workers that exited and restarts those that crashed (killed by a signal, or status 1:
    /// a failure or a lost coordinator) after a backoff, at most `restartLimit` times per slot;
    /// never one that exited 0 (the sweep is over) or 2 (refused: it would be refused again).
    /// Returns how many run or wait for a restart.
    @discardableResult
    public func reap(restart: Bool) -> Int {
        lock.withLock {
            for (slot, pid) in pids {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                // -1 (ECHILD): reaped elsewhere (e.g. SIGCHLD ignored by whoever started us): gone.
                guard reaped == pid || (reaped == -1 && errno == ECHILD) else { continue }
                pids[slot] = nil
                let how = reaped == pid ? Self.describe(status) : "is gone"
                let code = (status >> 8) & 0xff, signalled = reaped == pid && (status & 0x7f) != 0
                if reaped == pid && !signalled && code == 0 { continue }
                let crashed = signalled || code == 1
                guard restart && crashed else {
                    log("local worker \(slot) (pid \(pid)) \(how); not restarted"
                        + (code == 2 ? ": the coordinator refused it" : ""))
                    continue
                }
                restarts[slot, default: 0] += 1
                let deaths = restarts[slot, default: 0]
                if deaths > Self.restartLimit {
                    log("local worker \(slot) (pid \(pid)) \(how); not restarted: it died \(Self.restartLimit) times")
                    continue
                }
                let wait = min(16, 1 << (deaths - 1))
                log("local worker \(slot) (pid \(pid)) \(how); restarting it in \(wait) s")
                pendingRestarts[slot] = Date().addingTimeInterval(TimeInterval(wait))
            }
            if !restart { pendingRestarts.removeAll() }
            for (slot, due) in pendingRestarts where due <= Date() {
                pendingRestarts[slot] = nil
                do { try spawn(slot) } catch { log("\(error)") }
            }
            return pids.count + pendingRestarts.count
        }
    }

    /// Sends `signal` to every running worker.
    public func signalAll(_ signal: Int32) {
        lock.withLock { for pid in pids.values { kill(pid, signal) } }
    }

    /// SIGTERM, then waits up to `grace` for them to exit, then SIGKILL and reap: no orphans.
    public func stop(grace: TimeInterval) {
        signalAll(SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while reap(restart: false) > 0 && Date() < deadline { usleep(20_000) }
        let left = running
        if !left.isEmpty {
            log("local workers \(left.map(String.init).joined(separator: ", ")) did not exit in \(grace) s; killing them")
            signalAll(SIGKILL)
            let killed = Date().addingTimeInterval(5)
            while reap(restart: false) > 0 && Date() < killed { usleep(5_000) }
        }
        // Every worker is gone: end the pipe and let their last lines through before returning.
        let write = lock.withLock { () -> Int32 in
            defer { output.write = -1 }
            return output.write
        }
        if write >= 0 {
            close(write)
            _ = forwarded.wait(timeout: .now() + 2)
        }
    }

    /// Reads lines from `fd` until end of file and hands each to `log`, without the time a
    /// worker puts first (the console adds its own).
    private static func forwardLines(from fd: Int32, to log: @Sendable (String) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                log(untimed(String(decoding: pending[..<newline], as: UTF8.self)))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { log(untimed(String(decoding: pending, as: UTF8.self))) }
    }

    /// `line` without a leading `HH:MM:SS `.
    static func untimed(_ line: String) -> String {
        let bytes = Array(line.utf8.prefix(9))
        let isClock = bytes.count == 9 && bytes[2] == 0x3A && bytes[5] == 0x3A && bytes[8] == 0x20
            && [0, 1, 3, 4, 6, 7].allSatisfy { (0x30...0x39).contains(bytes[$0]) }
        return isClock ? String(line.dropFirst(9)) : line
    }

    deinit {
        if output.write >= 0 { close(output.write) }
    }

    /// Waits up to `timeout` for every worker to exit by itself (after BYE).
    public func waitForExit(timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        while reap(restart: false) > 0 && Date() < deadline { usleep(20_000) }
    }

    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "was killed by signal \(signal)"
    }
}

/// SIGINT/SIGTERM delivered to a handler on a dispatch queue instead of killing the process.
public final class SignalTrap: @unchecked Sendable {
    // Safe to share: `sources` is immutable after init; Dispatch sources are thread-safe.
    private let sources: [any DispatchSourceSignal]
    private let signals: [Int32]

    public init(_ signals: [Int32] = [SIGINT, SIGTERM], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Cancels the handlers and gives the signals their default action back.
    deinit {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}
