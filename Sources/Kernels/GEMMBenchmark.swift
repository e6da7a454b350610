/// Median GFLOP/s of `gemm` for C[m×n] = op(A)·op(B) (α = 1, β = 0) over `repetitions` timed runs.
///
/// Operands are seeded, fixed pseudo-random values; one untimed run warms the caches first.
public func measureGEMM(m: Int, n: Int, k: Int, transA: Transpose = .none,
                        transB: Transpose = .none, repetitions: Int) -> Double {
    precondition(m > 0 && n > 0 && k > 0 && repetitions > 0,
                 "measureGEMM needs positive sizes and repetitions, got \(m)x\(n)x\(k), \(repetitions)")
    // A (m, k) or (k, m); B (k, n) or (n, k); C (m, n)
    let a = benchmarkMatrix(rows: transA == .none ? m : k, columns: transA == .none ? k : m, seed: 1)
    let b = benchmarkMatrix(rows: transB == .none ? k : n, columns: transB == .none ? n : k, seed: 2)
    let c = Matrix(Buffer(count: m * n), rows: m, columns: n)
    gemm(a, transA, b, transB, into: c)
    let clock = ContinuousClock()
    var seconds: [Double] = []
    for _ in 0..<repetitions {
        seconds.append(clock.measure { gemm(a, transA, b, transB, into: c) } / .seconds(1))
    }
    seconds.sort()
    let median = seconds[seconds.count / 2]
    return 2 * Double(m) * Double(n) * Double(k) / max(median, 1e-12) / 1e9
}

/// A rows×columns matrix of values in [-1, 1) from a fixed linear congruential sequence.
func benchmarkMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
    let buffer = Buffer(count: rows * columns)
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    for i in 0..<buffer.count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        buffer[i] = Float(state >> 40) / Float(1 << 23) - 1
    }
    return Matrix(buffer, rows: rows, columns: columns)
}
