// The report's decomposition of the diffusion exponents, its per-run identity check, and the report
// of a sweep in which every run diverged.
import Foundation
import Testing
import Cell
@testable import Report

@Suite struct DecompositionReportTests {
    let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder() }

    /// The synthetic runs report σ̄² = 0.07 and calib = 1.01 everywhere, whatever T is: the parts
    /// are flat (exponents 0), T's whole departure from (1, −1) is the gap, and the per-run check
    /// finds the deviation of T from (η/2|B|) · 0.07 · 1.01, computed here independently.
    @Test func theDecompositionFollowsTheDiffusionFitAndChecksEveryRun() throws {
        let analysis = try ExportTests.sweep.analysis(in: folder)
        let parts = analysis.document.decomposition
        #expect(parts.map(\.group) == analysis.data.groups)
        for d in parts {
            let t = try #require(analysis.fits.fit(group: d.group, estimator: .diffusion)?.result.fit)
            let n = try #require(d.noiseVariance), c = try #require(d.calibrationRatio)
            #expect(abs(n.a.value) < 1e-12 && abs(n.b.value) < 1e-12 && abs(n.c.value - log(0.07)) < 1e-12)
            #expect(abs(c.a.value) < 1e-12 && abs(c.b.value) < 1e-12)
            #expect(n.cellsUsed == t.cellsUsed)
            let gap = try #require(d.exponentGap)
            #expect(abs(gap.a - (t.a.value - 1)) < 1e-12 && abs(gap.b - (t.b.value + 1)) < 1e-12)
            var largest = 0.0, checked = 0
            for run in analysis.data.runs {
                guard let value = run.result.thermometer.group(d.group)?.estimate(.diffusion)?.value else { continue }
                checked += 1
                largest = max(largest, abs(log(value / (run.learningRate / (2 * Double(run.batchSize)) * 0.07 * 1.01))))
            }
            #expect(d.runsChecked == checked && checked > 0)
            #expect(abs((d.largestRunDeviation ?? -1) - largest) < 1e-12)
        }
        let html = analysis.html()
        let section = try #require(html.range(of: "<h2 id=\"decomposition\">").map { String(html[$0.lowerBound...]) })
        for group in analysis.data.groups { #expect(section.contains("<td class=\"l\">\(group)</td>")) }
        #expect(section.contains("Whole network: the η exponent a = "))
        #expect(section.contains("<title>exponents of η</title>") && section.contains("<title>exponents of |B|</title>"))
    }

    /// Every run diverged: no row, plot or reason repeated per group; one sentence says there is
    /// no fit, and the diverged runs are listed by cell with how they diverged.
    @Test func aSweepWhereEveryRunDivergedSaysSoOnce() throws {
        var sweep = SyntheticSweep()
        sweep.learningRates = [0.5, 1]
        sweep.batchSizes = [8, 16]
        sweep.seeds = 2
        for lr in sweep.learningRates {
            for b in sweep.batchSizes {
                for s in 1...sweep.seeds { sweep.diverged.insert(SyntheticSweep.key(lr, b, s)) }
            }
        }
        let analysis = try sweep.analysis(in: folder)
        #expect(analysis.fits.fits.allSatisfy { $0.result.fit == nil })
        let html = analysis.html()
        let pairs = analysis.fits.fits.count
        #expect(html.components(separatedBy: "No fit for any of the \(pairs) group × estimator pairs").count == 2)
        #expect(!html.contains("<td class=\"l\" colspan"), "a table row per unfitted group")
        #expect(!html.contains(": T against"), "empty T plots")
        #expect(html.components(separatedBy: "Nothing to plot for any group").count == 2)
        #expect(html.components(separatedBy: "No group can be decomposed").count == 2)
        let diverged = try #require(html.range(of: "<h3>Diverged runs</h3>").map { String(html[$0.lowerBound...]) })
        #expect(diverged.contains("Every run diverged (8 of 8)"))
        for lr in sweep.learningRates {
            for b in sweep.batchSizes {
                #expect(diverged.contains("<tr><td>\(lr)</td><td>\(b)</td><td>2 of 2</td><td class=\"l\">seed 1: loss-above-limit"),
                        "no row for η = \(lr), |B| = \(b)")
            }
        }
    }
}
