#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The generator of every training draw: xoshiro256** seeded through SplitMix64.
///
/// Every draw in a run (initial weights, batch indices, synthetic data, probe batches) comes from a
/// `SeededRNG` derived from the run's inputs, so a run is a pure function of them. The integer and
/// floating-point conversions are written here rather than taken from the standard library, whose
/// algorithms are not promised to stay the same across Swift versions.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s0 = seeder.next(); s1 = seeder.next(); s2 = seeder.next(); s3 = seeder.next()
    }

    /// A generator for an independent stream named by `labels` (e.g. seed, cell index, purpose).
    public init(seed: UInt64, stream labels: UInt64...) {
        var h = seed ^ 0x6A09_E667_F3BC_C908
        for label in labels {
            h = (h ^ label) &* 0x100_0000_01B3 &+ 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
        }
        self.init(seed: h)
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) <<< 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 <<< 45
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift with rejection, unbiased).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "int(below:) needs a positive bound, got \(bound)")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Standard normal draw (Box–Muller, one value per call).
    public mutating func normal() -> Double {
        var u1 = uniform()
        while u1 == 0 { u1 = uniform() }
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny deterministic generator, for the seed bootstrap of
/// the fits and for test data; the standard library promises no stable stream.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform integer in 0..<n by the multiply-high method (bias ≤ n / 2⁶⁴, irrelevant here).
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Uniform double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

infix operator <<< : BitwiseShiftPrecedence
@inline(__always) private func <<< (x: UInt64, k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
