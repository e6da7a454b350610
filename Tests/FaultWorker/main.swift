// A worker with faults that the product never has, for the multi-process tests: it announces a
// given release (the version check), and its trivial jobs can hang behind a live socket (the stall
// watchdog). Built beside `thermosweep`, never shipped in it.
//
// thermosweep-fault-worker --connect URL --name NAME --announce-release V [--heartbeat-ms MS]
//     [--liveness N] [--stall-job-after-steps N [--stall-job-count N]]
import Foundation
import SweepProtocol
import Worker

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard flag.hasPrefix("--"), let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("usage: see the header of Tests/FaultWorker/main.swift\n".utf8))
        exit(64)
    }
    options[String(flag.dropFirst(2))] = value
}
guard let endpoint = options["connect"], let release = options["announce-release"] else {
    FileHandle.standardError.write(Data("--connect and --announce-release are required\n".utf8))
    exit(64)
}
let config = WorkerConfig(
    endpoint: endpoint, name: options["name"] ?? "fault", slots: 1,
    heartbeatInterval: Int(options["heartbeat-ms"] ?? "").map { .milliseconds($0) } ?? TimingDefaults.heartbeat,
    liveness: Int(options["liveness"] ?? "") ?? TimingDefaults.liveness, version: release, buildCPU: "x86-64",
    datasets: [], host: ProcessInfo.processInfo.hostName, pid: Int(getpid()))
var runner: any JobRunner = TrivialJobRunner()
if let steps = options["stall-job-after-steps"].flatMap(Int.init) {
    runner = StallingJobRunner(inner: runner, afterSteps: steps, count: Int(options["stall-job-count"] ?? "") ?? 1)
}
let loop = try WorkerLoop(config: config, runner: runner)
signal(SIGTERM, SIG_IGN)
let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
term.setEventHandler { loop.stop() }
term.resume()
let end = loop.run()
exit(end.exitStatus)
