import ArgumentParser
import CPUCheck

@main
struct ThermoSweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thermosweep",
        abstract: "Measure how SGD temperature scales with learning rate and batch size.",
        version: version,
        subcommands: [SweepCommand.self, WorkerCommand.self, StatusCommand.self, KeygenCommand.self,
                      TrainCommand.self, BenchCommand.self])

    /// Version and the CPU the build targets (the binary refuses to start on a CPU without it).
    static let version = "0.1.0 (built for CPU \(String(cString: ts_build_cpu())))"
}
