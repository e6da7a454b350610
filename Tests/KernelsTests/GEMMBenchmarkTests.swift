import Foundation
import Testing
import TestSupport
@testable import Kernels

/// GFLOP/s of the GEMM shapes of one cifar-cnn training step at batch 8, 32 and 128 (the dot
/// path's shapes among them). Opt-in (`TS_BENCH=1`), release only.
@Suite("GEMM benchmark", .benchmark, .serialized)
struct GEMMBenchmarkTests {
    @Test(arguments: [8, 32, 128]) func cifarCNNShapes(batch: Int) {
        // conv1: 3×32×32 → 32×30×30; conv2: 32×15×15 → 64×13×13; dense1: 2304 → 128.
        let (p1, p2) = (900 * batch, 169 * batch)
        let shapes: [(String, Int, Int, Int, Transpose, Transpose)] = [
            ("conv1 Y = W·Col", 32, p1, 27, .none, .none),
            ("conv1 dW = dY·Colᵀ", 32, 27, p1, .none, .transposed),
            ("conv2 Y = W·Col", 64, p2, 288, .none, .none),
            ("conv2 dW = dY·Colᵀ", 64, 288, p2, .none, .transposed),
            ("conv2 dCol = Wᵀ·dY", 288, p2, 64, .transposed, .none),
            ("dense1 Y = X·Wᵀ", batch, 128, 2304, .none, .transposed),
            ("dense1 dW = dYᵀ·X", 128, 2304, batch, .transposed, .none),
            ("dense1 dX = dY·W", batch, 2304, 128, .none, .none),
            // conv2 by Winograd F(2×2, 3×3): 16 such products each way, over 7×7 tiles per sample.
            ("conv2 wino M = U·V", 64, 49 * batch, 32, .none, .none),
            ("conv2 wino dU = dM·Vᵀ", 64, 32, 49 * batch, .none, .transposed),
            ("conv2 wino dV = Uᵀ·dM", 32, 49 * batch, 64, .transposed, .none),
        ]
        var lines: [String] = []
        for (name, m, n, k, ta, tb) in shapes {
            var runs: [Double] = []
            for _ in 0..<5 { runs.append(measureGEMM(m: m, n: n, k: k, transA: ta, transB: tb, repetitions: 41)) }
            runs.sort()
            lines.append(String(format: "%-22@ %4dx%6dx%6d %6.1f GFLOP/s", name as NSString, m, n, k, runs[2]))
        }
        print("GEMM, batch \(batch)\n" + lines.joined(separator: "\n"))
    }
}

/// C = A·Bᵀ (conv weight gradients) through the dot path and through the blocked path, taking
/// turns so that both see the same machine: median GFLOP/s of 9 rounds each. Opt-in, release only.
@Suite("GEMM A·Bᵀ paths", .benchmark, .serialized)
struct GEMMTransposedPathBenchmarkTests {
    @Test func dotAgainstBlocked() {
        // (name, m, n, k): cifar-cnn at slice 8, cnn-32-64 at slice 16, lenet-8-16 at slice 32.
        let shapes = [("cifar-cnn conv1 dW", 32, 27, 7200), ("cifar-cnn conv2 dW", 64, 288, 1352),
                      ("cnn-32-64 conv2 dW", 64, 288, 1936), ("lenet-8-16 conv2 dW", 16, 200, 2048),
                      ("dense 2304→128 at 8", 8, 128, 2304), ("dense 2304→128 at 32", 32, 128, 2304),
                      ("square, long k", 64, 64, 4096), ("cnn-32-64 conv1 dW", 32, 9, 10816),
                      ("conv2 dW, long k", 64, 288, 3872), ("conv2 dW, longer k", 64, 288, 16384),
                      ("cifar-cnn wino dU", 64, 32, 392), ("cnn-32-64 wino dU", 64, 32, 576),
                      ("cifar-cnn wino dUᵀ", 32, 64, 392)]
        var lines: [String] = []
        for (name, m, n, k) in shapes {
            let a = benchmarkMatrix(rows: m, columns: k, seed: 1), b = benchmarkMatrix(rows: n, columns: k, seed: 2)
            let c = Matrix(Buffer(count: m * n), rows: m, columns: n)
            let opA = GEMMOperand(a, .none), opB = GEMMOperand(b, .transposed), cBase = c.buffer.base
            let runs: [() -> Void] = [
                { dotGEMM(opA, opB, c: cBase, ldc: n, m: m, n: n, k: k, alpha: 1, beta: 0) },
                { blockedGEMM(opA, opB, c: cBase, ldc: n, m: m, n: n, k: k, alpha: 1, beta: 0,
                              kernel: gemmKernel(m: m, n: n)) },
            ]
            let reps = max(3, Int(1e8 / Double(m * n * k)))
            var seconds: [[Double]] = [[], []]
            let clock = ContinuousClock()
            for run in runs { run() }
            for _ in 0..<9 {
                for (i, run) in runs.enumerated() {
                    seconds[i].append(clock.measure { for _ in 0..<reps { run() } } / .seconds(1) / Double(reps))
                }
            }
            let gflops = seconds.map { 2 * Double(m * n * k) / $0.sorted()[4] / 1e9 }
            lines.append(String(format: "%-20@ %3dx%4dx%5d  dot %5.1f  blocked %5.1f GFLOP/s",
                                name as NSString, m, n, k, gflops[0], gflops[1]))
        }
        print("A·Bᵀ PATHS\n" + lines.joined(separator: "\n"))
    }
}
