import Cell
import Foundation
import TestSupport
import Testing
@testable import thermosweep

@Suite(.ownThread(.cpuBound)) struct BenchCommandTests {
    @Test func jsonRowsHavePositiveThroughputAndCountFLOPs() throws {
        let r = try CLI.run(["bench", "--models", "lenet-4-8", "--batches", "8", "--seconds", "0.05",
                             "--repetitions", "1", "--no-gemm", "--json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["format"] as? String == "thermosweep-bench/1")
        let peak = try #require(object?["peak_gflops"] as? Double)
        #expect(peak > 0)
        let rows = try #require(object?["rows"] as? [[String: Any]])
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        let rate = try #require(row["images_per_s"] as? Double)
        #expect(rate > 0)
        #expect(row["input"] as? String == "1x28x28")
        #expect(row["parameters"] as? Int == 2_202)
        // lenet-4-8: conv 5×5 1→4 to 24×24 (×2), conv 5×5 4→8 to 8×8 (×3), dense 128→10 (×3).
        let flops = 2 * (2 * 25 * 4 * 576) + 3 * (2 * 25 * 4 * 8 * 64) + 3 * (2 * 128 * 10)
        #expect(row["flops_per_image"] as? Int == flops)
        let gflops = try #require(row["gflops"] as? Double), percent = try #require(row["peak_percent"] as? Double)
        #expect(abs(gflops - rate * Double(flops) * 1e-9) <= 1e-9 * gflops)
        #expect(abs(percent - 100 * gflops / peak) <= 1e-9 * percent)
    }

    @Test("the text output gives the peak, the model's input and size, and GFLOP/s and % peak per row")
    func textShowsPeakAndPercentOfPeak() throws {
        let r = try CLI.run(["bench", "--models", "cifar-cnn", "--batches", "4", "--no-gemm", "--repetitions", "1",
                             "--seconds", "0.05"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let peak = try #require(lines.first { $0.hasPrefix("peak:") }, "no peak line: \(r.stdout)")
        #expect(peak.contains("GFLOP/s FP32 (12 chains of \(PeakFLOPS.lanes)-lane \(PeakFLOPS.operation)"), "\(peak)")
        let value = peak.split(separator: " ").dropFirst().first { !$0.isEmpty }.flatMap { Double($0) }
        #expect((value ?? 0) > 0, "\(peak)")
        #expect(lines.contains { $0.hasPrefix("model") && $0.hasSuffix("GFLOP/s  % peak") }, "\(r.stdout)")
        let model = try #require(lines.first { $0.hasPrefix("cifar-cnn  3x32x32") }, "\(r.stdout)")
        #expect(model.contains("315,722") && model.hasSuffix("23.58"), "\(model)")
        let row = try #require(lines.first { $0.hasPrefix("cifar-cnn") && $0.contains(" train ") }, "\(r.stdout)")
        #expect(Double(row.split(separator: " ").last ?? "").map { $0 > 0 } == true, "% peak: \(row)")
        #expect(r.stdout.contains("% peak: GFLOP/s / peak"))
        for line in lines { #expect(line.count <= 80, "wider than 80 columns: \(line)") }
    }

    @Test("a layer list is labelled in the table and spelled out under the model table")
    func layerListsGetALabel() throws {
        let list = ModelKind.lenet48.layerList
        let r = try CLI.run(["bench", "--model", list, "--batches", "4", "--no-gemm", "--repetitions", "1",
                             "--seconds", "0.05"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("list1: \(list)"), "\(r.stdout)")
        #expect(r.stdout.split(separator: "\n").contains { $0.hasPrefix("list1") && $0.contains(" train ") })
    }

    @Test(arguments: [
        (["--models", "lenet-9"], "unknown model 'lenet-9'"),
        (["--models", ""], "--models is empty"),
        (["--batches", ""], "--batches is empty"),
        (["--batches", "8,,16"], "batch '' in --batches"),
        (["--batches", "0"], "batch '0' in --batches"),
        (["--input", "3x32"], "--input '3x32': give channels, height and width as CxHxW"),
        (["--input", "3x0x32"], "--input '3x0x32'"),
        (["--input", "3x100x100"], "--input '3x100x100' has 30000 values per image: give at most 16384"),
        (["--input", "9999999999x9999999999x9999999999"], "has too many values per image: give at most 16384"),
        (["--models", "lenet-8-16", "--input", "1x8x8"], "larger than its input 8×2×2"),
        (["--model", "conv15x15:4,conv15x15:4,conv15x15:4,dense:10"], "larger than its input 4×4×4"),
    ])
    func badListsAreRefused(args: [String], message: String) throws {
        let r = try CLI.run(["bench"] + args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "stderr lacks '\(message)': \(r.stderr)")
    }

    @Test("the input rule: cifar-cnn 3×32×32; others 1×28×28 when they fit, else 3×32×32; --input for all")
    func inputRule() throws {
        typealias Shape = BenchCommand.InputShape
        #expect(BenchCommand.input(for: .cifarCNN, given: nil) == .cifar)
        #expect(BenchCommand.input(for: .cnn3264, given: nil) == .mnist)
        let wide = try ModelKind(parsing: "conv5x5:4,maxpool2,conv5x5:4,maxpool2,conv5x5:4,dense:10")
        #expect(BenchCommand.input(for: wide, given: nil) == .cifar)
        let given = Shape(channels: 2, height: 9, width: 9)
        #expect(BenchCommand.input(for: .cifarCNN, given: given) == given)
    }

    @Test("the peak loop does flops(iterations:) operations: 12 chains × lanes × 2 per iteration")
    func peakKernelCount() {
#if TS_AVX512
        let lanes = 16
#else
        let lanes = 8
#endif
        #expect(PeakFLOPS.lanes == lanes)
        #expect(PeakFLOPS.flops(iterations: 1_000) == 2 * lanes * 12 * 1_000)
        // What the loop computes, chain by chain: a ← a·0.9999 + 10⁻⁴ from start + i, on every lane.
        let n = 1_000
        var reference = 0.0
        for chain in 0..<12 {
            var a = 1.0 + Double(chain)
            for _ in 0..<n { a = a * Double(Float(0.9999)) + Double(Float(1e-4)) }
            reference += Double(lanes) * a
        }
        let sum = Double(PeakFLOPS.run(iterations: n))
        #expect(abs(sum / reference - 1) < 1e-4, "\(sum) vs \(reference)")
    }
}
