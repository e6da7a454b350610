import ArgumentParser
import Cell
import Coordinator
import Foundation
import Report
import Store
import SweepProtocol
import Synchronization
import Trainer
import ZeroMQ

/// `thermosweep sweep`: the coordinator of a grid (and, with --local-workers, its workers too).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of cells over workers; re-run the same command to resume.",
        discussion: """
            Every job's state is committed to the database before it is acknowledged, so a sweep \
            that was interrupted (Ctrl-C, kill -9, a crashed machine) resumes where it stopped when \
            the same command runs again: finished cells never run twice. A different grid on the \
            same database is refused with the difference. Exit status: 0 when every job ended; 130 \
            after SIGINT/SIGTERM (resumable); 2 when the database belongs to another grid or \
            another coordinator holds it; 64 for a bad option (usage printed); 1 for any other \
            failure (data set, key files, the journal cannot be written: the message says which).
            """)

    @Option(help: "The sweep's SQLite database (created with its folder if missing).")
    var db: String

    @OptionGroup var grid: GridOptions
    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Where workers connect: tcp://0.0.0.0:5555 for other machines, tcp://127.0.0.1:0 (any free port) or ipc://PATH.")
    var bind = "tcp://127.0.0.1:0"

    @Option(help: "Write the bound endpoint (with the real port) to this file once listening.")
    var endpointFile: String?

    @Option(help: "Worker processes of this binary to start on this machine (one job each).")
    var localWorkers = 0

    @Option(help: "This coordinator's CURVE secret key file (from `thermosweep keygen`); turns CURVE on.")
    var curveSecret: String?

    @Option(help: "File of the worker public keys to admit, one per line (needs --curve-secret).")
    var curveAllow: String?

    @OptionGroup var timing: TimingOptions

    @Option(help: "Minimum stall window in ms: a running job whose step counter does not advance this long is re-queued.")
    var stallMs = TimingDefaults.stallWindowMinimumMs

    @Option(help: "Failed attempts (lost, stalled, transient) after which a job is marked failed.")
    var retryLimit = TimingDefaults.retryLimit

    @Option(help: "After a restart, how long leases of the previous run wait for their worker, in ms.")
    var readoptGraceMs = TimingDefaults.readoptGraceMs

    @Flag(help: "No line per job event (progress and warnings only).")
    var quiet = false

    @Option(help: "Folder for cells.csv, filters.csv, fits.json and report.html, written when every job has ended (default: the database's folder).")
    var out: String?

    func validate() throws {
        guard (0...256).contains(localWorkers) else {
            throw ValidationError("--local-workers \(localWorkers) is out of range: give 0 to 256.")
        }
        guard bind.hasPrefix("tcp://") || bind.hasPrefix("ipc://") else {
            throw ValidationError("--bind '\(bind)' is not a tcp:// or ipc:// endpoint, e.g. tcp://0.0.0.0:5555.")
        }
        guard (curveSecret == nil) == (curveAllow == nil) else {
            throw ValidationError("CURVE needs both --curve-secret and --curve-allow (or neither).")
        }
        guard (1_000...86_400_000).contains(stallMs) else {
            throw ValidationError("--stall-ms \(stallMs) is out of range: give 1000 to 86400000.")
        }
        guard (1...1000).contains(retryLimit) else {
            throw ValidationError("--retry-limit \(retryLimit) is out of range: give 1 to 1000.")
        }
        guard (0...3_600_000).contains(readoptGraceMs) else {
            throw ValidationError("--readopt-grace-ms \(readoptGraceMs) is out of range: give 0 to 3600000.")
        }
        _ = try grid.spec(dataset: .synthetic())  // axes, model and protocol settings, before any work
    }

    /// The data set of the grid, its selection and (for a training grid) its content hash.
    func dataset() throws -> (selection: DatasetSelection, hash: String?) {
        let selection: DatasetSelection = dataOptions.synthetic
            ? .synthetic(seed: dataOptions.syntheticSeed, count: dataOptions.syntheticCount)
            : .fashionMNIST(directory: URL(fileURLWithPath: dataOptions.data).standardizedFileURL.path)
        guard grid.trivialMs == nil else { return (selection, nil) }
        let model = try grid.spec(dataset: selection).model
        do { return (selection, try dataOptions.load(for: model).train.contentHash) } catch {
            throw CommandError("\(error)")
        }
    }

    func run() throws {
        // Local workers are reaped with waitpid: SIGCHLD must not be ignored (an inherited SIG_IGN
        // would make the kernel reap them behind our back).
        signal(SIGCHLD, SIG_DFL)
        let console = Console()
        let (selection, hash) = try dataset()
        var spec = try grid.spec(dataset: selection)
        spec.datasetHash = hash
        var config = SchedulerConfig(version: ThermoSweep.release,
                                     dataset: hash.map { DatasetOffer(name: selection.name, hash: $0) },
                                     specHash: "", coordinatorNonce: Wire.nonce())
        config.heartbeatMs = Int64(timing.heartbeatMs)
        config.liveness = Int64(timing.liveness)
        config.stallWindowMinimumMs = Int64(stallMs)
        config.retryLimit = retryLimit
        config.readoptGraceMs = Int64(readoptGraceMs)
        var options = CoordinatorLoopOptions()
        var localCurve: LocalCurve?
        if let curveSecret, let curveAllow {
            let server = try KeyFiles.secret(curveSecret)
            var allowed = Set(try KeyFiles.publicKeys(curveAllow))
            if localWorkers > 0 {
                let local = try LocalCurve(server: server.publicKey)
                allowed.insert(local.keys.publicKey)
                localCurve = local
            }
            options.curve = CoordinatorCurve(serverKeys: server, allowedWorkers: allowed)
        }
        defer { localCurve?.remove() }

        let folder = URL(fileURLWithPath: db).deletingLastPathComponent().path
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw CommandError("cannot create the folder of --db \(db): \(error.localizedDescription)")
        }
        let start: CoordinatorStart
        do {
            start = try CoordinatorStart.open(path: db, spec: spec, config: config)
        } catch {
            console.event("cannot open the sweep: \(error)")
            switch error {
            case .specMismatch, .inUse, .newerSchema, .notAJournal: throw ExitCode(2)
            default: throw ExitCode.failure
            }
        }
        let resumed = start.restored.filter(\.state.isEnded).count
        console.event("grid \(start.store.specHash): \(spec.jobCount) jobs, \(resumed) already ended; database \(db)")

        let stopping = Atomic<Bool>(false)
        let quiet = self.quiet
        let log: @Sendable (String) -> Void = { line in
            if !quiet || line.hasPrefix("JOURNAL") || line.contains("refused") || line.contains("lost") {
                console.event(line)
            }
        }
        let locals = LocalWorkersHandle()
        let warnedIdle = Atomic<Bool>(false)
        options.observer = { progress in
            console.progress(Console.progressLine(progress), force: progress.isFinal)
            guard let workers = locals.value else { return }
            let left = workers.reap(restart: !stopping.load(ordering: .relaxed))
            let unfinished = progress.count(.done) + progress.count(.failed) < progress.total
            if left == 0 && progress.workers == 0 && unfinished && !warnedIdle.exchange(true, ordering: .relaxed) {
                console.event("no local worker is left and none is connected: the sweep waits for "
                              + "`thermosweep worker --connect …` (or stop it with Ctrl-C and re-run to resume)")
            }
        }
        let context = try Context()
        let loop: CoordinatorLoop
        do {
            loop = try CoordinatorLoop(start: start, context: context, endpoint: bind, options: options, log: log)
        } catch {
            console.event("cannot listen on \(bind): \(error)")
            throw ExitCode.failure
        }
        console.event("listening on \(loop.endpoint)")
        if let endpointFile { unlink(endpointFile) }
        if let endpointFile { try writeAtomically(loop.endpoint + "\n", to: endpointFile) }
        // A stale endpoint must not send the next run's workers (e.g. a Slurm array) to a dead port.
        defer { if let endpointFile { unlink(endpointFile) } }

        if localWorkers > 0 && resumed < spec.jobCount {
            let endpoint = Self.localEndpoint(loop.endpoint)
            let arguments = workerArguments(endpoint: endpoint, curve: localCurve)
            locals.value = try LocalWorkers(count: localWorkers, executable: LocalWorkers.currentExecutable(),
                                            arguments: { ["worker", "--name", "local-\($0)"] + arguments }, log: log)
        }
        let trap = SignalTrap { signal in
            if stopping.exchange(true, ordering: .relaxed) {
                loop.stopFlag.request()
                return
            }
            console.event("signal \(signal): stopping (the database stays resumable; re-run the same command to go on)")
            // Workers first: their BYEs release their jobs in the journal before the loop stops.
            locals.value?.signalAll(SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + (locals.value == nil ? 0 : 1)) { loop.stopFlag.request() }
        }
        let end: CoordinatorLoopEnd
        do {
            end = try loop.run()
        } catch {
            console.finishProgress()
            console.event("STOPPED: \(error)")
            console.event("nothing after the last commit was acknowledged; fix the cause and re-run the same command to resume")
            locals.value?.stop(grace: 3)
            throw ExitCode.failure
        }
        withExtendedLifetime(trap) {}
        console.finishProgress()
        if let workers = locals.value {
            if end == .finished { workers.waitForExit(timeout: 5) }
            workers.stop(grace: 3)
        }
        try? start.store.close()
        if end == .stopped {
            console.event("stopped; re-run the same command to resume")
            throw ExitCode(130)
        }
        print(try SweepStatus.read(path: db).text())
        print("database: \(db)  (thermosweep status --db \(db))")
        guard grid.trivialMs == nil else { return }
        // The fit and exports are redone from the database alone by `fit`, `export` and `report`.
        let outFolder = out ?? URL(fileURLWithPath: db).deletingLastPathComponent().path
        do {
            let written = try ReportWriter.writeAllReturningSummary(storePath: db, outDirectory: outFolder)
            print("exports: " + written.files.joined(separator: ", "))
            print(written.summaryLine)
        } catch {
            console.event("the sweep is complete, but its exports could not be written: \(error)")
            console.event("fix the cause and run: thermosweep export --db \(db) --out \(outFolder)")
            throw ExitCode.failure
        }
    }

    /// What a local worker connects to: a wildcard bind becomes loopback.
    static func localEndpoint(_ bound: String) -> String {
        for wildcard in ["tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"] where bound.hasPrefix(wildcard) {
            return "tcp://127.0.0.1:" + bound.dropFirst(wildcard.count)
        }
        return bound
    }

    /// The arguments every local worker gets (after its name).
    func workerArguments(endpoint: String, curve: LocalCurve?) -> [String] {
        var arguments = ["--connect", endpoint, "--exit-on-coordinator-loss",
                         "--heartbeat-ms", "\(timing.heartbeatMs)", "--liveness", "\(timing.liveness)"]
        if grid.trivialMs != nil {
            arguments.append("--no-data")
        } else if dataOptions.synthetic {
            arguments += ["--synthetic", "--synthetic-count", "\(dataOptions.syntheticCount)",
                          "--synthetic-seed", "\(dataOptions.syntheticSeed)"]
        } else {
            arguments += ["--data", dataOptions.data]
        }
        if let curve { arguments += ["--curve-server-key", curve.serverFile, "--curve-key", curve.keyFile] }
        return arguments
    }

    func writeAtomically(_ text: String, to path: String) throws {
        do throws(DurableFile.Failure) { try DurableFile.write(Array(text.utf8), to: path) } catch {
            throw CommandError("cannot write --endpoint-file \(path): \(error.detail)")
        }
    }
}

/// The local workers, once started (set on the main thread before the loop runs; read by the
/// loop's observer and the signal handler).
final class LocalWorkersHandle: @unchecked Sendable {
    // Safe to share: `value` is written once, before the loop thread and signal handlers read it.
    var value: LocalWorkers?
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

/// 8 random hex digits.
