// Support for multi-process sweep tests: the built binary, background processes killed by pid,
// bounded waits, private temporary folders.
import Foundation
import Session
import Store
import Testing

/// A private folder under the temporary directory, removed with `remove()`.
struct Scratch {
    let url: URL
    var path: String { url.path }

    init(_ name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("thermosweep-\(safe.prefix(40))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The binaries built with the tests: `thermosweep`, and the worker with test-only faults.
enum Binary {
    static var path: String { built("thermosweep") }
    static var faultWorker: String { built("thermosweep-fault-worker") }

    static func built(_ name: String) -> String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent()] {
            let url = dir.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url.path }
        }
        return bundle.appendingPathComponent(name).path
    }
}

/// A child process of the test, with stdout and stderr in files. Killed by pid (SIGKILL) when
/// the test forgets to: `deinit` never leaves a process behind.
final class Spawned: @unchecked Sendable {
    // Used from the test's thread only.
    let pid: pid_t
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String
    private(set) var exitStatus: Int32?

    /// Starts `Binary.path arguments` (or `executable`), output to `<prefix>.out` / `.err`.
    init(_ arguments: [String], outputPrefix: String, executable: String = Binary.path) throws {
        self.arguments = arguments
        stdoutPath = outputPrefix + ".out"
        stderrPath = outputPrefix + ".err"
        pid = try Spawn.start(executable, arguments, stdout: stdoutPath, stderr: stderrPath)
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Sends `signal`.
    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Whether it is still running (reaps it if not).
    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = status
            return false
        }
        return true
    }

    /// Waits up to `timeout` seconds; returns the exit code (128 + signal when killed), or nil
    /// when it is still running.
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(10_000) }
        guard let status = exitStatus else { return nil }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// SIGKILL and reap.
    func kill9() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        _ = wait(timeout: 10)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}


/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; returns whether it held.
@discardableResult
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// The endpoint a sweep wrote to its `--endpoint-file`, waiting up to `timeout` seconds.
func endpoint(in file: String, timeout: Double = 30) -> String? {
    var found: String?
    eventually(timeout: timeout) {
        found = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return found?.isEmpty == false
    }
    return found
}

/// Job counts of a sweep database, read-only (works while the sweep runs).
func counts(_ db: String) throws -> StateCounts {
    let store = try Store.openReadOnly(path: db)
    defer { try? store.close() }
    return try store.counts()
}
