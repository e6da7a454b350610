// The per-weight temperature histogram: fixed log bins of T_i / T_G whose counts add up to n_G.
import Cell
import Foundation
import Testing

@Suite struct WeightTemperatureHistogramTests {
    /// Ratios placed by hand: each lands in the bin its logarithm says, the rest in zero, below
    /// and above, and the quantiles are those of the ratios.
    @Test func ratiosFallInTheirLogBins() throws {
        // Mean of these T is 1 (to rounding), so r_i = T_i: 0, 5e-9 (below 1e-8), 1.1e-8 (bin 0),
        // 1.2 (bin 32: ⌊log10(1.2/1e-8)·4⌋), 2 (bin 33), 150 (above 10²), the rest make the mean 1.
        var t: [Double] = [0, 5e-9, 1.1e-8, 1.2, 2, 150]
        let rest = 200.0 - t.reduce(0, +)
        t += Array(repeating: rest / 194, count: 194)  // ≈ 0.2412: bin 29 ([0.178, 0.316))
        let h = try #require(WeightTemperatureHistogram(temperatures: t, seLogT: t.map { _ in nil }))
        #expect(h.total == t.count)
        #expect(h.zero == 1 && h.below == 1 && h.above == 1)
        #expect(h.counts[0] == 1 && h.counts[32] == 1 && h.counts[33] == 1 && h.counts[29] == 194)
        #expect(h.counts.reduce(0, +) == 197)
        #expect(h.edges.count == WeightTemperatureHistogram.standardBinCount + 1)
        #expect(abs(h.edges[0] - 1e-8) < 1e-22 && abs(h.edges[32] - 1) < 1e-12 && abs(h.edges.last! - 100) < 1e-10)
        // Order statistics of 200 values: the 5 % quantile sits at position 9.95, among the 194 equal ones.
        #expect(abs(h.quantiles[0] - rest / 194) < 1e-12 && abs(h.quantiles[2] - rest / 194) < 1e-12)
        #expect(h.medianSeLogT == nil)
    }

    /// Every edge is the lower edge of its bin; the counts of a log-uniform sample match the
    /// fraction of decades each bin covers.
    @Test func countsAddUpToTheGroupSize() throws {
        for n in [1, 7, 25, 2560] {
            // T_i log-uniform over 10⁻¹⁰ … 10³ (mean ≈ 20): some fall below and above the bins.
            let t = (0..<n).map { pow(10, -10 + 13 * (Double($0) + 0.5) / Double(n)) }
            let se = (0..<n).map { Double($0 % 5) * 0.01 }
            let h = try #require(WeightTemperatureHistogram(temperatures: t, seLogT: se))
            #expect(h.total == n, "n = \(n)")
            #expect(h.counts.count == WeightTemperatureHistogram.standardBinCount)
            // Odd n: the median is the middle value; even n: the mean of the two middle ones.
            let sortedSE = se.sorted()
            #expect(h.medianSeLogT == (sortedSE[(n - 1) / 2] + sortedSE[n / 2]) / 2)
            let mean = t.reduce(0, +) / Double(n)
            let middle = (t[(n - 1) / 2] + t[n / 2]) / 2 / mean
            #expect(abs(h.quantiles[2] - middle) <= 1e-12 * middle)
            #expect(h.quantiles == h.quantiles.sorted())
        }
    }

    @Test func aFrozenGroupHasNoHistogram() {
        #expect(WeightTemperatureHistogram(temperatures: [0, 0, 0], seLogT: [nil, nil, nil]) == nil)
        #expect(WeightTemperatureHistogram(temperatures: [], seLogT: []) == nil)
    }
}
