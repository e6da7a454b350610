// Opt-in (`TS_BENCH=1`), release only: load + fit + export + report of a 10,000-run journal with
// lenet-8-16's groups and filters. Prints seconds; asserts nothing about time.
import Foundation
import Store
import Testing
import TestSupport
@testable import Report

@Test(.benchmark)
func tenThousandRunsBenchmark() throws {
    let folder = try TemporaryFolder()
    var sweep = SyntheticSweep()
    sweep.learningRates = (0..<50).map { 0.001 * pow(1.1, Double($0)) }
    sweep.batchSizes = (0..<50).map { 4 + 4 * $0 }
    sweep.seeds = 4
    sweep.groups = [("conv1.weight", 200, 8), ("conv1.bias", 8, 0), ("conv2.weight", 3200, 16), ("conv2.bias", 16, 0),
                    ("dense1.weight", 2560, 0), ("dense1.bias", 10, 0), ("network", 5994, 0)]
    let db = folder.file("bench.sqlite")
    let clock = ContinuousClock()
    let build = clock.measure { try? sweep.makeDatabase(at: db) }
    let size = (try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
    print("benchmark: built a 10,000-run journal (\(size / 1_000_000) MB) in \(seconds(build)) s")
    // Where loading goes: reading the journal, and decoding (one core, 500 results).
    var records: [ResultRecord] = []
    let read = clock.measure { records = (try? Store.openReadOnly(path: db).results()) ?? [] }
    let sample = records.prefix(500).map { $0.result ?? [] }
    let decode = clock.measure { for bytes in sample { _ = decodeCellResult(bytes) } }
    print("benchmark: reading \(records.count) results \(seconds(read)) s; decoding 500 on one core \(seconds(decode)) s")
    records = []
    var totals: [Double] = []
    for round in 0..<3 {
        var analysis: SweepAnalysis?
        let load = clock.measure { analysis = try? SweepAnalysis(storePath: db) }
        let a = try #require(analysis)
        #expect(a.data.runs.count == 10_000)
        let fitOnly = clock.measure { _ = SweepFits(a.data) }
        var files: [String] = []
        let exports = clock.measure { files = (try? a.writeExports(to: folder.file("out"))) ?? [] }
        #expect(files.count == 3)
        let report = clock.measure { try? a.writeReport(to: folder.file("out/report.html")) }
        let total = seconds(load) + seconds(exports) + seconds(report)
        totals.append(total)
        let html = (try FileManager.default.attributesOfItem(atPath: folder.file("out/report.html"))[.size] as? Int) ?? 0
        print("benchmark round \(round + 1): load + 28 fits \(seconds(load)) s (fits alone \(seconds(fitOnly)) s), "
            + "exports \(seconds(exports)) s, report \(seconds(report)) s (\(html / 1000) kB); total \(total) s")
        let fit = try #require(a.fits.fit(group: "network", estimator: .diffusion)?.result.fit)
        #expect(abs(fit.a.value - 1) < 0.05 && abs(fit.b.value + 1) < 0.05)
    }
    print("benchmark: fit + export + report of 10,000 runs, median of 3: \(totals.sorted()[1]) s on \(ProcessInfo.processInfo.activeProcessorCount) cores")
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
