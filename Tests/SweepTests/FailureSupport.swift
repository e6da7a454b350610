// Support for the failure tests (RELIABILITY.md, "Tests"): a coordinator that can be killed and
// restarted with the same command, workers started separately, journal reads, a seeded random
// source, the immutable attribute.
import Cell
import Foundation
import Store
import TestSupport
import Testing

/// The failure tests, in two lanes that run side by side, each one test at a time. They mostly wait
/// for the processes they start, so each runs on a thread of its own (`.ownThread`).
@Suite(.ownThread(.criticalPath)) struct FailureTests {
    /// Tests that measure windows of a few hundred milliseconds (liveness, stalls, freezes, slow
    /// jobs, admission): the processes of a second test of this lane would stretch them.
    @Suite(.serialized) struct Windows {}

    /// Tests that count rather than time: crashes, restarts, chaos, a full disk, hostile traffic.
    @Suite(.serialized) struct Recovery {}
}

/// Short timing for every process of a test (PROTOCOL.md, "Timing").
struct TestTiming {
    var heartbeatMs = 100
    var liveness = 3
    var stallMs = 1000
    var readoptGraceMs = 1000
    var retryLimit = 3

    /// The liveness window in seconds.
    var livenessSeconds: Double { Double(heartbeatMs * liveness) / 1000 }

    var sweepFlags: [String] {
        ["--heartbeat-ms", "\(heartbeatMs)", "--liveness", "\(liveness)", "--stall-ms", "\(stallMs)",
         "--readopt-grace-ms", "\(readoptGraceMs)", "--retry-limit", "\(retryLimit)"]
    }

    var workerFlags: [String] { ["--heartbeat-ms", "\(heartbeatMs)", "--liveness", "\(liveness)"] }
}

/// The flags of a trivial grid: jobs of `millis` ms over `lr` × `batch` × `seeds` seeds.
func trivialGrid(millis: Int, lr: String = "0.1", batch: String = "8", seeds: Int = 1) -> [String] {
    ["--trivial-ms", "\(millis)", "--lr", lr, "--batch", batch, "--seeds", "\(seeds)"]
}

/// A coordinator (`thermosweep sweep`) that a test kills and restarts with the same command.
final class CoordinatorProcess {
    let scratch: Scratch
    let db: String
    let arguments: [String]
    private let name: String
    private let endpointFile: String
    private(set) var process: Spawned
    /// Processes of this coordinator started so far (the first run is 1).
    private(set) var runs = 1

    /// Starts `sweep --db <scratch>/sweep.sqlite` with `grid` and `timing`; `bind` defaults to
    /// `tcp://127.0.0.1:0`, which a restart cannot keep: give an `ipc://` endpoint to restart.
    init(_ scratch: Scratch, grid: [String], timing: TestTiming, bind: String? = nil, name: String = "sweep") throws {
        self.scratch = scratch
        self.name = name
        db = scratch.file("\(name).sqlite")
        endpointFile = scratch.file("\(name).endpoint")
        arguments = ["sweep", "--db", db, "--endpoint-file", endpointFile, "--bind", bind ?? "tcp://127.0.0.1:0"]
            + grid + timing.sweepFlags
        process = try Spawned(arguments, outputPrefix: scratch.file("\(name)-1"))
    }

    /// The endpoint the running coordinator bound.
    func boundEndpoint(timeout: Double = 30) -> String? { endpoint(in: endpointFile, timeout: timeout) }

    /// Every run's stderr, in order.
    var stderr: String {
        (1...runs).map { (try? String(contentsOfFile: outputPrefix($0) + ".err", encoding: .utf8)) ?? "" }
            .joined()
    }

    private func outputPrefix(_ run: Int) -> String {
        scratch.file("\(name)-\(run)")
    }

    /// `kill -9` and start the same command again; returns once the new process bound its endpoint.
    @discardableResult
    func killAndRestart() throws -> Bool {
        process.kill9()
        unlink(endpointFile)
        runs += 1
        process = try Spawned(arguments, outputPrefix: outputPrefix(runs))
        return boundEndpoint() != nil
    }

    /// Starts the same command again after the previous process ended.
    func rerun() throws {
        precondition(!process.isRunning, "rerun needs the previous coordinator to have ended")
        unlink(endpointFile)
        runs += 1
        process = try Spawned(arguments, outputPrefix: outputPrefix(runs))
    }
}

/// Starts `thermosweep worker` connected to `url` without data (trivial jobs only) unless `data`
/// gives data-set flags; it reconnects after a coordinator loss.
func startWorker(_ scratch: Scratch, url: String, name: String, timing: TestTiming, data: [String] = ["--no-data"],
                 extra: [String] = [], run: Int = 1) throws -> Spawned {
    try Spawned(["worker", "--connect", url, "--name", name] + data + timing.workerFlags + extra,
                outputPrefix: scratch.file("worker-\(name)-\(run)"))
}

/// A trivial worker whose first `count` jobs stop advancing after `steps` steps while its socket
/// and heartbeats stay alive (the fault worker built beside `thermosweep`).
func startHangingWorker(_ scratch: Scratch, url: String, name: String, timing: TestTiming, afterSteps steps: Int,
                        count: Int = 1) throws -> Spawned {
    try Spawned(["--connect", url, "--name", name, "--announce-release", binaryVersion,
                 "--stall-job-after-steps", "\(steps)", "--stall-job-count", "\(count)"] + timing.workerFlags,
                outputPrefix: scratch.file("worker-\(name)"), executable: Binary.faultWorker)
}

/// Stops `processes`: SIGTERM to those still running, then SIGKILL to those that outlive
/// `grace` seconds. Returns the pids that needed SIGKILL.
@discardableResult
func stopAll(_ processes: [Spawned], grace: Double = 5) -> [pid_t] {
    for process in processes where process.isRunning { process.signal(SIGCONT); process.signal(SIGTERM) }
    let deadline = Date().addingTimeInterval(grace)
    var killed: [pid_t] = []
    for process in processes {
        if process.wait(timeout: max(0, deadline.timeIntervalSinceNow)) == nil {
            killed.append(process.pid)
            process.kill9()
        }
    }
    return killed
}

// MARK: - The journal, read-only

/// Every event of the journal in order (empty while it cannot be read).
func journalEvents(_ db: String) -> [EventRecord] {
    guard let store = try? Store.openReadOnly(path: db) else { return [] }
    defer { try? store.close() }
    return (try? store.events(limit: 1_000_000)) ?? []
}

/// Every job of the journal in id order (empty while it cannot be read).
func journalJobs(_ db: String) -> [JobRecord] {
    guard let store = try? Store.openReadOnly(path: db) else { return [] }
    defer { try? store.close() }
    return (try? store.jobs()) ?? []
}

/// Every result row in job order.
func journalResults(_ db: String) throws -> [ResultRecord] {
    let store = try Store.openReadOnly(path: db)
    defer { try? store.close() }
    return try store.results()
}

/// The number of done jobs, or 0 while the journal cannot be read.
func doneCount(_ db: String) -> Int { (try? counts(db))?.done ?? 0 }

/// The pid in a routing id `host/pid/nonce`.
func pid(ofIdentity identity: String?) -> pid_t? {
    guard let parts = identity?.split(separator: "/"), parts.count >= 3 else { return nil }
    return pid_t(parts[parts.count - 2])
}

/// Waits until job `jobId` is running at `attempt`; returns its record.
func waitForLease(_ db: String, jobId: Int, attempt: Int, timeout: Double) -> JobRecord? {
    var found: JobRecord?
    eventually(timeout: timeout) {
        found = journalJobs(db).first { $0.id == jobId && $0.state == .running && $0.attempt == attempt }
        return found != nil
    }
    return found
}

/// Journal invariants every failure test ends with: each job ended exactly once, its one result is
/// its final attempt's, and no job was leased again after it was done.
func expectExactlyOnce(_ db: String, total: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let store = try Store.openReadOnly(path: db)
    defer { try? store.close() }
    let counts = try store.counts()
    #expect(counts.done == total, "done \(counts.done) of \(total): \(counts)", sourceLocation: sourceLocation)
    #expect(counts.total == total, sourceLocation: sourceLocation)
    let results = try store.results()
    #expect(results.count == total, sourceLocation: sourceLocation)
    #expect(Set(results.map(\.jobId)).count == results.count, "one result row per job", sourceLocation: sourceLocation)
    #expect(results.allSatisfy { $0.outcome == .done }, sourceLocation: sourceLocation)
    let jobs = Dictionary(uniqueKeysWithValues: try store.jobs().map { ($0.id, $0) })
    for result in results {
        #expect(jobs[result.jobId]?.attempt == result.attempt,
                "job \(result.jobId): result of attempt \(result.attempt), job at \(jobs[result.jobId]?.attempt ?? -1)",
                sourceLocation: sourceLocation)
    }
    // One result row per job (above) is "done once"; no lease may follow it.
    let doneAt = Dictionary(results.map { ($0.jobId, $0.committedAt) }, uniquingKeysWith: min)
    for event in try store.events(limit: 1_000_000) where event.kind == "dispatched" || event.kind == "adopted" {
        guard let job = event.jobId, let done = doneAt[job] else { continue }
        #expect(event.at < done, "job \(job) \(event.kind) after it was done", sourceLocation: sourceLocation)
    }
}

// MARK: - Results without what depends on the run

/// `bytes` (a JSON object) without the keys `dropping` at any depth, re-encoded with sorted keys:
/// equal for equal results of different runs.
func normalizedJSON(_ bytes: [UInt8], dropping: Set<String> = ["wallSeconds", "samplesPerSecond"]) throws -> String {
    func strip(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            return object.filter { !dropping.contains($0.key) }.mapValues(strip)
        }
        if let array = value as? [Any] { return array.map(strip) }
        return value
    }
    let object = strip(try JSONSerialization.jsonObject(with: Data(bytes)))
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

// MARK: - Seeded randomness

/// The seed of a seeded test: `TS_SEED` when set (to replay a failing run), else `fallback`.
func replayableSeed(_ fallback: UInt64) -> UInt64 {
    ProcessInfo.processInfo.environment["TS_SEED"].flatMap(UInt64.init) ?? fallback
}

/// Sleeps `seconds`.
func pause(_ seconds: Double) { usleep(useconds_t(max(0, seconds) * 1_000_000)) }

// MARK: - The immutable attribute

/// Runs `/usr/bin/chattr flag paths`; returns its exit status (nil if it did not end in 10 s).
@discardableResult
func chattr(_ flag: String, _ paths: [String], scratch: Scratch) -> Int32? {
    guard let process = try? Spawned([flag] + paths, outputPrefix: scratch.file("chattr"), executable: "/usr/bin/chattr")
    else { return nil }
    return process.wait(timeout: 10)
}

/// Whether `chattr +i` makes a file unwritable here (root on ext4, xfs, btrfs; not on tmpfs or
/// without CAP_LINUX_IMMUTABLE).
func immutableAttributeWorks() -> Bool {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr"), let scratch = try? Scratch("chattrProbe")
    else { return false }
    defer { scratch.remove() }
    let probe = scratch.file("probe")
    guard FileManager.default.createFile(atPath: probe, contents: Data("x".utf8)) else { return false }
    defer { chattr("-i", [probe], scratch: scratch) }
    guard chattr("+i", [probe], scratch: scratch) == 0 else { return false }
    return (try? Data("y".utf8).write(to: URL(fileURLWithPath: probe))) == nil
}

/// Pids of live processes (zombies aside) whose command line mentions `text`, e.g. a test's
/// scratch folder: what a test leaves behind.
func liveProcesses(mentioning text: String) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry), pid != getpid(),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard let state = fields.first, state != "Z" else { return nil }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return String(decoding: cmdline, as: UTF8.self).contains(text) ? pid : nil
    }
}

/// Rows of a CSV export (no quoted commas in these columns) as column → value.
func csvRows(_ path: String) throws -> [[String: String]] {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init) else {
        return []
    }
    return lines.dropFirst().map { line in
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return Dictionary(uniqueKeysWithValues: zip(header, fields))
    }
}
