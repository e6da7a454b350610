import Foundation
import TestSupport
import Testing

/// The bytes users depend on do not change between releases: a journal that release 0.1.0 left
/// half-finished resumes with this binary (same grid hash, same job list, same result records), and
/// the exports equal those that 0.1.0 wrote for the uninterrupted sweep, but for what changed on
/// purpose since (`changedOnPurpose`).
@Suite(.ownThread(.cpuBound)) struct ReleaseFixtureTests {
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
    /// The options that name release 0.1.0's exclusion policy (docs/METHOD.md, 8).
    static let release010Policy = ["--stationarity-test", "two-se", "--whole-cell", "any"]
    /// What differs from 0.1.0's exports on purpose, and why:
    /// - the default exclusion policy (Holm-corrected Welch tests, per run) is not 0.1.0's (2 SE,
    ///   whole cells), so the `excluded` column of the sweep's own cells.csv and the fits in its
    ///   fits.json differ. Exported with `release010Policy`, both must equal 0.1.0's again;
    /// - fits.json's `exclusionPolicy` gained keys (`stationarityTest`, `familyWiseLevel`,
    ///   `correction`, `wholeCell`): 0.1.0's three keys keep their values;
    /// - `summary` states both tests, `p(1,-1)` and `p(a+b=0)`, instead of "η/|B| law": its exponents
    ///   and its first p are 0.1.0's;
    /// - `sensitivity` and `decomposition` (the diffusion exponents split into σ̄² and the calibration
    ///   ratio) are new.
    /// Every other member of fits.json is compared byte for byte.
    static let changedOnPurpose: Set<String> = ["exclusionPolicy", "summary", "sensitivity", "decomposition"]
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
        // The sweep's own exports (default policy): all but the exclusions.
        try compareCSVs(scratch.path, exact: exact, ignoring: ["excluded"])
        // Exported again with 0.1.0's policy: everything.
        let release = scratch.file("release-0.1.0-policy")
        let export = try Spawned(["export", "--db", db, "--out", release] + Self.release010Policy,
                                 outputPrefix: scratch.file("export"))
        #expect(export.wait(timeout: 120) == 0, "\(export.stderr)")
        try compareCSVs(release, exact: exact, ignoring: [])
        guard exact else {
            print("fits.json not compared: this binary is built for another CPU than the fixture (\(Self.fixtureCPU))")
            return
        }
        let fits = try members(String(contentsOfFile: release + "/fits.json", encoding: .utf8))
        let reference = try members(String(contentsOfFile: Self.fixture.appendingPathComponent("fits.json").path,
                                           encoding: .utf8))
        for key in Set(fits.keys).union(reference.keys).subtracting(Self.changedOnPurpose).sorted() {
            #expect(fits[key] == reference[key], "fits.json: \(key) differs from 0.1.0's")
        }
        for key in ["sensitivity", "decomposition"] {
            #expect(fits[key] != nil && reference[key] == nil, "fits.json: \(key)")
        }
        // exclusionPolicy: 0.1.0's keys with 0.1.0's values, and the new keys name 0.1.0's rule.
        let policy = try #require(try value(fits["exclusionPolicy"]) as? [String: Any])
        let referencePolicy = try #require(try value(reference["exclusionPolicy"]) as? [String: Any])
        #expect(referencePolicy.count == 3)
        for (key, value) in referencePolicy {
            #expect("\(policy[key] ?? "missing")" == "\(value)", "exclusionPolicy.\(key)")
        }
        #expect(policy["stationarityTest"] as? String == "two-se" && policy["wholeCell"] as? String == "any")
        // summary: 0.1.0's exponents and joint p, then the collapse p.
        let summary = try #require(try value(fits["summary"]) as? String)
        let old = try #require(try value(reference["summary"]) as? String)
        let expected = old.replacingOccurrences(of: " · ", with: " ")
            .replacingOccurrences(of: "  (η/|B| law: p = ", with: ", p(1,-1)=").dropLast() + ", p(a+b=0)="
        #expect(summary.hasPrefix(expected), "summary '\(summary)', expected it to start with '\(expected)'")
    }

    /// cells.csv and filters.csv in `folder` against 0.1.0's, column by column: all but the volatile
    /// columns and `ignoring` when the binary is built for the fixture's CPU, the identity columns otherwise.
    func compareCSVs(_ folder: String, exact: Bool, ignoring: Set<String>) throws {
        for name in ["cells.csv", "filters.csv"] {
            let mine = try csvRows(folder + "/" + name), theirs = try csvRows(Self.fixture.appendingPathComponent(name).path)
            #expect(mine.count == theirs.count, "\(folder)/\(name): \(mine.count) rows, 0.1.0 wrote \(theirs.count)")
            for (index, (a, b)) in zip(mine, theirs).enumerated() {
                #expect(a.keys == b.keys, "\(name) row \(index): columns differ")
                let compared = exact ? Set(a.keys).subtracting(Self.volatileColumns).subtracting(ignoring)
                    : Self.identityColumns
                for column in compared.sorted() where column != "flags" {
                    #expect(a[column] == b[column],
                            "\(folder)/\(name) row \(index) \(column): \(a[column] ?? "-"), 0.1.0 wrote \(b[column] ?? "-")")
                }
                if compared.contains("flags") {
                    #expect(Self.comparableFlags(a["flags"]) == Self.comparableFlags(b["flags"]),
                            "\(name) row \(index) flags: \(a["flags"] ?? "-"), 0.1.0 wrote \(b["flags"] ?? "-")")
                }
            }
        }
    }

    /// The top-level members of a fits.json (sorted keys, two-space indentation: each member starts
    /// on a line `  "key" : …`) as key → its text, without the comma that separates it from the next.
    func members(_ json: String) -> [String: String] {
        var out: [String: String] = [:]
        var key: String?, lines: [Substring] = []
        func flush() {
            guard let key else { return }
            var text = lines.joined(separator: "\n")
            if text.hasSuffix(",") { text.removeLast() }
            out[key] = text
        }
        for line in json.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  \""), !line.hasPrefix("   "), let end = line.dropFirst(3).firstIndex(of: "\"") {
                flush()
                key = String(line[line.index(line.startIndex, offsetBy: 3)..<end])
                lines = []
            }
            if line == "}" { break }
            lines.append(line)
        }
        flush()
        return out
    }

    /// The value of one member's text (`"key" : value`).
    func value(_ member: String?) throws -> Any {
        let text = try #require(member)
        let parsed = try JSONSerialization.jsonObject(with: Data(("{" + text + "}").utf8)) as? [String: Any]
        return try #require(parsed?.values.first)
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
}
