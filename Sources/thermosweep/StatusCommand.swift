import Cell
import ArgumentParser
import Foundation
import Report
import Store
import SweepProtocol
import Thermometer
import ZeroMQ

/// `thermosweep status`: the jobs of a sweep, from its database or live from its coordinator.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a sweep's jobs: done, running (where), queued, failed (why).",
        discussion: """
            --db reads the database (read-only; safe while a sweep runs). --connect asks the running \
            coordinator, which also knows each running job's step.
            """)

    @Option(help: "The sweep's database.")
    var db: String?

    @Option(help: "The running coordinator's endpoint, e.g. tcp://head-node:5555.")
    var connect: String?

    @Option(help: "How long --connect waits for the answer, in ms.")
    var timeoutMs = 3_000

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @OptionGroup var curve: CurveClientOptions

    func validate() throws {
        guard (db == nil) != (connect == nil) else {
            throw ValidationError("give either --db PATH or --connect URL.")
        }
        guard (1...600_000).contains(timeoutMs) else {
            throw ValidationError("--timeout-ms \(timeoutMs) is out of range: give 1 to 600000.")
        }
    }

    func run() throws {
        if let db {
            let report = try SweepStatus.read(path: db)
            print(json ? try report.jsonText() : report.text())
        } else if let connect {
            let reply = try LiveStatus.ask(endpoint: connect, timeout: .milliseconds(timeoutMs), curve: try curve.load())
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(reply), as: UTF8.self))
            } else {
                print(LiveStatus.text(reply, endpoint: connect))
            }
        }
    }
}

/// A sweep's state as its database holds it.
struct SweepStatus: Encodable {
    struct Row: Encodable {
        var id: Int
        var key: String
        var state: String
        var attempt: Int
        var worker: String?
        /// Network temperature (diffusion) of a done measure job.
        var temperature: Double?
        var temperatureSE: Double?
        var testAccuracy: Double?
        var wallSeconds: Double?
        var diverged: String?
        var error: String?
    }

    /// Work done per host (from the counted results' worker ids `host/pid/nonce`).
    struct Host: Encodable {
        var host: String
        var workers: Int
        var jobsDone: Int
        var busySeconds: Double
        /// Mean training samples/s of its measure jobs (burn-in and window).
        var samplesPerSecond: Double?
        /// Jobs per hour between its first and last counted result.
        var jobsPerHour: Double?
    }

    var database: String
    var specHash: String
    var total: Int
    var done: Int
    var failed: Int
    var running: Int
    var queued: Int
    var duplicateResults: Int
    var staleResults: Int
    var jobs: [Row]
    var hosts: [Host]

    static func read(path: String) throws -> SweepStatus {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("no database at \(path): give the --db of a sweep (it is created by `thermosweep sweep`).")
        }
        let store = try Store.openReadOnly(path: path)
        defer { try? store.close() }
        let counts = try store.counts()
        let results = Dictionary(try store.results().map { ($0.jobId, $0) }, uniquingKeysWith: { a, _ in a })
        let misfits = try store.misfitCounts()
        var speeds: [String: [Double]] = [:]
        let rows = try store.jobs().map { job -> Row in
            var row = Row(id: job.id, key: job.key, state: job.state.rawValue, attempt: job.attempt,
                          worker: job.leaseWorker, error: job.lastError)
            if let result = results[job.id] {
                row.worker = result.worker
                row.wallSeconds = result.wallSeconds
                if job.kind == .measure, let bytes = result.result, let cell = try? decodeCellResult(bytes).get() {
                    let network = cell.thermometer.group("network")?.estimate(.diffusion)
                    row.temperature = network?.value
                    row.temperatureSE = network?.seLogT
                    row.testAccuracy = cell.test.accuracy
                    row.diverged = cell.divergence?.description
                    speeds[Self.host(of: result.worker), default: []].append(cell.samplesPerSecond)
                }
                if result.outcome != .done { row.error = result.message }
            }
            // A queued or running job shows its last error only while it is on a retry.
            if job.state != .failed && job.state != .done && job.attempt == 1 { row.error = nil }
            return row
        }
        return SweepStatus(database: path, specHash: store.specHash, total: counts.total, done: counts.done,
                           failed: counts.failed, running: counts.running, queued: counts.queued + counts.orphaned,
                           duplicateResults: misfits.duplicate, staleResults: misfits.stale, jobs: rows,
                           hosts: Self.hosts(Array(results.values), speeds: speeds))
    }

    /// The host part of a worker id `host/pid/nonce`.
    static func host(of worker: String) -> String { String(worker.split(separator: "/").first ?? "?") }

    static func hosts(_ results: [ResultRecord], speeds: [String: [Double]]) -> [Host] {
        Dictionary(grouping: results) { host(of: $0.worker) }.map { name, done in
            let times = done.map(\.committedAt).sorted()
            let span = times.last.map { $0.timeIntervalSince(times[0]) } ?? 0
            let speed = speeds[name].map { $0.reduce(0, +) / Double($0.count) }
            return Host(host: name, workers: Set(done.map(\.worker)).count, jobsDone: done.count,
                        busySeconds: done.map(\.wallSeconds).reduce(0, +), samplesPerSecond: speed,
                        jobsPerHour: done.count > 1 && span > 0 ? Double(done.count - 1) / span * 3600 : nil)
        }.sorted { $0.host < $1.host }
    }

    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The summary line and the table of jobs.
    func text() -> String {
        var table = TextTable(["job", "key", "state", "attempt", "worker", "T (diffusion)", "± ln T", "test acc", "wall s", "note"],
                              leftAligned: [1, 2, 4, 9])
        for row in jobs {
            table.add(["#\(row.id)", row.key, row.state, "\(row.attempt)", row.worker ?? "",
                       row.temperature.map { String(format: "%.4e", $0) } ?? "",
                       row.temperatureSE.map { String(format: "%.3f", $0) } ?? "",
                       row.testAccuracy.map { String(format: "%.1f %%", $0 * 100) } ?? "",
                       row.wallSeconds.map { String(format: "%.1f", $0) } ?? "",
                       row.diverged.map { "diverged: \($0)" } ?? (row.error ?? "")])
        }
        var lines = ["\(database): grid \(specHash), \(total) jobs: \(done) done, \(failed) failed, \(running) running, \(queued) queued"]
        if duplicateResults + staleResults > 0 {
            lines.append("results not counted: \(duplicateResults) duplicate, \(staleResults) stale")
        }
        var perHost = TextTable(["host", "workers", "jobs done", "busy s", "jobs/h", "samples/s"], leftAligned: [0])
        for host in hosts {
            perHost.add([host.host, "\(host.workers)", "\(host.jobsDone)", String(format: "%.0f", host.busySeconds),
                         host.jobsPerHour.map { String(format: "%.0f", $0) } ?? "",
                         host.samplesPerSecond.map { String(format: "%.0f", $0) } ?? ""])
        }
        return (lines + [table.render()] + (hosts.isEmpty ? [] : ["", perHost.render()])).joined(separator: "\n")
    }
}

/// `status --connect`: one STATUS request to a running coordinator.
enum LiveStatus {
    static func ask(endpoint: String, timeout: Duration, curve: (server: CurvePublicKey, keys: CurveKeyPair)?) throws -> StatusReply {
        let context = try Context()
        let socket = try Socket(context, .dealer)
        defer { socket.close() }
        try socket.set(.routingID, Array(Wire.routingID(host: "status", pid: Int(getpid()), nonce: Wire.nonce()).utf8))
        if let curve {
            try socket.set(.curveServerKey, curve.server)
            try socket.set(.curvePublicKey, curve.keys.publicKey)
            try socket.set(.curveSecretKey, curve.keys.secretKey)
        }
        try socket.connect(endpoint)
        _ = try socket.send(try Message.status(StatusRequest()).encode(), dontWait: true)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            _ = try socket.poll(.readable, timeout: min(.milliseconds(50), deadline - ContinuousClock.now))
            while let frames = try socket.receive(dontWait: true) {
                if case .statusReply(let reply)? = try? Message.decode(frames) { return reply }
            }
        }
        throw CommandError("no answer from \(endpoint) within \(timeout): is a sweep running there (and are the CURVE keys right)?")
    }

    static func text(_ reply: StatusReply, endpoint: String) -> String {
        var table = TextTable(["worker", "jobs (step)"], leftAligned: [0, 1])
        for worker in reply.workers.sorted(by: { $0.name < $1.name }) {
            table.add([worker.name, zip(worker.jobs, worker.steps).map { "#\($0) (step \($1))" }.joined(separator: ", ")])
        }
        return "\(endpoint): grid \(reply.specHash), \(reply.total) jobs: \(reply.done) done, \(reply.failed) failed, "
            + "\(reply.running) running, \(reply.queued) queued; \(reply.workers.count) workers; up "
            + Console.duration(reply.uptimeSeconds) + "\n" + table.render()
    }
}
