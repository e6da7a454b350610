import Foundation
import Testing

/// The bytes users depend on do not change between releases: a journal that release 0.1.0 left
/// half-finished resumes with this binary (same grid hash, same job list, same result records), and
/// the exports equal those that 0.1.0 wrote for the uninterrupted sweep.
@Suite struct ReleaseFixtureTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/release-0.1.0")
    /// The grid of the fixture (its README): the same flags must name the same grid.
    static let grid = ["--model", "lenet-4-8", "--lr", "0.05,0.1,0.2", "--batch", "8,16,32", "--seeds", "2",
                       "--warm-epochs", "0.5", "--quiet"]
    /// The CPU the fixture's binary was built for.
    static let fixtureCPU = "haswell"
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    /// Columns that name a row; on another instruction set (which rounds differently, and SGD carries
    /// the difference through thousands of steps) only these must agree.
    static let identityColumns: Set<String> = ["lr", "batch", "seed", "group", "filter", "estimator", "n_params"]
    /// Columns that differ between two runs of the same job.
    static let volatileColumns: Set<String> = ["samples_per_s", "wall_s", "worker"]
    /// Flags whose rules changed after 0.1.0 by design (docs/METHOD.md, 7: on 0.1.0's rules they were
    /// set on nearly every row); the export decides them again from the stored numbers, so in the
    /// `flags` column only these may differ from 0.1.0's, every other flag is compared.
    static let rejudgedFlags: Set<String> = ["configurational-correlated", "fdr-out-of-range", "calibration-out-of-range"]

    /// A `flags` field without the flags whose rules changed since 0.1.0.
    static func comparableFlags(_ field: String?) -> String? {
        field.map { $0.split(separator: ";").filter { !rejudgedFlags.contains(String($0)) }.joined(separator: ";") }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: fashionMNIST),
                   "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"))
    func aJournalOfRelease010ResumesToItsExports() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite")
        try FileManager.default.copyItem(atPath: Self.fixture.appendingPathComponent("sweep.sqlite").path, toPath: db)
        let before = try counts(db)
        #expect(before.done == 9 && before.queued == 11, "\(before)")

        let sweep = try Spawned(["sweep", "--db", db, "--local-workers", "2"] + Self.grid,
                                outputPrefix: scratch.file("sweep"))
        #expect(sweep.wait(timeout: 240) == 0, "\(sweep.stderr)")
        try expectExactlyOnce(db, total: 20)

        let exact = try buildCPU() == Self.fixtureCPU
        for name in ["cells.csv", "filters.csv"] {
            let mine = try csvRows(scratch.file(name)), theirs = try csvRows(Self.fixture.appendingPathComponent(name).path)
            #expect(mine.count == theirs.count, "\(name): \(mine.count) rows, 0.1.0 wrote \(theirs.count)")
            for (index, (a, b)) in zip(mine, theirs).enumerated() {
                #expect(a.keys == b.keys, "\(name) row \(index): columns differ")
                let compared = exact ? Set(a.keys).subtracting(Self.volatileColumns) : Self.identityColumns
                for column in compared.sorted() where column != "flags" {
                    #expect(a[column] == b[column],
                            "\(name) row \(index) \(column): \(a[column] ?? "-"), 0.1.0 wrote \(b[column] ?? "-")")
                }
                if compared.contains("flags") {
                    #expect(Self.comparableFlags(a["flags"]) == Self.comparableFlags(b["flags"]),
                            "\(name) row \(index) flags: \(a["flags"] ?? "-"), 0.1.0 wrote \(b["flags"] ?? "-")")
                }
            }
        }
        let fits = try String(contentsOfFile: scratch.file("fits.json"), encoding: .utf8)
        let reference = try String(contentsOfFile: Self.fixture.appendingPathComponent("fits.json").path,
                                   encoding: .utf8)
        if exact {
            #expect(fits == reference, "fits.json differs from 0.1.0's")
        } else {
            print("fits.json not compared: this binary is built for another CPU than the fixture (\(Self.fixtureCPU))")
        }
    }

    /// The CPU the binary under test was built for, from `--version`.
    func buildCPU() throws -> String {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let version = try Spawned(["--version"], outputPrefix: scratch.file("version"))
        _ = version.wait(timeout: 30)
        guard let range = version.stdout.range(of: "built for CPU ") else { return "" }
        return String(version.stdout[range.upperBound...].prefix { $0 != ")" })
    }

    /// Rows of a CSV export (no quoted commas in these columns) as column → value.
    func csvRows(_ path: String) throws -> [[String: String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init) else {
            return []
        }
        return lines.dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Dictionary(uniqueKeysWithValues: zip(header, fields))
        }
    }
}
