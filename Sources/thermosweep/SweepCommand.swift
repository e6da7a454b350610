import ArgumentParser
import Cell
import Coordinator
import Foundation
import Session
import SweepProtocol
import Trainer
import Worker

/// `thermosweep sweep`: the coordinator of a grid (and, with --local-workers, its workers too).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of cells over workers; re-run the same command to resume.",
        discussion: """
            Every job's state is committed to the database before it is acknowledged, so a sweep \
            that was interrupted (Ctrl-C, kill -9, a crashed machine) resumes where it stopped when \
            the same command runs again: finished cells never run twice. A grid that adds values to \
            an axis or seeds grows the sweep: only the new jobs run. One that leaves values out is \
            refused unless --drop is given; any other change (model, protocol, data) is refused \
            with the difference. --grid FILE reads the grid options from a JSON file; `status --format \
            grid` writes a sweep's grid as one. Exit status: 0 when every job ended; 130 \
            after SIGINT/SIGTERM (resumable); 2 when the database belongs to another grid or \
            another coordinator holds it; 64 for a bad option (usage printed); 1 for any other \
            failure (data set, key files, the journal cannot be written: the message says which).
            """)

    @Option(help: "The sweep's SQLite database (created with its folder if missing).")
    var db: String

    /// Read by `withGridFile` before the command line is parsed (the file's flags come first).
    @Option(name: .customLong("grid"),
            help: ArgumentHelp("A grid file: a JSON object of the grid options below without --, e.g. {\"lr\": [0.05, 0.1], \"seeds\": 2} (README, \"Grid files\"). Options given here override it.",
                               valueName: "file"))
    var gridFile: String?

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
    var stallMs = Int(TimingDefaults.stallWindowMinimum.inMilliseconds)

    @Option(help: "Failed attempts (lost, stalled, transient) after which a job is marked failed.")
    var retryLimit = TimingDefaults.retryLimit

    @Option(help: "After a restart, how long leases of the previous run wait for their worker, in ms.")
    var readoptGraceMs = Int(TimingDefaults.readoptGrace.inMilliseconds)

    @Flag(help: "No line per job event (progress and warnings only).")
    var quiet = false

    @Flag(help: "Accept a grid that leaves out values or seeds of the database's: their jobs stay in the database, are not run, and are not exported.")
    var drop = false

    @Option(help: "Folder for cells.csv, filters.csv, fits.json and report.html, written when every job has ended (default: the database's folder).")
    var out: String?

    func validate() throws {
        if let gridFile { _ = try Self.gridFileArguments(gridFile) }
        guard (0...256).contains(localWorkers) else {
            throw ValidationError("--local-workers \(localWorkers) is out of range: give 0 to 256.")
        }
        if case .failure(let error) = EndpointAddress.parse(bind, forBinding: true) { throw ValidationError("--bind \(error)") }
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

    /// The data set of the grid, its selection and (for a training grid, when `hashing`) its
    /// content hash.
    func dataset(hashing: Bool = true) throws -> (selection: DatasetSelection, hash: String?) {
        let selection: DatasetSelection = dataOptions.synthetic
            ? .synthetic(seed: dataOptions.syntheticSeed, count: dataOptions.syntheticCount)
            : .fashionMNIST(directory: URL(fileURLWithPath: dataOptions.data).standardizedFileURL.path,
                            format: dataOptions.format?.rawValue)
        guard grid.trivialMs == nil && hashing else { return (selection, nil) }
        let model = try grid.spec(dataset: selection).model
        // A layer list that does not fit the data is a usage error (exit 64), before any job runs.
        do { return (selection, try dataOptions.load(for: model).train.contentHash) } catch let error as ValidationError {
            throw error
        } catch {
            throw CommandError("\(error)")
        }
    }

    func run() throws {
        // Local workers are reaped with waitpid: SIGCHLD must not be ignored (an inherited SIG_IGN
        // would make the kernel reap them behind our back).
        signal(SIGCHLD, SIG_DFL)
        let (selection, hash) = try dataset()
        var spec = try grid.spec(dataset: selection)
        spec.datasetHash = hash
        var settings = SweepSettings(database: db, grid: spec,
                                     dataset: hash.map { DatasetOffer(name: selection.name, hash: $0) },
                                     release: ThermoSweep.release, workerExecutable: LocalWorkers.currentExecutable())
        settings.bind = bind
        settings.endpointFile = endpointFile
        settings.timing.heartbeat = .milliseconds(timing.heartbeatMs)
        settings.timing.liveness = timing.liveness
        settings.timing.stallWindowMinimum = .milliseconds(stallMs)
        settings.timing.retryLimit = retryLimit
        settings.timing.readoptGrace = .milliseconds(readoptGraceMs)
        if let curveSecret, let curveAllow {
            settings.curve = CoordinatorCurve(serverKeys: try KeyFiles.secret(curveSecret),
                                              allowedWorkers: Set(try KeyFiles.publicKeys(curveAllow)))
        }
        settings.localWorkers = localWorkers
        settings.workerDataArguments = grid.trivialMs != nil ? ["--no-data"]
            : dataOptions.synthetic ? ["--synthetic", "--synthetic-count", "\(dataOptions.syntheticCount)",
                                       "--synthetic-seed", "\(dataOptions.syntheticSeed)"]
            : ["--data", dataOptions.data] + (dataOptions.dataFormat.map { ["--data-format", $0] } ?? [])
        settings.quiet = quiet
        settings.dropRemoved = drop
        // Trivial grids measure nothing: no exports.
        if grid.trivialMs == nil { settings.exportFolder = out ?? URL(fileURLWithPath: db).deletingLastPathComponent().path }
        // The exports are written when every job has ended: a folder that cannot take them is
        // refused now, not after the sweep.
        if let out {
            do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
                throw ValidationError("--out \(out) cannot be created (\(error.localizedDescription)): give a folder you can write.")
            }
            guard access(out, W_OK) == 0 else {
                throw ValidationError("--out \(out) is not writable: give a folder you can write.")
            }
        }

        let session = SweepSession(settings)
        let trap = SignalTrap { signal in session.requestStop(reason: "signal \(signal)") }
        defer { withExtendedLifetime(trap) {} }
        let outcome: SweepOutcome
        do { outcome = try session.run() } catch {
            if error.reported { throw ExitCode(error.exitStatus) }
            throw CommandError(error.description)
        }
        guard case let .finished(status, exports, summaryLine) = outcome else { throw ExitCode(130) }
        print(status)
        print("database: \(db)  (thermosweep status --db \(db))")
        if !exports.isEmpty { print("exports: " + exports.joined(separator: ", ")) }
        if let summaryLine { print(summaryLine) }
    }
}
