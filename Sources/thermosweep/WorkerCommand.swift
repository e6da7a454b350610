import ArgumentParser
import CPUCheck
import Foundation
import Session
import SweepProtocol
import Trainer
import Worker

/// `thermosweep worker`: connects to a coordinator and runs the jobs it hands out.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs for a sweep's coordinator until the sweep is over.",
        discussion: """
            The worker logs what it does: the endpoint it connects to, its admission, each job \
            started and finished; while the coordinator is silent, why (connection refused, no \
            route, a name that does not resolve, no answer).

            Exit status: 0 when the coordinator ends the sweep (BYE) or after SIGINT/SIGTERM (the \
            worker says BYE and its jobs go back to the queue); 2 when the coordinator refuses this \
            worker (version or data set differ; the message names both), its CURVE key, or when \
            the CURVE settings cannot work (CURVE at one end only, a --curve-server-key that is \
            not the coordinator's); 64 for a bad option; 1 when the coordinator is lost and \
            --exit-on-coordinator-loss is set, or on a failure (e.g. the data set cannot be read). \
            Without that flag a silent coordinator is retried with backoff 1 s doubling to 32 s.
            """)

    @Option(help: "The coordinator's endpoint, e.g. tcp://head-node:5555.")
    var connect: String

    @Option(help: "Jobs run at once, one thread each.")
    var jobs = 1

    @Option(help: "Display name (default: host/pid).")
    var name: String?

    @OptionGroup var dataOptions: DataOptions

    @Flag(help: "Load no data set: serve only trivial jobs (tests, benchmarks).")
    var noData = false

    @OptionGroup var timing: TimingOptions

    @Flag(help: "Exit when the coordinator falls silent instead of reconnecting (local workers).")
    var exitOnCoordinatorLoss = false

    @Flag(help: "Log only problems: no line per job (local workers, whose coordinator logs each job).")
    var quiet = false

    @OptionGroup var curve: CurveClientOptions

    func validate() throws {
        guard (1...1024).contains(jobs) else { throw ValidationError("--jobs \(jobs) is out of range: give 1 to 1024.") }
        if case .failure(let error) = EndpointAddress.parse(connect) { throw ValidationError("--connect \(error)") }
        if let name, let problem = Ready.problem(withName: name) {
            throw ValidationError("--name '\(name)' \(problem): give a short name without control characters.")
        }
    }

    func run() throws {
        let runner: any JobRunner
        var offers: [DatasetOffer] = []
        if noData {
            runner = TrivialJobRunner()
        } else {
            let data: (train: Dataset, test: Dataset)
            do { data = try dataOptions.load(for: nil) } catch { throw CommandError("\(error)") }
            let selection: DatasetSelection = dataOptions.synthetic
                ? .synthetic(seed: dataOptions.syntheticSeed, count: dataOptions.syntheticCount)
                : .fashionMNIST(directory: dataOptions.data)
            let cells = CellJobRunner(train: data.train, test: data.test, datasetName: selection.name)
            offers = [cells.offer]
            runner = cells
        }
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(getpid())
        var config = WorkerConfig(
            endpoint: connect, name: name ?? "\(host.split(separator: ".").first.map(String.init) ?? host)/\(pid)",
            slots: jobs, heartbeatInterval: .milliseconds(timing.heartbeatMs), liveness: timing.liveness,
            exitOnCoordinatorLoss: exitOnCoordinatorLoss, version: ThermoSweep.release,
            buildCPU: String(cString: ts_build_cpu()), datasets: offers, host: host, pid: pid)
        if let keys = try curve.load() { config.curve = WorkerCurve(serverKey: keys.server, keys: keys.keys) }
        config.quiet = quiet
        let exit = try { () throws -> WorkerExit in
            let loop = try WorkerLoop(config: config, runner: runner)
            let trap = SignalTrap { [weak loop] _ in loop?.stop() }
            defer { withExtendedLifetime(trap) {} }
            return loop.run()
        }()
        // The loop and its ZeroMQ context are gone here: closing the context waits (up to the
        // socket's LINGER) until a BYE still queued has left, so the coordinator releases this
        // worker's jobs at once instead of finding them orphaned after a restart.
        switch exit {
        case .refused, .unauthorized: break  // logged by the loop, with the reason
        case .bye(let reason): config.log("the coordinator ended the sweep: \(reason)")
        case .coordinatorLost: config.log("exiting, as --exit-on-coordinator-loss asks")
        case .stopped: config.log("stopped")
        case .failed(let message): config.log("failed: \(message)")
        }
        if exit.exitStatus != 0 { throw ExitCode(exit.exitStatus) }
    }
}
