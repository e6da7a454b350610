// What `status` shows: a sweep's state from its database (read-only, safe while it runs), or live
// from its coordinator.
import Cell
import Foundation
import Report
import Store
import SweepProtocol
import ZeroMQ

/// A sweep's state as its database holds it.
public struct SweepStatus: Encodable {
    public struct Row: Encodable {
        public var id: Int
        public var key: String
        /// `warm-start`, `measure` or `trivial`.
        public var kind: String
        /// The cell's η and |B| (nil for a warm start) and the training seed.
        public var learningRate: Double?
        public var batchSize: Int?
        public var seed: UInt64?
        public var state: String
        public var attempt: Int
        public var worker: String?
        /// Network temperature (diffusion) of a done measure job.
        public var temperature: Double?
        public var temperatureSE: Double?
        public var testAccuracy: Double?
        public var wallSeconds: Double?
        public var diverged: String?
        public var error: String?
        /// True for a job a `sweep --drop` left out of the grid: kept in the journal, not run if
        /// it had not ended, not exported (absent otherwise).
        public var dropped: Bool?
    }

    /// Work done per host (from the counted results' worker ids `host/pid/nonce`).
    public struct Host: Encodable {
        public var host: String
        public var workers: Int
        public var jobsDone: Int
        public var busySeconds: Double
        /// Mean training samples/s of its measure jobs (burn-in and window).
        public var samplesPerSecond: Double?
        /// Jobs per hour between its first and last counted result.
        public var jobsPerHour: Double?
    }

    public var database: String
    public var specHash: String
    /// The grid's jobs (dropped ones aside); an orphaned job counts as queued, and the cancelled
    /// ones are the rest of the total (`counts.cancelled`).
    public var counts: StatusCounts
    /// Jobs a `sweep --drop` left out of the grid, still in the journal.
    public var droppedJobs: Int
    /// Each time the grid grew or dropped values, oldest first (`adding 4 jobs: seeds 1 → 2`).
    public var gridChanges: [String]
    public var duplicateResults: Int
    public var staleResults: Int
    public var jobs: [Row]
    public var hosts: [Host]
    /// The command that resumes the sweep (its grid's flags; workers and timing are free).
    public var resumeCommand: String

    /// The state of the sweep whose database is `path`.
    public static func read(path: String) throws -> SweepStatus {
        let store = try Store.openReadOnly(path: path)
        defer { try? store.close() }
        return try read(store, path: path)
    }

    /// The same from a journal that is open already (the sweep's own, when it ends). Not
    /// `cells`: the closing summary of a sweep, which shows no job's cell or measurements and no
    /// done job. Each measure result is then read only for its speed (its top level; a 50 kB
    /// result takes twice as long to read whole), `jobs` holds only the jobs not done, and their
    /// rows go without η, |B|, seed, temperature, test accuracy and divergence.
    public static func read(_ store: Store, path: String, cells: Bool = true) throws -> SweepStatus {
        let history = try store.gridHistory()
        let results = Dictionary(try store.results(of: cells ? .all : .notDone).map { ($0.jobId, $0) },
                                 uniquingKeysWith: { a, _ in a })
        let misfits = try store.misfitCounts()
        var speeds: [String: [Double]] = [:]
        if !cells {
            for result in try store.results(of: .kind(.measure)) {
                // A record of this format, as the whole decode below would take it.
                if let bytes = result.result, let record = try? JSONValue.parseTopLevel(bytes),
                   case .string(CellResult.currentFormat)? = record["format"],
                   let speed = record["samplesPerSecond"]?.double {
                    speeds[Self.host(of: result.worker), default: []].append(speed)
                }
            }
        }
        // The grid's jobs (the journal may hold more: those of values dropped from the grid).
        let inGrid = Set(store.jobList.lazy.map(\.id))
        let descriptors = cells ? Dictionary(store.jobList.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }) : [:]
        var states = StatusCounts(total: 0, done: 0, failed: 0, running: 0, queued: 0)
        var dropped = 0
        if !cells {
            // The done jobs are counted, not listed, unless some lie outside the grid: the journal
            // holds every job of the grid, so as many jobs as the grid's are the grid's.
            let journal = try store.counts()
            if journal.total == inGrid.count {
                states.done = journal.done
            } else {
                for id in try store.doneJobIds() {
                    if inGrid.contains(id) { states.done += 1 } else { dropped += 1 }
                }
            }
            states.total = states.done
        }
        let rows = try store.jobs(notDone: !cells).map { job -> Row in
            let descriptor = descriptors[job.id]
            // Deriving a job's spec costs more than the rest of its row.
            let spec = cells ? descriptor?.spec : nil
            var row = Row(id: job.id, key: job.key, kind: job.kind.rawValue, learningRate: spec?.cell?.learningRate,
                          batchSize: spec?.cell?.batchSize, seed: spec?.cell?.seed ?? spec?.warmStart?.seed,
                          state: job.state.rawValue, attempt: job.attempt, worker: job.leaseWorker, error: job.lastError)
            if let result = results[job.id] {
                row.worker = result.worker
                row.wallSeconds = result.wallSeconds
                if cells, job.kind == .measure, let bytes = result.result, let cell = try? decodeCellResult(bytes).get() {
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
            if !job.state.isEnded && job.attempt == 1 { row.error = nil }
            guard inGrid.contains(job.id) else {
                row.dropped = true
                dropped += 1
                return row
            }
            states.total += 1
            switch job.state {
            case .done: states.done += 1
            case .failed: states.failed += 1
            case .running: states.running += 1
            case .queued, .orphaned: states.queued += 1
            case .cancelled: break
            }
            return row
        }
        return SweepStatus(database: path, specHash: store.specHash, counts: states,
                           droppedJobs: dropped,
                           gridChanges: history.dropFirst().map(\.summary),
                           duplicateResults: misfits.duplicate, staleResults: misfits.stale, jobs: rows,
                           hosts: Self.hosts(try store.workerTotals(), speeds: speeds),
                           resumeCommand: store.spec.sweepCommand(database: path))
    }

    /// The host part of a worker id `host/pid/nonce`.
    static func host(of worker: String) -> String { String(worker.split(separator: "/").first ?? "?") }

    static func hosts(_ totals: [WorkerTotals], speeds: [String: [Double]]) -> [Host] {
        Dictionary(grouping: totals) { host(of: $0.worker) }.map { name, workers in
            let done = workers.map(\.results).reduce(0, +)
            let first = workers.map(\.firstCommit).min(), last = workers.map(\.lastCommit).max()
            let span = first.flatMap { first in last.map { $0.timeIntervalSince(first) } } ?? 0
            let speed = speeds[name].map { $0.reduce(0, +) / Double($0.count) }
            return Host(host: name, workers: workers.count, jobsDone: done,
                        busySeconds: workers.map(\.wallSeconds).reduce(0, +), samplesPerSecond: speed,
                        jobsPerHour: done > 1 && span > 0 ? Double(done - 1) / span * 3600 : nil)
        }.sorted { $0.host < $1.host }
    }

    /// One CSV row per job, numbers as numbers (η, |B|, seed, temperature), for pandas or R.
    public func csvText() -> String {
        var csv = CSVWriter(header: ["id", "key", "kind", "lr", "batch", "seed", "state", "attempt", "worker",
                                     "temperature", "temperature_se_ln", "test_accuracy", "wall_s", "diverged", "error"])
        func number<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "" }
        for row in jobs {
            csv.append(["\(row.id)", row.key, row.kind, number(row.learningRate), number(row.batchSize), number(row.seed),
                        row.state, "\(row.attempt)", row.worker ?? "", number(row.temperature), number(row.temperatureSE),
                        number(row.testAccuracy), number(row.wallSeconds), row.diverged ?? "", row.error ?? ""])
        }
        return csv.text
    }

    /// The counts stand beside the other fields, as in STATUS-REPLY.
    public func encode(to encoder: any Encoder) throws {
        try counts.encode(to: encoder, beside: [CodingKeys.cancelled: counts.cancelled, .database: database, .specHash: specHash,
                                                .duplicateResults: duplicateResults, .staleResults: staleResults,
                                                .droppedJobs: droppedJobs, .gridChanges: gridChanges,
                                                .jobs: jobs, .hosts: hosts, .resumeCommand: resumeCommand])
    }

    private enum CodingKeys: String, CodingKey {
        case cancelled, database, specHash, duplicateResults, staleResults, droppedJobs, gridChanges, jobs, hosts, resumeCommand
    }

    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The summary line, then the jobs: with `all`, every job with its temperature; otherwise only
    /// those not done (failed first, with their reasons), at most `limit` of them, and how to see
    /// the rest. `states` keeps only the jobs in those states (every one of them).
    public func text(all: Bool = false, states: Set<String> = [], limit: Int = 20) -> String {
        var lines = ["\(database): grid \(specHash), \(counts.summary)"]
        for change in gridChanges { lines.append("grid changed: \(change)") }
        if droppedJobs > 0 {
            lines.append("\(droppedJobs) jobs dropped from the grid (--drop): kept in the journal, not run, not exported")
        }
        if duplicateResults + staleResults > 0 {
            lines.append("results not counted: \(duplicateResults) duplicate, \(staleResults) stale")
        }
        let selected = states.isEmpty ? jobs : jobs.filter { states.contains($0.state) }
        if all || !states.isEmpty {
            lines.append(selected.isEmpty ? "no job is \(states.sorted().joined(separator: " or "))." : jobTable(selected))
        } else {
            let order = ["failed": 0, "running": 1, "orphaned": 1, "queued": 2, "cancelled": 3]
            let open = jobs.filter { $0.state != "done" && $0.dropped != true }.sorted { (order[$0.state] ?? 3, $0.id) < (order[$1.state] ?? 3, $1.id) }
            if open.isEmpty {
                lines.append("every job is done.")
            } else {
                var table = TextTable(["job", "key", "state", "attempt", "worker", "note"], leftAligned: [1, 2, 4, 5])
                for row in open.prefix(limit) {
                    table.add(["#\(row.id)", row.key, row.state, "\(row.attempt)", row.worker ?? "", row.error ?? ""])
                }
                lines.append(table.render())
                if open.count > limit { lines.append("… and \(open.count - limit) more jobs not done.") }
            }
            lines.append("every job with its temperature: thermosweep status --db \(database) --all")
        }
        if counts.done + counts.failed + counts.cancelled < counts.total {
            lines.append("to resume (add --local-workers N, or start workers):\n  \(resumeCommand)")
        }
        var perHost = TextTable(["host", "workers", "jobs done", "busy s", "jobs/h", "samples/s"], leftAligned: [0])
        for host in hosts {
            perHost.add([host.host, "\(host.workers)", "\(host.jobsDone)", String(format: "%.0f", host.busySeconds),
                         host.jobsPerHour.map { String(format: "%.0f", $0) } ?? "",
                         host.samplesPerSecond.map { String(format: "%.0f", $0) } ?? ""])
        }
        return (lines + (hosts.isEmpty ? [] : ["", perHost.render()])).joined(separator: "\n")
    }

    /// Every job of `rows` with its measurements.
    private func jobTable(_ rows: [Row]) -> String {
        var table = TextTable(["job", "key", "state", "attempt", "worker", "T (diffusion)", "± ln T", "test acc", "wall s", "note"],
                              leftAligned: [1, 2, 4, 9])
        for row in rows {
            table.add(["#\(row.id)", row.key, row.dropped == true ? row.state + ", dropped" : row.state,
                       "\(row.attempt)", row.worker ?? "", row.temperature.map { String(format: "%.4e", $0) } ?? "",
                       row.temperatureSE.map { String(format: "%.3f", $0) } ?? "",
                       row.testAccuracy.map { String(format: "%.1f %%", $0 * 100) } ?? "",
                       row.wallSeconds.map { String(format: "%.1f", $0) } ?? "",
                       row.diverged.map { "diverged: \($0)" } ?? (row.error ?? "")])
        }
        return table.render()
    }
}

extension StatusCounts {
    /// Jobs not counted in the other states: the cancelled ones (`thermosweep cancel`), which the
    /// wire's counts leave out.
    var cancelled: Int { max(0, total - done - failed - running - queued) }

    /// `6 jobs: 0 done, 0 failed, 2 running, 4 queued`, and `, 1 cancelled` when there are any.
    var summary: String {
        "\(total) jobs: \(done) done, \(failed) failed, \(running) running, \(queued) queued"
            + (cancelled > 0 ? ", \(cancelled) cancelled" : "")
    }
}

/// `status --connect`: one STATUS request to a running coordinator.
public enum LiveStatus {
    public static func ask(endpoint: String, timeout: Duration, curve: (server: CurvePublicKey, keys: CurveKeyPair)?) throws -> StatusReply {
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
                do {
                    for case .statusReply(let reply) in try Message.decodeBatch(frames) { return reply }
                } catch where error.kind == .wrongVersion {
                    throw CommandError("the coordinator at \(endpoint) speaks another protocol (\(error.detail)): "
                                       + "ask it with the thermosweep binary that runs the sweep")
                } catch {
                    continue
                }
            }
        }
        throw CommandError("no answer from \(endpoint) within \(timeout): is a sweep running there (and are the CURVE keys right)?")
    }

    public static func text(_ reply: StatusReply, endpoint: String) -> String {
        var table = TextTable(["worker", "jobs (step)"], leftAligned: [0, 1])
        for worker in reply.workers.sorted(by: { $0.name < $1.name }) {
            table.add([worker.name, zip(worker.jobs, worker.steps).map { "#\($0) (step \($1))" }.joined(separator: ", ")])
        }
        return "\(endpoint): grid \(reply.specHash), \(reply.counts.summary); \(reply.workers.count) workers; up "
            + Console.duration(reply.uptimeSeconds) + "\n" + table.render()
    }
}
