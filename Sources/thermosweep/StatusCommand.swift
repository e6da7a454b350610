import Cell
import ArgumentParser
import Foundation
import SweepProtocol
import Session
import Store
import ZeroMQ

/// `thermosweep status`: the jobs of a sweep, from its database or live from its coordinator.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a sweep's jobs: done, running (where), queued, failed (why), cancelled.",
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

    @Option(help: "table (a summary, or every job with --all), json (one object, every job), csv (one row per job; --db only) or grid (the sweep's grid as a file for `sweep --grid`; --db only).")
    var format = "table"

    @Flag(help: "List every job with its temperature (default: a summary and the jobs not done).")
    var all = false

    @Option(help: "List only the jobs in this state (queued, running, orphaned, done, failed, cancelled); repeatable.")
    var state: [String] = []

    @OptionGroup var curve: CurveClientOptions

    func validate() throws {
        guard (db == nil) != (connect == nil) else {
            throw ValidationError("give either --db PATH or --connect URL.")
        }
        guard ["table", "json", "csv", "grid"].contains(format) else {
            throw ValidationError("unknown --format '\(format)': choose table, json, csv or grid.")
        }
        if format == "csv" && db == nil {
            throw ValidationError("--format csv lists the jobs of a database: give --db (the live answer has no per-job rows).")
        }
        if format == "grid" && db == nil {
            throw ValidationError("--format grid writes the grid of a database: give --db.")
        }
        let states = JobState.allCases.map(\.rawValue)
        if let bad = state.first(where: { !states.contains($0) }) {
            throw ValidationError("--state '\(bad)' is not a job state: give one of \(states.joined(separator: ", ")).")
        }
        guard (1...600_000).contains(timeoutMs) else {
            throw ValidationError("--timeout-ms \(timeoutMs) is out of range: give 1 to 600000.")
        }
    }

    func run() throws {
        try exitOnFailure(show)
    }

    private func show() throws {
        if let db, format == "grid" {
            let store = try Store.openReadOnly(path: db)
            defer { try? store.close() }
            print(GridFile.text(store.spec), terminator: "")
        } else if let db {
            let report = try SweepStatus.read(path: db)
            switch format {
            case "json": print(try report.jsonText())
            case "csv": print(report.csvText(), terminator: "")
            default: print(report.text(all: all, states: Set(state)))
            }
        } else if let connect {
            let reply = try LiveStatus.ask(endpoint: connect, timeout: .milliseconds(timeoutMs), curve: try curve.load())
            if format == "json" {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(reply), as: UTF8.self))
            } else {
                print(LiveStatus.text(reply, endpoint: connect))
            }
        }
    }
}
