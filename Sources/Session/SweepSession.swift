// One run of a sweep's coordinator, as a library type: the journal, the ROUTER loop, the local
// worker processes, a graceful stop, and the exports when every job has ended. `thermosweep sweep`
// is a thin shell around it (options → settings, signals → `requestStop`, outcome → exit status),
// and tests run it in-process.
import Cell
import Coordinator
import Foundation
import Report
import Store
import SweepProtocol
import Synchronization
import ZeroMQ

/// Everything one run of a sweep needs.
public struct SweepSettings: Sendable {
    /// The SQLite journal (created with its folder).
    public var database: String
    /// The grid, with the content hash of its data set (nil: any, for trivial grids).
    public var grid: GridSpec
    /// The data set workers must offer (nil: any).
    public var dataset: DatasetOffer?
    /// The version workers must announce.
    public var release: String
    /// `tcp://host:port` or `ipc://path`; port 0 picks a free one.
    public var bind = "tcp://127.0.0.1:0"
    /// Written with the bound endpoint once listening; removed when the run ends.
    public var endpointFile: String?
    /// Heartbeats, liveness, stall window, retry limit, re-adoption grace (its version, data set and
    /// nonce are filled in from the fields above).
    public var timing = SchedulerTiming()
    /// CURVE: this coordinator's keys and the worker keys it admits (local workers get their own).
    public var curve: CoordinatorCurve?
    /// Worker processes of `workerExecutable` to start on this machine (one job each).
    public var localWorkers = 0
    public var workerExecutable: String
    /// How a local worker loads the data: `["--no-data"]`, `["--synthetic", …]`, `["--data", dir]`.
    public var workerDataArguments: [String] = ["--no-data"]
    /// No line per job event (progress and warnings only).
    public var quiet = false
    /// Where the exports go when every job has ended; nil writes none (trivial grids).
    public var exportFolder: String?
    /// Accept a grid that leaves out values or seeds of the journal's (`--drop`): their jobs stay
    /// in the journal, outside the grid.
    public var dropRemoved = false

    public init(database: String, grid: GridSpec, dataset: DatasetOffer?, release: String, workerExecutable: String) {
        self.database = database
        self.grid = grid
        self.dataset = dataset
        self.release = release
        self.workerExecutable = workerExecutable
    }
}

/// How a run ended.
public enum SweepOutcome: Sendable, Equatable {
    /// Every job has ended: the status table, and the exports (with the whole-network law) when
    /// the settings asked for them.
    case finished(status: String, exports: [String], summaryLine: String?)
    /// Stopped by `requestStop`; the journal is resumable.
    case stopped
}

/// Why a run could not go on.
public struct SweepFailure: Error, CustomStringConvertible, Sendable {
    /// 2: the journal holds another grid or another coordinator holds it; 1: anything else.
    public let exitStatus: Int32
    public let description: String
    /// Whether the console already said what happened and what to do.
    public let reported: Bool
}

/// One run of a sweep's coordinator.
public final class SweepSession: @unchecked Sendable {
    // Safe to share: `settings` and `console` are immutable; `loop` and `locals` are set once
    // under `lock` before `run` blocks, and read under it by `requestStop`.
    public let settings: SweepSettings
    private let console: Console
    private let lock = NSLock()
    private var loop: CoordinatorLoop?
    private var locals: LocalWorkers?
    private let stopping = Atomic<Int>(0)

    public init(_ settings: SweepSettings, console: Console = Console()) {
        self.settings = settings
        self.console = console
    }

    /// Stops the run gracefully: local workers get SIGTERM first, so that their BYEs release their
    /// jobs in the journal, then the loop stops a second later. A second request stops at once.
    public func requestStop(reason: String) {
        let requests = stopping.add(1, ordering: .relaxed).newValue
        let (loop, locals) = lock.withLock { (self.loop, self.locals) }
        guard requests == 1 else {
            loop?.stopFlag.request()
            return
        }
        console.event("\(reason): stopping (the database stays resumable; re-run the same command to go on)")
        locals?.signalAll(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + (locals == nil ? 0 : 1)) { loop?.stopFlag.request() }
    }

    /// Runs the sweep until every job has ended or `requestStop`; resumes what the journal holds.
    public func run() throws(SweepFailure) -> SweepOutcome {
        let s = settings
        func fail(_ status: Int32, _ message: String, reported: Bool = false) -> SweepFailure {
            SweepFailure(exitStatus: status, description: message, reported: reported)
        }
        var config = SchedulerConfig(version: s.release, dataset: s.dataset, specHash: "", coordinatorNonce: Wire.nonce())
        config.timing = s.timing
        config.jobLines = !s.quiet
        var options = CoordinatorLoopOptions()
        var localCurve: LocalCurve?
        if var curve = s.curve {
            if s.localWorkers > 0 {
                do { localCurve = try LocalCurve(server: curve.serverKeys.publicKey) } catch {
                    throw fail(1, "\(error)")
                }
                if let localCurve { curve.allowedWorkers.insert(localCurve.keys.publicKey) }
            }
            options.curve = curve
        }
        defer { localCurve?.remove() }

        let folder = URL(fileURLWithPath: s.database).deletingLastPathComponent().path
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw fail(1, "cannot create the folder of --db \(s.database): \(error.localizedDescription)")
        }
        let start: CoordinatorStart
        do {
            start = try CoordinatorStart.open(path: s.database, spec: s.grid, dropping: s.dropRemoved, config: config)
        } catch {
            console.event("cannot open the sweep: \(error)")
            switch error {
            case .specMismatch, .gridShrinks, .inUse, .newerSchema, .notAJournal: throw fail(2, "\(error)", reported: true)
            default: throw fail(1, "\(error)", reported: true)
            }
        }
        defer { try? start.store.close() }
        if let change = start.store.change { console.event(change.summary(width: Console.eventWidth)) }
        // Jobs that ran out of attempts under a lower limit, and cells whose warm start is now done,
        // start again (the scheduler's start decides it; the count here only words the line).
        var decisions = JobDecisions(jobs: start.store.jobList, journal: start.restored)
        let requeued = Set(decisions.resume(limit: config.timing.retryLimit).changes.compactMap { change -> Int? in
            if case let .retried(ref, _, _, _) = change { return ref.jobId }
            return nil
        })
        let journaled = Dictionary(start.restored.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let revived = start.store.jobList.filter { job in
            requeued.contains(job.id) && journaled[job.id]?.failure == .dependency
                && job.dependsOn.map { journaled[$0]?.state == .done } == true
        }.count
        let raised = requeued.count - revived
        let resumed = decisions.journal.filter(\.state.isEnded).count
        console.event("grid \(start.store.specHash): \(s.grid.jobCount) jobs, \(resumed) already ended"
                          + (raised > 0 ? " (\(raised) more queued again under --retry-limit \(config.timing.retryLimit))" : "")
                          + (revived > 0 ? " (\(revived) cells queued again: their warm start is done)" : "")
                          + "; database \(s.database)")

        let console = self.console, quiet = s.quiet
        let log: @Sendable (String) -> Void = { line in
            if !quiet || line.hasPrefix("JOURNAL") || line.contains("refused") || line.contains("lost") {
                console.event(line)
            }
        }
        let warnedIdle = Atomic<Bool>(false)
        options.observer = { [self] progress in
            console.progress(Console.progressLine(progress, width: Console.columns()), force: progress.isFinal)
            let unfinished = progress.count(.done) + progress.count(.failed) + progress.count(.cancelled) < progress.total
            guard let workers = lock.withLock({ locals }) else {
                // No local workers: after a few seconds without any worker, say how to add one.
                if progress.workers == 0 && unfinished && progress.elapsedSeconds >= Self.workerHintDelay
                    && !warnedIdle.exchange(true, ordering: .relaxed), let endpoint = lock.withLock({ self.loop?.endpoint }) {
                    console.event(workerHint(endpoint: endpoint))
                }
                return
            }
            let left = workers.reap(restart: stopping.load(ordering: .relaxed) == 0)
            if left == 0 && progress.workers == 0 && unfinished && !warnedIdle.exchange(true, ordering: .relaxed) {
                console.event("no local worker is left and none is connected: the sweep waits for "
                              + "`thermosweep worker --connect …` (or stop it with Ctrl-C and re-run to resume)")
            }
        }
        let loop: CoordinatorLoop
        do {
            loop = try CoordinatorLoop(start: start, context: try Context(), endpoint: s.bind, options: options, log: log)
        } catch {
            let message = "cannot listen on \(s.bind): \(Self.bindProblem(s.bind, error))"
            console.event(message)
            throw fail(1, message, reported: true)
        }
        console.event("listening on \(loop.endpoint)")
        if let endpointFile = s.endpointFile {
            unlink(endpointFile)
            do throws(DurableFile.Failure) { try DurableFile.write(Array((loop.endpoint + "\n").utf8), to: endpointFile) } catch {
                throw fail(1, "cannot write --endpoint-file \(endpointFile): \(error.detail)")
            }
        }
        // A stale endpoint must not send the next run's workers (e.g. a Slurm array) to a dead port.
        defer { if let endpointFile = s.endpointFile { unlink(endpointFile) } }

        var workers: LocalWorkers?
        if s.localWorkers > 0 && resumed < s.grid.jobCount {
            let arguments = workerArguments(endpoint: Self.localEndpoint(loop.endpoint), curve: localCurve)
            do {
                workers = try LocalWorkers(count: s.localWorkers, executable: s.workerExecutable,
                                           arguments: { ["worker", "--name", "local-\($0)"] + arguments }, log: log)
            } catch {
                throw fail(1, "\(error)")
            }
        }
        lock.withLock {
            self.loop = loop
            self.locals = workers
        }
        // A stop requested before the loop existed takes effect now.
        if stopping.load(ordering: .relaxed) > 0 {
            workers?.signalAll(SIGTERM)
            loop.stopFlag.request()
        }
        let end: CoordinatorLoopEnd
        do {
            end = try loop.run()
        } catch {
            console.finishProgress()
            console.event("STOPPED: \(error)")
            console.event("nothing after the last commit was acknowledged; fix the cause and re-run the same command to resume")
            workers?.stop(grace: 3)
            throw fail(1, "the journal could not be written: \(error)", reported: true)
        }
        console.finishProgress()
        if let workers {
            if end == .finished { workers.waitForExit(timeout: 5) }
            workers.stop(grace: 3)
        }
        // The store closes last (the deferred close), after the reads below: the last connection
        // to close folds the WAL in and removes it, leaving the database as one file.
        if end == .stopped {
            console.event("stopped; re-run the same command to resume")
            return .stopped
        }
        let status: String
        do { status = try SweepStatus.read(start.store, path: s.database, cells: false).text() } catch { throw fail(1, "\(error)") }
        guard let out = s.exportFolder else { return .finished(status: status, exports: [], summaryLine: nil) }
        // The fit and exports are redone from the database alone by `fit`, `export` and `report`.
        do {
            let written = try ReportWriter.writeAllReturningSummary(storePath: s.database, outDirectory: out)
            return .finished(status: status, exports: written.files, summaryLine: written.summaryLine)
        } catch {
            console.event("the sweep is complete, but its exports could not be written: \(error)")
            console.event("fix the cause and run: thermosweep export --db \(s.database) --out \(out)")
            throw fail(1, "the exports could not be written: \(error)", reported: true)
        }
    }

    /// Why `bind` cannot be listened on, in words, with what to give instead.
    static func bindProblem(_ bind: String, _ error: any Error) -> String {
        guard let zmq = error as? ZMQError else { return "\(error)" }
        switch zmq.code.rawValue {
        case EADDRINUSE:
            return "the port is in use (another sweep, or another program): give another port, or port 0 for any free one"
        case EADDRNOTAVAIL:
            return "no network interface of this machine has that address: give one of its addresses, "
                + "0.0.0.0 for all, or 127.0.0.1 for this machine only"
        case ENODEV:
            return "this machine has no network interface of that name: give an address (0.0.0.0 for all)"
        case EACCES:
            return "permission denied (ports below 1024 need root; an ipc:// folder may not be writable)"
        case ENOENT:
            return "the folder of the ipc:// socket file does not exist: create it or give another path"
        default:
            return "\(zmq)"
        }
    }

    /// Seconds without any worker after which a sweep without local workers says how to add one.
    static let workerHintDelay = 5.0

    /// How to give this sweep workers: the exact `worker` command line, and `--local-workers`.
    func workerHint(endpoint: String) -> String {
        var command = ["thermosweep", "worker", "--connect", endpoint] + settings.workerDataArguments
        if settings.curve != nil { command += ["--curve-server-key", "COORDINATOR.pub", "--curve-key", "WORKER.key"] }
        var hint = "no worker yet: run `\(command.joined(separator: " "))` (add --jobs N for N cores), "
            + "or re-run this command with --local-workers N"
        if endpoint.hasPrefix("tcp://127.") || endpoint.hasPrefix("tcp://localhost:") || endpoint.hasPrefix("ipc://") {
            hint += "; this coordinator is reachable from this machine only (--bind tcp://0.0.0.0:PORT for others)"
        }
        return hint
    }

    /// What a local worker connects to: a wildcard bind becomes loopback.
    public static func localEndpoint(_ bound: String) -> String {
        for wildcard in ["tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"] where bound.hasPrefix(wildcard) {
            return "tcp://127.0.0.1:" + bound.dropFirst(wildcard.count)
        }
        return bound
    }

    /// The arguments every local worker gets (after its name).
    private func workerArguments(endpoint: String, curve: LocalCurve?) -> [String] {
        var arguments = ["--connect", endpoint, "--exit-on-coordinator-loss", "--quiet",
                         "--heartbeat-ms", "\(settings.timing.heartbeat.inMilliseconds)", "--liveness", "\(settings.timing.liveness)"]
        arguments += settings.workerDataArguments
        if let curve { arguments += ["--curve-server-key", curve.serverFile, "--curve-key", curve.keyFile] }
        return arguments
    }
}

/// An ephemeral CURVE identity for local workers, in a private temporary folder.
struct LocalCurve {
    let keys: CurveKeyPair
    let folder: String
    var keyFile: String { folder + "/local.key" }
    var serverFile: String { folder + "/coordinator.pub" }

    init(server: CurvePublicKey) throws {
        keys = try CurveKeyPair.generate()
        folder = NSTemporaryDirectory() + "thermosweep-\(getpid())-\(Wire.nonce())"
        guard mkdir(folder, 0o700) == 0 else {
            throw CommandError("cannot create \(folder): \(String(cString: strerror(errno)))")
        }
        try KeyFiles.write(keys.secretKey.z85 + "\n", to: keyFile, mode: 0o600)
        try KeyFiles.write(server.z85 + "\n", to: serverFile, mode: 0o600)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}
