import ArgumentParser
import Cell
import Foundation
import SweepProtocol
import Testing
@testable import thermosweep

/// `sweep` and `train` accept exactly what the cell contract accepts: random option values at and
/// around every limit are refused as a usage error (exit 64) naming the option and the range, or
/// accepted; and every job of an accepted grid passes the check a worker makes on its JOB.
@Suite struct OptionLimitTests {
    /// An option, the cell setting it sets, and values at and around the setting's limits.
    struct Limit {
        let option: String
        let field: CellField
        let values: [Double]
    }

    static let lr = [CellLimits.minimumLearningRate, CellLimits.minimumLearningRate.nextDown, 10, 10.0.nextUp, 0.05, 0,
                     -0.5]
    static let batch: [Double] = [1, 0, 4096, 4097, 16]
    /// Values at and around every limit of every cell setting.
    static let values: [CellField: [Double]] = [
        .learningRate: lr, .warmStartLearningRate: lr,
        .batchSize: batch, .warmStartBatchSize: batch, .probeBatchSize: batch,
        .burnInSteps: [0, -1, 10_000_000, 10_000_001, 30],
        .measureSteps: [20, 19, 15, 10_000_000, 10_000_001, 40],
        .warmStartEpochs: [0, -0.5, 1000, 1000.5, 0.5],
        .momentum: [0, -0.1, 0.999_999, 1, 0.999_999_99, 0.9],
        .calibrationProbes: [0, 1, 2, 1024, 1025, 4],
    ]

    /// Every cell setting, by its option (the same in `sweep` and `train`).
    static let limits = CellField.allCases.map {
        Limit(option: CellProtocolOptions.option($0), field: $0, values: values[$0] ?? [])
    }

    @Test func everySettingHasValuesAroundItsLimitsAndAnOption() throws {
        #expect(Set(Self.values.keys.map(\.rawValue)) == Set(CellField.allCases.map(\.rawValue)))
        // Both commands parse every option with a valid value.
        for limit in Self.limits {
            let value = try #require(limit.values.first { CellLimits.accepts(limit.field, $0) })
            _ = try SweepCommand.parse(["--db=s.sqlite", "--synthetic", "\(limit.option)=\(Self.text(value))"])
            _ = try TrainCommand.parse(["--synthetic", "\(limit.option)=\(Self.text(value))"])
        }
    }

    /// The text of `value` as a user types it: whole numbers without a fraction.
    static func text(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }

    /// 1 to 3 of `limits` with random values: the arguments, and whether each value is accepted.
    static func draw(_ limits: [Limit], _ rng: inout SplitMix64) -> (args: [String], refused: [Limit]) {
        var args: [String] = [], refused: [Limit] = []
        var pool = limits
        for _ in 0..<(1 + rng.below(3)) {
            let limit = pool.remove(at: rng.below(pool.count))
            let value = limit.values[rng.below(limit.values.count)]
            args += ["\(limit.option)=\(text(value))"]
            if !CellLimits.accepts(limit.field, value) { refused.append(limit) }
        }
        return (args, refused)
    }

    /// Parses 400 random option sets with `Command`: each is refused as a usage error naming a
    /// refused option and its range exactly when the cell contract refuses one of its values, and
    /// `accepted` checks what an accepted one leads to.
    static func check<Command: ParsableCommand>(_ command: Command.Type, _ limits: [Limit], seed: UInt64,
                                                base: [String], accepted: (Command) throws -> Void) throws {
        var rng = SplitMix64(seed: seed)
        var counts = (accepted: 0, refused: 0)
        for _ in 0..<400 {
            let (args, refused) = draw(limits, &rng)
            // An axis the draw left out gets a valid value.
            let defaults = base.filter { d in !args.contains { $0.hasPrefix(d.prefix { $0 != "=" }) } }
            do {
                let parsed = try Command.parse(defaults + args)
                #expect(refused.isEmpty, "accepted \(args), which the cell contract refuses")
                counts.accepted += 1
                try accepted(parsed)
            } catch {
                counts.refused += 1
                let text = Command.message(for: error)
                #expect(Command.exitCode(for: error).rawValue == 64, "\(args): \(text)")
                #expect(!refused.isEmpty, "refused \(args), which the cell contract accepts: \(text)")
                #expect(refused.contains { text.contains($0.option) } && text.contains("give "), "\(args): \(text)")
            }
        }
        #expect(counts.accepted > 50 && counts.refused > 50, "\(counts)")
    }

    @Test func sweepAcceptsExactlyTheGridsWhoseJobsAWorkerAccepts() throws {
        let base = ["--db=/nonexistent/sweep.sqlite", "--synthetic", "--model=lenet-4-8", "--seeds=2", "--lr=0.1",
                    "--batch=16"]
        try Self.check(SweepCommand.self, Self.limits, seed: 2_026, base: base) { command in
            // What a worker checks: WELCOME's grid, every JOB of it (the encoder runs the
            // receiver's validation), the cell each JOB names, and that cell's contract.
            let grid = try command.grid.spec(dataset: .synthetic()).normalized
            #expect(throws: Never.self) { try Message.welcome(Welcome(coordinator: "c0ffee00", grid: grid)).encode() }
            #expect(throws: Never.self) { try grid.validate() }
            for job in grid.jobs() {
                let lease = JobLease(job, attempt: 1, checkpoint: job.kind == .measure ? [1] : nil)
                #expect(throws: Never.self) { try Message.job(lease).encode() }
                #expect(throws: Never.self) { try Job(lease, in: grid).spec.cell?.validate() }
            }
        }
    }

    @Test func trainAcceptsExactlyTheCellsTheRunnerAccepts() throws {
        try Self.check(TrainCommand.self, Self.limits, seed: 2_027, base: ["--synthetic", "--model=lenet-4-8"]) {
            command in
            #expect(throws: Never.self) { try command.spec.validate() }
        }
    }

    /// The process itself: a refused grid exits 64 before it creates anything.
    @Test func theBinaryRefusesAnOutOfRangeGridBeforeAnyWork() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ts-limits-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for bad in [["--measure-steps", "15"], ["--lr", "5e-7"], ["--warm-epochs", "2000"]] {
            let r = try CLI.run(["sweep", "--db", folder.appendingPathComponent("s.sqlite").path, "--synthetic",
                                 "--model", "lenet-4-8", "--lr", "0.1", "--batch", "16", "--seeds", "1",
                                 "--local-workers", "1"] + bad)
            #expect(r.status == 64, "\(bad): \(r.stderr)")
            #expect(r.stderr.contains(bad[0]) && r.stderr.contains("is out of range: give"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder.path), "\(bad) created \(folder.path)")
        }
    }
}
