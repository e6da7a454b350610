import Foundation
import TestSupport
import Testing

/// `status --format grid` writes a sweep's grid as a file; `sweep --grid` on it resumes the same
/// database, and grows it with a flag given over the file.
@Suite(.ownThread) struct GridFileSweepTests {
    @Test func theGridFileOfASweepResumesItAndAFlagOverItGrowsIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite"), file = scratch.file("study.json")
        let first = try Spawned(["sweep", "--db", db, "--trivial-ms", "1", "--lr", "0.1,0.2", "--batch", "8",
                                 "--seeds", "1", "--momentum", "0,0.5", "--synthetic", "--synthetic-count", "500",
                                 "--local-workers", "1"], outputPrefix: scratch.file("first"))
        #expect(first.wait(timeout: 60) == 0, "\(first.stderr)")

        func gridFile(_ name: String) throws -> String {
            let status = try Spawned(["status", "--db", db, "--format", "grid"], outputPrefix: scratch.file("status-" + name))
            #expect(status.wait(timeout: 30) == 0, "\(status.stderr)")
            return status.stdout
        }
        let written = try gridFile("first")
        try written.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(written.contains("\"momentum\": [0.0, 0.5]") && written.contains("\"synthetic\": true"), "\(written)")

        let again = try Spawned(["sweep", "--db", db, "--grid", file, "--local-workers", "1"],
                                outputPrefix: scratch.file("again"))
        #expect(again.wait(timeout: 60) == 0, "\(again.stderr)")
        #expect(again.stderr.contains("4 jobs, 4 already ended"), "\(again.stderr)")
        let same = try gridFile("same")
        #expect(same == written, "\(same)")

        let grown = try Spawned(["sweep", "--db", db, "--grid", file, "--seeds", "2", "--local-workers", "1"],
                                outputPrefix: scratch.file("grown"))
        #expect(grown.wait(timeout: 60) == 0, "\(grown.stderr)")
        #expect(grown.stderr.contains("adding 4 jobs: seeds 1 → 2"), "\(grown.stderr)")
        let grownFile = try gridFile("grown")
        #expect(grownFile == written.replacingOccurrences(of: "\"seeds\": 1", with: "\"seeds\": 2"), "\(grownFile)")
    }
}
