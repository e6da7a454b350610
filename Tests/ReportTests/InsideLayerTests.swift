// The per-weight temperature fields: optional in a result, drawn by the report when present, said
// to be missing when not, and never part of the exports.
import Cell
import Foundation
import Testing
@testable import Report

@Suite struct InsideLayerTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    func section(_ html: String, _ heading: String) throws -> String {
        let start = try #require(html.range(of: "<h2>\(heading)"))
        let rest = html[start.upperBound...]
        return String(rest[..<(rest.range(of: "<h2>")?.lowerBound ?? rest.endIndex)])
    }

    /// A result without the new fields (as 0.1.0 wrote them) decodes with both absent, and
    /// re-encodes without their keys: old results read and export exactly as before.
    @Test func anOldResultDecodesWithoutTheNewFields() throws {
        let old = SyntheticSweep()
        let bytes = Array(old.cellJSON(lr: 0.05, batch: 32, seed: 1, key: SyntheticSweep.key(0.05, 32, 1)).utf8)
        guard case .success(let result) = decodeCellResult(bytes) else { Issue.record("did not decode"); return }
        #expect(result.firstLayerFilters == nil)
        #expect(result.thermometer.groups.allSatisfy { $0.weightTemperatures == nil })
        let encoded = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        #expect(!encoded.contains("weightTemperatures") && !encoded.contains("firstLayerFilters"))

        var new = old
        new.insideLayer = true
        let newBytes = Array(new.cellJSON(lr: 0.05, batch: 32, seed: 1, key: SyntheticSweep.key(0.05, 32, 1)).utf8)
        guard case .success(let read) = decodeCellResult(newBytes) else { Issue.record("new result did not decode"); return }
        let layer = try #require(read.firstLayerFilters)
        #expect(layer.weights.count == 50 && layer.temperatures?.count == 50 && layer.filterSize == 25)
        let histogram = try #require(read.thermometer.group("dense1.weight")?.weightTemperatures)
        #expect(histogram.total == 2560)
    }

    /// The exports do not change when the results carry the new fields.
    @Test func theExportsIgnoreTheNewFields() throws {
        var new = ExportTests.sweep
        new.insideLayer = true
        let before = try ExportTests.sweep.analysis(in: folder, name: "old")
        let after = try new.analysis(in: folder, name: "new")
        let a = folder.file("old-out"), b = folder.file("new-out")
        _ = try before.writeExports(to: a)
        _ = try after.writeExports(to: b)
        for file in ["cells.csv", "filters.csv", "fits.json"] {
            let x = try Data(contentsOf: URL(fileURLWithPath: a + "/" + file))
            let y = try Data(contentsOf: URL(fileURLWithPath: b + "/" + file))
            #expect(x == y, "\(file) changed")
        }
    }

    @Test func theReportDrawsTheSectionsFromTheData() throws {
        var sweep = ExportTests.sweep
        sweep.insideLayer = true
        let analysis = try sweep.analysis(in: folder)
        let html = analysis.html()
        let histograms = try section(html, "Per-weight temperatures")
        // The grid's middle cell: η = 0.05, |B| = 32, three seeds.
        #expect(histograms.contains("the cell η = 0.05, |B| = 32") && histograms.contains("over its 3 seeds"))
        for (group, count, _) in sweep.groups {
            #expect(histograms.contains("<td class=\"l\">\(group)</td><td>\(count)</td>"), "no row for \(group)")
            #expect(histograms.contains("<title>\(group): per-weight T</title>"), "no histogram of \(group)")
        }
        // One weight in each histogram is frozen: its share is 1/count.
        #expect(histograms.contains("<td>\(Text.fixed(100.0 / 2560, 1)) %</td>"))

        let picture = try section(html, "First conv layer")
        #expect(picture.contains("seed 1") && picture.contains("conv1.weight: 2 filters of 1×5×5"))
        // 2 filters × (25 weights + 25 temperatures), and 2 × 21 colour-scale swatches.
        #expect(picture.components(separatedBy: "<rect ").count - 1 == 2 * 50 + 42)
        // Each filter's T and its ratio to the layer's T, from the run drawn.
        let run = try #require(analysis.data.runs.first { $0.learningRate == 0.05 && $0.batchSize == 32 && $0.seed == 1 })
        let layer = try #require(run.result.thermometer.group("conv1.weight"))
        let layerT = try #require(layer.estimate(.diffusion)?.value)
        for filter in layer.filters {
            let t = try #require(filter.estimate(.diffusion)?.value)
            #expect(picture.contains("\(filter.index): T = \(Text.significant(t)) (×\(Text.significant(t / layerT)))"))
        }
        // XHTML: the report still parses as XML.
        #expect(isWellFormedXML(html))
    }

    @Test func theReportSaysWhenTheDataLackThem() throws {
        let html = try ExportTests.sweep.analysis(in: folder, name: "plain").html()
        #expect(try section(html, "Per-weight temperatures").contains("The results hold no per-weight temperatures"))
        #expect(try section(html, "First conv layer").contains("The results hold no first-layer weights"))
    }
}
