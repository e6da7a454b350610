// Exports of a journal built from a known law: the exponents come back from the files, equal
// results give equal bytes, writes are atomic, and the CSV is quoted.
import Cell
import Foundation
import ScalingLaw
import Testing
@testable import Report

@Suite struct ExportTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    /// 5 × 5 × 3 with one diverged run, one drifting run and one failed job.
    static var sweep: SyntheticSweep {
        var s = SyntheticSweep()
        s.diverged = [SyntheticSweep.key(0.2, 8, 2)]
        s.nonStationary = [SyntheticSweep.key(0.0125, 128, 1)]
        s.failed = [SyntheticSweep.key(0.1, 8, 3)]
        return s
    }

    func export(_ sweep: SyntheticSweep, name: String, worker: String = "host-a/1", wall: Double = 2.5,
                reversed: Bool = false) throws -> String {
        let db = folder.file("\(name).sqlite")
        try sweep.makeDatabase(at: db, worker: worker, wall: wall, order: { if reversed { $0.reverse() } })
        let out = folder.file(name)
        let files = try SweepAnalysis(storePath: db).writeExports(to: out)
        #expect(files == [out + "/cells.csv", out + "/filters.csv", out + "/fits.json"])
        return out
    }

    @Test func theFilesGiveBackTheLaw() throws {
        let sweep = Self.sweep
        let out = try export(sweep, name: "law")
        // fits.json: every estimator recovers its own exponents.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/fits.json"))) as? [String: Any])
        #expect(json["format"] as? String == "thermosweep-fits/1")
        #expect((json["grid"] as? [String: Any])?["learningRates"] as? [Double] == sweep.learningRates)
        #expect(json["gridHash"] as? String == (try sweep.spec.hash()))
        let fits = try #require(json["fits"] as? [[String: Any]])
        #expect(fits.count == sweep.groups.count * 4)
        for (estimator, a, b) in SyntheticSweep.law {
            let fit = try #require(fits.first { $0["group"] as? String == "network" && $0["estimator"] as? String == estimator })
            let result = try #require(fit["result"] as? [String: Any])
            let f = try #require(result["fit"] as? [String: Any])
            let fa = try #require((f["a"] as? [String: Any])?["value"] as? Double)
            let fb = try #require((f["b"] as? [String: Any])?["value"] as? Double)
            #expect(abs(fa - a) < 0.08, "\(estimator): a = \(fa), expected \(a)")
            #expect(abs(fb - b) < 0.08, "\(estimator): b = \(fb), expected \(b)")
            let expected = try #require((result["options"] as? [String: Any])?["expectedExponents"] as? [String: Double])
            #expect(expected == ["a": a, "b": b])
            // The diverged and the drifting run are excluded with their reasons; the diverged run's
            // cell too (survivors), the drifting run alone (docs/METHOD.md, 8).
            let exclusions = try #require(fit["exclusions"] as? [[String: Any]])
            let reasons = Set(exclusions.map { "\($0["learningRate"] ?? "")/\($0["batchSize"] ?? "")/\($0["seed"] ?? "")=\($0["reason"] ?? "")" })
            #expect(reasons.contains("0.2/8/2=diverged"))
            #expect(reasons.contains("0.0125/128/1=non-stationary"))
            #expect(reasons.contains("0.2/8/1=other-seed-excluded"))
            #expect(!reasons.contains("0.0125/128/2=other-seed-excluded"))
            #expect(exclusions.count == 4)
        }
        let problems = try #require(json["problems"] as? [[String: Any]])
        #expect(problems.count == 1)
        #expect(problems.first?["key"] as? String == SyntheticSweep.key(0.1, 8, 3))
        #expect((problems.first?["reason"] as? String)?.contains("out of range") == true)

        // cells.csv: a fit of its own rows gives the same law.
        let rows = try readCSV(out + "/cells.csv")
        let header = rows[0]
        #expect(header == Exports.cellsHeader)
        let runs = 5 * 5 * 3 - 1
        #expect(rows.count == 1 + runs * sweep.groups.count * 4)
        func column(_ name: String) throws -> Int { try #require(header.firstIndex(of: name)) }
        let (lr, batch, group, estimator, t, excluded) = try (column("lr"), column("batch"), column("group"),
                                                             column("estimator"), column("T"), column("excluded"))
        let used = rows.dropFirst().filter { $0[group] == "network" && $0[estimator] == "diffusion" && $0[excluded].isEmpty }
        #expect(used.count == runs - 4)  // the failed job has no row; its cell keeps two seeds
        let (a, b) = leastSquares(used.map { (log(Double($0[lr]) ?? 0), log(Double($0[batch]) ?? 0), log(Double($0[t]) ?? 0)) })
        #expect(abs(a - 1) < 0.08 && abs(b + 1) < 0.08, "cells.csv gives a = \(a), b = \(b)")

        // filters.csv: one row per run × conv filter × estimator.
        let filters = try readCSV(out + "/filters.csv")
        #expect(filters[0] == Exports.filtersHeader)
        #expect(filters.count == 1 + runs * 2 * 4)
    }

    @Test func equalResultsGiveEqualBytes() throws {
        let sweep = Self.sweep
        let first = try export(sweep, name: "one", worker: "host-a/1", wall: 2.5)
        let second = try export(sweep, name: "two", worker: "node,7 \"b\"", wall: 9.25, reversed: true)
        for name in ["filters.csv", "fits.json"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: first + "/" + name))
            let b = try Data(contentsOf: URL(fileURLWithPath: second + "/" + name))
            #expect(a == b, "\(name) differs")
        }
        // cells.csv: equal once the run-dependent last three columns are dropped, different before.
        let a = try readCSV(first + "/cells.csv"), b = try readCSV(second + "/cells.csv")
        #expect(Array(a[0].suffix(3)) == ["samples_per_s", "wall_s", "worker"])
        #expect(a.map { $0.dropLast(3) } == b.map { $0.dropLast(3) })
        #expect(a != b)
        #expect(b[1].last == "node,7 \"b\"")
    }

    @Test func aFailedWriteLeavesTheOldFilesAndNoTemporaryOne() throws {
        let db = folder.file("atomic.sqlite")
        try Self.sweep.makeDatabase(at: db)
        let out = folder.file("atomic")
        try FileManager.default.createDirectory(atPath: out + "/filters.csv/blocker", withIntermediateDirectories: true)
        try Data("old fits\n".utf8).write(to: URL(fileURLWithPath: out + "/fits.json"))
        let analysis = try SweepAnalysis(storePath: db)
        #expect {
            _ = try analysis.writeExports(to: out)
        } throws: { error in
            guard case let ReportError.write(path, _) = error else { return false }
            return path == out + "/filters.csv"
        }
        #expect(try String(contentsOfFile: out + "/fits.json", encoding: .utf8) == "old fits\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(left == ["cells.csv", "filters.csv", "fits.json"], "left behind: \(left)")
        // A folder that cannot be created is named in the error.
        #expect(throws: ReportError.self) { try analysis.writeExports(to: out + "/fits.json/sub") }
    }

    @Test func csvFieldsAreQuotedOnlyWhenNeeded() {
        #expect(CSVWriter.quote("conv1.weight") == "conv1.weight")
        #expect(CSVWriter.quote("1e-05") == "1e-05")
        #expect(CSVWriter.quote("a,b") == "\"a,b\"")
        #expect(CSVWriter.quote("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVWriter.quote("two\nlines") == "\"two\nlines\"")
        #expect(CSVWriter.quote(" padded") == "\" padded\"")
        #expect(CSVWriter.quote("") == "")
        var w = CSVWriter(header: ["x", "y"])
        w.append(["1", "a,\"b\""])
        #expect(w.text == "x,y\n1,\"a,\"\"b\"\"\"\n")
        #expect(Text.number(0.1) == "0.1" && Text.number(1e-5) == "1e-05" && Text.number(nil) == ""
            && Text.number(.nan) == "")
    }

    /// A grid that varies the batch mode: each mode's runs are fitted apart (their temperatures
    /// differ by the shuffle factor, so the prefactors c differ by its log), and the fits, the
    /// summary and the exports name the mode.
    @Test func eachBatchModeIsFittedApartAndNamedInTheExports() throws {
        var sweep = SyntheticSweep()
        sweep.seeds = 2
        sweep.batchModes = [.iid, .shuffle]
        sweep.diverged = ["cell/lr=0.2/b=8/mode=shuffle/seed=1"]
        let out = try export(sweep, name: "modes")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/fits.json"))) as? [String: Any])
        let fits = try #require(json["fits"] as? [[String: Any]])
        #expect(fits.count == 2 * sweep.groups.count * 4)
        let network = fits.filter { $0["group"] as? String == "network" && $0["estimator"] as? String == "diffusion" }
        #expect(network.compactMap { $0["batchMode"] as? String } == ["iid", "shuffle"])
        func value(_ fit: [String: Any], _ name: String) throws -> Double {
            let f = try #require((fit["result"] as? [String: Any])?["fit"] as? [String: Any])
            return try #require((f[name] as? [String: Any])?["value"] as? Double)
        }
        for fit in network {
            let (a, b) = (try value(fit, "a"), try value(fit, "b"))
            #expect(abs(a - 1) < 0.08 && abs(b + 1) < 0.08, "\(fit["batchMode"] ?? ""): a = \(a), b = \(b)")
        }
        let dc = try value(network[1], "c") - value(network[0], "c")
        #expect(abs(dc - log(sweep.shuffleFactor)) < 0.05, "c(shuffle) − c(iid) = \(dc), expected \(log(sweep.shuffleFactor))")
        // The diverged run is excluded from its mode's fit only, named with its mode.
        let exclusions = (network[1]["exclusions"] as? [[String: Any]]) ?? []
        #expect(exclusions.contains { $0["reason"] as? String == "diverged" && $0["batchMode"] as? String == "shuffle" })
        #expect(((network[0]["exclusions"] as? [[String: Any]]) ?? []).isEmpty)
        let summary = try #require(json["summary"] as? String)
        #expect(summary.contains("network (diffusion, iid batches): ") && summary.contains("network (diffusion, shuffle batches): "),
                "\(summary)")

        // cells.csv and filters.csv: a batchMode column after batch, each run under its mode.
        let rows = try readCSV(out + "/cells.csv")
        var header = Exports.cellsHeader
        header.insert("batchMode", at: 2)
        #expect(rows[0] == header)
        #expect(Set(rows.dropFirst().map { $0[2] }) == ["iid", "shuffle"])
        #expect(rows.count == 1 + 5 * 5 * 2 * 2 * sweep.groups.count * 4)
        let diverged = rows.dropFirst().filter {
            Double($0[0]) == 0.2 && $0[1] == "8" && $0[3] == "1" && $0[4] == "network" && $0[5] == "diffusion"
        }
        #expect(diverged.map { "\($0[2])=\($0[8])" }.sorted() == ["iid=", "shuffle=diverged"], "\(diverged)")
        let filters = try readCSV(out + "/filters.csv")
        var filtersHeader = Exports.filtersHeader
        filtersHeader.insert("batchMode", at: 2)
        #expect(filters[0] == filtersHeader && Set(filters.dropFirst().map { $0[2] }) == ["iid", "shuffle"])

        // fit --format csv and the fit text name the mode of each fit.
        let analysis = try SweepAnalysis(storePath: folder.file("modes.sqlite"))
        let fitsCSV = Exports.fitsCSV(analysis.fits.fits).split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        #expect(fitsCSV[0].prefix(3) == ["group", "estimator", "batchMode"])
        #expect(fitsCSV.dropFirst().filter { $0[0] == "network" && $0[1] == "diffusion" }.map { $0[2] } == ["iid", "shuffle"])
        let text = Report.fitText(analysis.data, analysis.fits, estimator: .diffusion)
        #expect(text.contains("× 2 batch modes ×") && text.contains("network, shuffle batches  ("), "\(text)")

        // With a momentum axis too: per mode, the collapsed fit and one per m.
        sweep.momenta = [0, 0.5]
        sweep.diverged = []
        let header2 = try readCSV(try export(sweep, name: "both") + "/cells.csv")[0]
        #expect(Array(header2.prefix(4)) == ["lr", "batch", "momentum", "batchMode"])
        let both = try SweepAnalysis(storePath: folder.file("both.sqlite"))
        let labels = both.fits.fits.filter { $0.group == "network" && $0.estimator == "diffusion" }.map(\.label)
        #expect(labels == [", iid batches, against η/(1 − m)", ", iid batches, m = 0.0", ", iid batches, m = 0.5",
                           ", shuffle batches, against η/(1 − m)", ", shuffle batches, m = 0.0",
                           ", shuffle batches, m = 0.5"], "\(labels)")
    }
}

extension ExportTests {
    /// Where the momentum varies, the summary names each m's exponent of η under the collapsed
    /// line and tests that they are one: a law that holds at η/(1 − m) passes, one whose exponent
    /// falls with m is flagged.
    @Test func theSummaryOfAMomentumGridTestsThatEveryMomentumHasOneExponent() throws {
        var sweep = SyntheticSweep()
        sweep.momenta = [0, 0.5, 0.9]
        let holds = try sweep.analysis(in: folder, name: "collapse")
        let lines = Report.summaryLine(holds.fits).split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(lines)")
        #expect(lines[0].hasPrefix("network (diffusion, against η/(1 − m)): T ∝ η^"))
        #expect(lines[1].hasPrefix("  per m: a = ") && lines[1].contains("(m = 0.0), ")
                && lines[1].contains("(m = 0.5), ") && lines[1].contains("(m = 0.9); one a for every m: p = "))
        let p = try #require(lines[1].components(separatedBy: "p = ").last.flatMap { Double($0) })
        #expect(p > 0.001, "\(lines[1])")

        sweep.momentumBend = 0.3
        let bends = try sweep.analysis(in: folder, name: "bend")
        let bent = Report.summaryLine(bends.fits).split(separator: "\n").map(String.init)
        let perM = bends.fits.fits.filter { $0.group == "network" && $0.estimator == "diffusion" && $0.momentum != nil }
        let a = perM.compactMap { $0.result.fit?.a.value }
        #expect(a.count == 3 && abs(a[0] - 1) < 0.05 && abs(a[2] - 0.73) < 0.05, "\(a)")
        try #require(bent.count == 2, "\(bent)")
        let bentP = try #require(bent[1].components(separatedBy: "p = ").last.flatMap { Double($0) })
        #expect(bentP < 1e-6, "\(bent[1])")
        // A grid of one momentum keeps its one line.
        #expect(!Report.summaryLine(try SyntheticSweep().analysis(in: folder, name: "one").fits).contains("per m"))
    }
}

/// A minimal RFC 4180 reader (quoted fields, doubled quotes, line breaks inside quotes).
func readCSV(_ path: String) throws -> [[String]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            row.append(field); field = ""
        } else if c == "\n" {
            row.append(field); rows.append(row); row = []; field = ""
        } else {
            field.append(c)
        }
    }
    return rows
}

/// Ordinary least squares of z on (x, y) with intercept: returns the two slopes.
func leastSquares(_ points: [(Double, Double, Double)]) -> (Double, Double) {
    let n = Double(points.count)
    let mx = points.map(\.0).reduce(0, +) / n, my = points.map(\.1).reduce(0, +) / n
    let mz = points.map(\.2).reduce(0, +) / n
    var sxx = 0.0, syy = 0.0, sxy = 0.0, sxz = 0.0, syz = 0.0
    for (x, y, z) in points {
        let dx = x - mx, dy = y - my, dz = z - mz
        sxx += dx * dx; syy += dy * dy; sxy += dx * dy; sxz += dx * dz; syz += dy * dz
    }
    let det = sxx * syy - sxy * sxy
    return ((syy * sxz - sxy * syz) / det, (sxx * syz - sxy * sxz) / det)
}
