// The single-core FP32 peak that `bench` reports its training rows against: a loop of independent
// fused multiply-adds on vector registers, enough of them in flight to keep every FMA unit busy.

#if TS_AVX512
/// One accumulator: a full AVX-512 register (the build's vector width, as in Kernels/GEMMKernels).
typealias PeakVector = SIMD16<Float>
#else
/// One accumulator: one AVX register.
typealias PeakVector = SIMD8<Float>
#endif

enum PeakFLOPS {
    /// Independent accumulator chains. A chain issues one FMA per latency (4 to 5 cycles); two FMA
    /// units need 8 to 10 chains in flight, and 12 (+ 2 operands) still fit 16 AVX registers.
    static let chains = 12
    /// Lanes per accumulator (8 for AVX2, 16 for AVX-512).
    static let lanes = PeakVector.scalarCount
#if TS_FMA
    /// What each chain issues per iteration, as the header names it.
    static let operation = "FMA"
#else
    static let operation = "multiply + add (a build without FMA)"
#endif

    /// Floating-point operations of one `run(iterations:)`: each iteration does one multiply-add
    /// (2 operations) on every lane of every chain.
    static func flops(iterations: Int) -> Int { 2 * lanes * chains * iterations }

    /// a ← a·b + c on `chains` accumulators, `iterations` times (one vfmadd per chain and iteration
    /// where the build has FMA; a multiply and an add otherwise). The values stay near c / (1 − b):
    /// no overflow and no subnormals, whose slow path would spoil the timing. Returns their sum so
    /// that nothing is optimised away.
    @inline(never)
    static func run(iterations: Int, start: Float = 1) -> Float {
        let b = PeakVector(repeating: 0.999_9), c = PeakVector(repeating: 1e-4)
        var a0 = PeakVector(repeating: start), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5
        var a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        @inline(__always) func step(_ a: inout PeakVector) {
#if TS_FMA
            a = c.addingProduct(a, b)
#else
            a = a * b + c
#endif
        }
        for _ in 0..<iterations {
            step(&a0); step(&a1); step(&a2); step(&a3); step(&a4); step(&a5)
            step(&a6); step(&a7); step(&a8); step(&a9); step(&a10); step(&a11)
        }
        return ((a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7) + (a8 + a9) + (a10 + a11)).sum()
    }

    /// GFLOP/s of `run`: the median of `repetitions` timings of at least `seconds` each, after a
    /// short warm-up (which also lets the clock reach its boost frequency).
    static func measure(seconds: Double, repetitions: Int) -> (gflops: Double, cpuShare: Double) {
        let iterations = 100_000
        var sink: Float = 0
        let (rates, share) = BenchCommand.time(repetitions: repetitions, seconds: seconds, warmup: .milliseconds(100)) {
            sink += run(iterations: iterations, start: sink.isFinite ? 1 : 2)
            return Double(flops(iterations: iterations)) * 1e-9
        }
        // The accumulators feed the next call's start value, and the last sum is read here, so
        // no call is dead code.
        precondition(sink.isFinite, "the peak loop overflowed: \(sink)")
        return (rates[rates.count / 2], share)
    }
}
