// What a person at an 80-column terminal sees during a sweep, through a terminal emulator
// (scripts/terminal_check.py, pyte): the progress line is redrawn in place, never wrapped, and no
// other line (the coordinator's events, the local workers' lines) is glued to it.
import Foundation
import TestSupport
import Testing

@Suite(.ownThread(.cpuBound)) struct TerminalTests {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/terminal_check.py").standardizedFileURL.path

    @Test(arguments: [80, 60])
    func aSweepLeavesATidyScreen(columns: Int) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let sweep = [Binary.path, "sweep", "--db", scratch.file("s.sqlite"), "--synthetic", "--synthetic-count", "2000",
                     "--model", "lenet-4-8", "--lr", "0.05,0.1,0.2", "--batch", "16,32", "--seeds", "2",
                     "--warm-epochs", "0.2", "--burn-in-steps", "100", "--measure-steps", "200", "--local-workers", "2",
                     "--out", scratch.file("out")]
        // Debian's python3, where python3-pyte (make test-deps) puts pyte.
        let check = try Spawned([Self.checker, "\(columns)", "120", "--"] + sweep, outputPrefix: scratch.file("terminal"),
                                executable: "/usr/bin/python3")
        #expect(check.wait(timeout: 150) == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("14/14 ended"), "the sweep ran to its end: \(check.stdout)")
    }
}
