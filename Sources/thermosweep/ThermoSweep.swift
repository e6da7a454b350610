import ArgumentParser
import Cell
import CPUCheck

@main
struct ThermoSweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thermosweep",
        abstract: "Measure how SGD temperature scales with learning rate and batch size.",
        version: version,
        subcommands: [SweepCommand.self, WorkerCommand.self, StatusCommand.self, KeygenCommand.self,
                      TrainCommand.self, BenchCommand.self, FitCommand.self, ExportCommand.self, ReportCommand.self,
                      BackupCommand.self, RetryCommand.self, CancelCommand.self])

    /// The release; a coordinator refuses workers of another one (their jobs or results could differ).
    static let release = Release.version

    /// Version and the CPU the build targets (the binary refuses to start on a CPU without it).
    /// Workers built for another CPU (e.g. `make release CPU=haswell` on older nodes) are admitted:
    /// READY carries the build CPU separately and the journal records it per worker.
    static let version = "\(release) (built for CPU \(String(cString: ts_build_cpu())))"

    /// Runs the command line, with the flags of a `sweep --grid FILE` read in first
    /// (`SweepCommand.withGridFile`).
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == SweepCommand.configuration.commandName {
            arguments = [arguments[0]] + SweepCommand.withGridFile(Array(arguments.dropFirst()))
        }
        main(arguments)
    }
}
