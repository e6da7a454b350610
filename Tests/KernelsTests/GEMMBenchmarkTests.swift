import Foundation
import Testing
import TestSupport
@testable import Kernels

/// GFLOP/s of the GEMM shapes of one cifar-cnn training step at slice 8 (the dot path's shapes
/// among them). Opt-in (`TS_BENCH=1`), release only.
@Suite("GEMM benchmark", .benchmark)
struct GEMMBenchmarkTests {
    @Test func cifarCNNShapes() {
        let shapes: [(String, Int, Int, Int, Transpose, Transpose)] = [
            ("conv1 Y = W·Col", 32, 7200, 27, .none, .none),
            ("conv1 dW = dY·Colᵀ", 32, 27, 7200, .none, .transposed),
            ("conv2 Y = W·Col", 64, 1352, 288, .none, .none),
            ("conv2 dW = dY·Colᵀ", 64, 288, 1352, .none, .transposed),
            ("conv2 dCol = Wᵀ·dY", 288, 1352, 64, .transposed, .none),
            ("dense1 Y = X·Wᵀ", 8, 128, 2304, .none, .transposed),
            ("dense1 dW = dYᵀ·X", 128, 2304, 8, .transposed, .none),
            ("dense1 dX = dY·W", 8, 2304, 128, .none, .none),
        ]
        var lines: [String] = []
        for (name, m, n, k, ta, tb) in shapes {
            var runs: [Double] = []
            for _ in 0..<5 { runs.append(measureGEMM(m: m, n: n, k: k, transA: ta, transB: tb, repetitions: 41)) }
            runs.sort()
            lines.append(String(format: "%-22@ %4dx%4dx%5d %6.1f GFLOP/s", name as NSString, m, n, k, runs[2]))
        }
        print("GEMM\n" + lines.joined(separator: "\n"))
    }
}
