import ArgumentParser
import Cell
import Foundation
import SweepProtocol
import Testing
@testable import thermosweep

/// The resume command `status` prints gives the same grid: `sweep` parses a grid's
/// `sweepArguments` back into a spec with the same hash (the data hash aside, which `sweep` reads
/// from the files).
@Suite struct ResumeCommandTests {
    static let commands: [[String]] = [
        [],
        ["--model", "lenet-4-8", "--lr", "0.01,0.03", "--batch", "16:64:x2", "--seeds", "2", "--grid-seed", "7",
         "--data", "/srv/data/fashion mnist"],
        ["--synthetic", "--synthetic-seed", "3", "--synthetic-count", "500", "--warm-lr", "0.02", "--warm-batch", "32",
         "--warm-epochs", "0.5", "--momentum", "0.9", "--shuffle", "--burn-in-steps", "40", "--measure-steps", "60",
         "--calibration-probes", "0", "--probe-batch", "64"],
        ["--trivial-ms", "5", "--lr", "1e-05,0.5", "--batch", "1", "--seeds", "1", "--synthetic"],
        ["--synthetic", "--batch-mode", "shuffle,iid", "--momentum", "0.5,0"],
        ["--data", "/srv/data/digits", "--data-format", "npy", "--momentum", "0,0.5,0.9", "--lr", "0.2,0.05",
         "--grid-seed", "18446744073709551605"],
    ]

    static func grid(_ arguments: [String]) throws -> GridSpec {
        let command = try SweepCommand.parse(["--db", "s.sqlite"] + arguments)
        return try command.grid.spec(dataset: try command.dataset(hashing: false).selection)
    }

    @Test(arguments: commands) func theResumeArgumentsGiveTheSameGrid(arguments: [String]) throws {
        let original = try Self.grid(arguments)
        let resumed = try Self.grid(original.sweepArguments)
        #expect(try resumed.hash() == original.hash(), "\(arguments) → \(original.sweepArguments)")
        #expect(resumed.dataset == original.dataset)
        #expect(original.sweepArguments.count <= arguments.count)
    }

    /// `--batch-mode shuffle` is `--shuffle`; a list is an axis of the grid; both flags at once are refused.
    @Test func batchModeIsAnAxisAndShuffleItsSynonym() throws {
        let shuffle = try Self.grid(["--synthetic", "--shuffle"])
        #expect(try Self.grid(["--synthetic", "--batch-mode", "shuffle"]).hash() == shuffle.hash())
        #expect(try Self.grid(["--synthetic", "--batch-mode", "iid"]).hash() == Self.grid(["--synthetic"]).hash())
        let both = try Self.grid(["--synthetic", "--batch-mode", "shuffle,iid"])
        #expect(both.normalized.batchModeValues == [.iid, .shuffle] && both.variesBatchMode)
        #expect(both.jobs().contains { $0.key.hasSuffix("/mode=shuffle/seed=1") })
        #expect(throws: (any Error).self) { try Self.grid(["--synthetic", "--shuffle", "--batch-mode", "shuffle"]) }
    }
}
