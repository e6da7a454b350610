import ArgumentParser
import Foundation
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
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ValidationError {
            // Refused after parsing (a layer list that does not fit the data, a data folder
            // without a data set): the usage line of the command given, not the top level's.
            let name = Swift.type(of: command).configuration.commandName ?? ""
            let text = "Error: \(error.message)\nUsage: thermosweep \(name) <options>\n"
                + "  See 'thermosweep \(name) --help' for more information.\n"
            FileHandle.standardError.write(Data(text.utf8))
            exit(withError: ExitCode.validationFailure)
        } catch {
            exit(withError: error)
        }
    }
}
