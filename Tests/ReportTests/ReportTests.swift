// The HTML report, the fit text, the summary line and the errors of fit / export / report.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Store
import SweepProtocol
import Testing
import Cell
@testable import Report

@Suite struct ReportTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    func analysis(_ sweep: SyntheticSweep = ExportTests.sweep) throws -> SweepAnalysis {
        try sweep.analysis(in: folder, name: "r")
    }

    /// The provenance block holds what a reader needs to reproduce the numbers: the writer, the
    /// command that re-creates the grid, the data and its hash, the protocol per η, the hosts.
    @Test func theReportSaysHowItsNumbersWereMade() throws {
        let analysis = try analysis()
        let html = analysis.html()
        let section = try #require(html.range(of: "<h2>Provenance</h2>").map { String(html[$0.lowerBound...]) })
        let spec = analysis.data.spec
        #expect(section.contains("thermosweep \(Release.version), written "))
        #expect(section.contains(escapeHTML(spec.sweepCommand(database: analysis.data.databasePath))))
        #expect(section.contains("<pre>" + escapeHTML(GridFile.text(spec)) + "</pre>"))
        #expect(section.contains(analysis.data.specHash))
        if let hash = spec.datasetHash { #expect(section.contains("content hash \(hash)")) }
        for eta in Set(analysis.data.runs.map(\.learningRate)) {
            #expect(section.contains("η = \(eta): "), "no protocol line for η = \(eta)")
        }
        #expect(section.contains("host ") || section.contains("not recorded in this journal"))
        #expect(html.contains("@media print"))
    }

    /// `fit --format csv`: a row per fit, with its numbers in shortest round-trip form.
    @Test func theFitsCSVHoldsEachFitsNumbers() throws {
        let analysis = try analysis()
        let rows = analysis.fitsCSV().split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let header = try #require(rows.first)
        #expect(header == Exports.fitsCSVHeader)
        #expect(rows.count - 1 == analysis.fits.fits.count)
        let column = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        var fitted = 0
        for (row, fit) in zip(rows.dropFirst(), analysis.fits.fits) {
            #expect(row.count == header.count)
            #expect(row[column["group"]!] == fit.group && row[column["estimator"]!] == fit.estimator)
            guard let f = fit.result.fit else { continue }
            fitted += 1
            #expect(Double(row[column["a"]!]) == f.a.value && Double(row[column["a_se"]!]) == f.a.standardError)
            #expect(Double(row[column["b_hi95"]!]) == f.b.interval.upper)
            #expect(Double(row[column["collapse_p"]!]) == f.collapse?.pValue)
            #expect(Int(row[column["dof"]!]) == f.degreesOfFreedom && row[column["no_fit_reason"]!] == "")
        }
        #expect(fitted > 0)
    }

    @Test func theReportParsesAsXMLAndEveryGroupHasItsPlots() throws {
        var sweep = ExportTests.sweep
        // Escaped for the JSON the test writes; decoded, the name is `odd <&> "name"`.
        sweep.groups.append(("odd <&> \\\"name\\\"", 10, 0))
        let analysis = try analysis(sweep)
        let file = folder.file("out/report.html")
        try analysis.writeReport(to: file)
        let html = try String(contentsOfFile: file, encoding: .utf8)
        let parser = XMLParser(data: Data(html.utf8))
        let collector = ElementCollector()
        parser.delegate = collector
        #expect(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "") at line \(parser.lineNumber)")
        #expect(collector.names.first == "html")
        #expect(!collector.names.contains("script") && !collector.names.contains("img") && !collector.names.contains("link"))
        for group in analysis.data.groups {
            for kind in ["T against η/|B|", "T against η at each |B|", "T against |B| at each η"] {
                #expect(collector.svgTitles.contains("\(group): \(kind)"), "no plot '\(kind)' for \(group)")
            }
        }
        #expect(collector.svgTitles.contains("conv1.weight: filter T / layer T"))
        #expect(collector.svgTitles.contains("grid heat map"))
        #expect(html.contains("odd &lt;&amp;&gt; &quot;name&quot;"))
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1
            == html.components(separatedBy: "xmlns=\"http://").count - 1)
        // The heat map marks the diverged and the failed cell; the cell of the drifting run is still
        // fitted (that run is left out alone), so it shows its T, not "n-s".
        #expect(html.contains(">div</text>") && html.contains(">fail</text>"))
        #expect(!html.contains(">n-s</text>"))
    }

    @Test func fitTextHasEveryPartAndEndsWithTheNetworkLine() throws {
        let analysis = try analysis()
        let text = Report.fitText(analysis.data, analysis.fits, estimator: .diffusion)
        for part in ["conv1.weight", "dense1.weight", "  a = ", "  b = ", "  γ = ", "collapse a + b = 0", "(a, b) = (1, -1)",
                     "curvature", "R² = ", "excluded:", "diverged", "non-stationary", "failed cell/lr=0.1/b=8/seed=3"] {
            #expect(text.contains(part), "missing '\(part)'")
        }
        let last = try #require(text.split(separator: "\n").last)
        #expect(last.hasPrefix("network (diffusion): T ∝ η^"))
        #expect(last.contains(", p(1,-1)=") && last.contains(", p(a+b=0)="))
        #expect(String(last) == Report.summaryLine(analysis.fits))
        #expect(try Report.summaryLine(storePath: folder.file("r.sqlite")) == String(last))
        let kinetic = Report.fitText(analysis.data, analysis.fits, estimator: .kinetic)
        #expect(kinetic.contains("(a, b) = (2, -1)"))
        #expect(kinetic.split(separator: "\n").last?.contains(", p(2,-1)=") == true)
    }

    @Test func writeAllWritesExportsAndReport() throws {
        let db = folder.file("all.sqlite")
        try ExportTests.sweep.makeDatabase(at: db)
        let out = folder.file("all")
        let files = try ReportWriter.writeAll(storePath: db, outDirectory: out)
        #expect(files.map { ($0 as NSString).lastPathComponent } == ["cells.csv", "filters.csv", "fits.json", "report.html"])
        for f in files { #expect(FileManager.default.fileExists(atPath: f)) }
    }

    @Test func errorsNameTheOffendingValue() throws {
        let missing = folder.file("nope.sqlite")
        #expect {
            _ = try SweepData.load(storePath: missing)
        } throws: { "\($0)".contains(missing) }
        // A journal with jobs but no finished cell.
        let empty = folder.file("empty.sqlite")
        try Store.open(path: empty, spec: ExportTests.sweep.spec).close()
        #expect {
            _ = try SweepData.load(storePath: empty)
        } throws: { error in
            guard case let ReportError.noResults(path, detail) = error else { return false }
            return path == empty && detail.contains("78 queued")
        }
        let trivial = folder.file("trivial.sqlite")
        try Store.open(path: trivial, spec: GridSpec(learningRates: [0.1], batchSizes: [8], seeds: 1, jobKind: .trivial,
                                                      dataset: .synthetic())).close()
        #expect(throws: ReportError.noTemperatures(path: trivial, jobKind: "trivial")) {
            _ = try SweepData.load(storePath: trivial)
        }
        #expect(throws: ReportError.unknownEstimator("heat", valid: ["diffusion", "kinetic", "kinetic-sde", "configurational"])) {
            _ = try Report.estimator(named: "heat")
        }
        let message = ReportError.unknownGroup("conv9", valid: ["conv1.weight", "network"]).description
        #expect(message == "unknown group 'conv9': choose one of conv1.weight, network.")
    }

    /// Where the momentum varies, the heat map, the diverged runs and the stationarity table are one
    /// per m, each under a heading naming m, and each is what a sweep of that m alone shows.
    @Test func aGridThatVariesTheMomentumHasAHeatMapAndTablesPerMomentum() throws {
        var single = SyntheticSweep()
        single.diverged = [SyntheticSweep.key(0.2, 8, 2)]
        single.failed = [SyntheticSweep.key(0.1, 8, 3)]
        var two = SyntheticSweep()
        two.momenta = [0, 0.5]
        two.diverged = [SyntheticSweep.key(0.2, 8, m: 0, 2), SyntheticSweep.key(0.1, 16, m: 0.5, 1)]
        two.failed = [SyntheticSweep.key(0.1, 8, m: 0, 3)]
        func report(_ sweep: SyntheticSweep, _ name: String) throws -> String {
            try sweep.makeDatabase(at: folder.file(name))
            return try SweepAnalysis(storePath: folder.file(name)).html()
        }
        let one = try report(single, "single.sqlite"), both = try report(two, "two.sqlite")
        /// The text after `<h2>title</h2>` up to the next `<h2>`.
        func section(_ html: String, _ title: String) throws -> String {
            let start = try #require(html.range(of: "<h2>\(title)</h2>\n"), "no section \(title)")
            let rest = html[start.upperBound...]
            return String(rest[..<(rest.range(of: "<h2>")?.lowerBound ?? rest.endIndex)])
        }
        /// The text of `html` between `start` and `end` (exclusive).
        func between(_ html: String, _ start: String, _ end: String) throws -> String {
            let from = try #require(html.range(of: start), "no '\(start)'")
            let rest = html[from.upperBound...]
            return String(rest[..<(try #require(rest.range(of: end), "no '\(end)' after '\(start)'")).lowerBound])
        }
        #expect(!one.contains("m = "), "a grid of one momentum names no m")
        #expect(both.components(separatedBy: "<title>grid heat map</title>").count - 1 == 2)

        // The heat map and the diverged runs of m = 0 are the single-momentum sweep's, titled m = 0.0.
        let grid = try section(both, "Grid"), oneGrid = try section(one, "Grid")
        let heatMap = try between(grid, "<h3>m = 0.0</h3>\n", "\n<h3>m = 0.5</h3>\n")
        #expect(heatMap.replacingOccurrences(of: "network, m = 0.0: T of each cell", with: "network: T of each cell")
                    == (try between(oneGrid, "</p>\n", "\n<h3>Diverged runs</h3>")))
        let diverged = try between(grid, "<h3>Diverged runs, m = 0.0</h3>\n", "<h3>Diverged runs, m = 0.5</h3>")
        let oneDiverged = try #require(oneGrid.range(of: "<h3>Diverged runs</h3>\n").map { String(oneGrid[$0.upperBound...]) })
        #expect(diverged == oneDiverged)
        #expect(diverged.contains("1 of 74 runs diverged") && grid.contains("1 of 75 runs diverged"),
                "each m's table counts its own runs: \(grid)")
        let heatMapHalf = try between(grid, "<h3>m = 0.5</h3>\n", "\n<h3>Diverged runs")
        #expect(heatMapHalf.components(separatedBy: ">div</text>").count == 2 && !heatMapHalf.contains(">fail</text>"))
        #expect(heatMap.components(separatedBy: ">div</text>").count == 2 && heatMap.contains(">fail</text>"))

        // The stationarity table of m = 0 is the single-momentum sweep's.
        let stationarity = try section(both, "Calibration and stationarity")
        #expect(try between(stationarity, "<h3>m = 0.0</h3>\n", "<h3>m = 0.5</h3>\n")
                    == section(one, "Calibration and stationarity"))
        #expect(stationarity.contains("Over the 74 runs that did not diverge"), "\(stationarity)")
    }
}

/// Element names in document order and the text of every `<svg><title>`.
final class ElementCollector: NSObject, XMLParserDelegate {
    var names: [String] = []
    var svgTitles: [String] = []
    private var inTitle = false, depthInSVG = 0, text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        names.append(name)
        if name == "svg" { depthInSVG += 1 }
        if name == "title" && depthInSVG > 0 { inTitle = true; text = "" }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "svg" { depthInSVG -= 1 }
        if name == "title" && inTitle { svgTitles.append(text); inTitle = false }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inTitle { text += string }
    }
}
