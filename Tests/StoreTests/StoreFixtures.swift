// Shared fixtures: small grids, a temporary folder per test, a fixed clock.
import Foundation
import SweepProtocol
import Store
import Testing

enum Fixtures {
    /// 2 η × 2 |B| × 2 seeds = 8 trivial jobs, no dependencies, four distinct costs.
    static let trivialGrid = GridSpec(learningRates: [0.0125, 0.025], batchSizes: [8, 16], seeds: 2,
                                      jobKind: .trivial, dataset: .synthetic())
    /// 2 warm starts + 2 η × 2 |B| × 2 seeds measure jobs = 10 jobs.
    static let trainGrid = GridSpec(learningRates: [0.05, 0.1], batchSizes: [8, 16], seeds: 2, dataset: .synthetic())

    static let result = Array(#"{"format":"thermosweep-trivial/1"}"#.utf8)
    static let checkpoint = Array("checkpoint-bytes".utf8)
}

/// A fresh folder under the system temporary directory, removed when the value is dropped.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "store-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var database: String { path + "/sweep/journal.sqlite" }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double = 1_800_000_000

    var now: Date { lock.withLock { Date(timeIntervalSince1970: seconds) } }

    func advance(_ delta: Double) { lock.withLock { seconds += delta } }

    func options() -> StoreOptions {
        StoreOptions(clock: { [self] in now })
    }
}

/// Runs `sqlite3` on the file (a second, independent connection) and returns its output.
func sqlite3(_ path: String, _ sql: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [path, sql]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs a command and returns its exit status.
@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

extension Store {
    /// Commits one lease (tests).
    func lease(jobId: Int, attempt: Int, worker: String) throws(StoreError) {
        try commit([.lease(jobId: jobId, attempt: attempt, worker: worker)])
    }

    /// Commits one counted result (tests).
    func recordResult(jobId: Int, attempt: Int, result: [UInt8] = Fixtures.result, checkpoint: [UInt8]? = nil,
                      wallSeconds: Double = 1, worker: String = "w1") throws(StoreError) {
        try commit([.result(jobId: jobId, attempt: attempt, result: result, checkpoint: checkpoint,
                            wallSeconds: wallSeconds, worker: worker)])
    }
}
