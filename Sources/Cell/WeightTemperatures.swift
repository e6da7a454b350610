// Temperatures inside a group (docs/METHOD.md, 4, "Per-weight temperature"): the distribution of
// the per-coordinate diffusion temperature T_i over a group's weights, and the first conv layer's
// weights with their T_i for the report's filter picture. Both are optional fields of a
// `thermosweep-cell/1` result: a result written without them decodes and exports as before.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Histogram of r_i = T_i / T_G over the n_G coordinates of one group, on fixed log-spaced bins.
///
/// T_i = (1 + m) Var_k(Δ_{i,k}) / (2η) is the `diffusion` estimator restricted to coordinate i, so
/// T_G (`diffusion`) is the mean of the T_i and the mean of r_i is 1. Bin k (0 ≤ k < counts.count)
/// holds lowerEdge · 10^(k/binsPerDecade) ≤ r < lowerEdge · 10^((k+1)/binsPerDecade); `zero`,
/// `below` and `above` hold the rest, so the counts add up to n_G.
public struct WeightTemperatureHistogram: Codable, Sendable, Equatable {
    /// The bins every result records: 10⁻⁸ to 10², four per decade (weights behind units that are
    /// rarely active reach 10⁻⁸ of their layer's T).
    public static let standardLowerEdge = 1e-8
    public static let standardBinsPerDecade = 4
    public static let standardBinCount = 40
    /// The quantile levels of `quantiles`.
    public static let quantileLevels = [0.05, 0.25, 0.5, 0.75, 0.95]

    /// Lower edge of the first bin (of the ratio r).
    public let lowerEdge: Double
    public let binsPerDecade: Int
    public let counts: [Int]
    /// Coordinates with T_i = 0 (the weight never moved in the window).
    public let zero: Int
    /// Coordinates with 0 < r < lowerEdge.
    public let below: Int
    /// Coordinates with r at or above the last bin's upper edge.
    public let above: Int
    /// r at `quantileLevels` over all n_G coordinates (zeros included), linear interpolation
    /// between order statistics.
    public let quantiles: [Double]
    /// Median over the coordinates of SE(ln T_i) = sd over blocks of ln T_{i,block} / √blocks (the
    /// sampling noise of one T_i); absent when no coordinate has a positive T in every block.
    public let medianSeLogT: Double?

    public init(lowerEdge: Double, binsPerDecade: Int, counts: [Int], zero: Int, below: Int, above: Int,
                quantiles: [Double], medianSeLogT: Double?) {
        self.lowerEdge = lowerEdge
        self.binsPerDecade = binsPerDecade
        self.counts = counts
        self.zero = zero
        self.below = below
        self.above = above
        self.quantiles = quantiles
        self.medianSeLogT = medianSeLogT
    }

    /// The histogram of `temperatures` (the T_i of one group, finite and ≥ 0) relative to their
    /// mean, with `seLogT` the per-coordinate block SEs (nil where undefined). nil when the mean
    /// is not positive and finite (a frozen or diverged group).
    public init?(temperatures: [Double], seLogT: [Double?]) {
        guard !temperatures.isEmpty else { return nil }
        let mean = temperatures.reduce(0, +) / Double(temperatures.count)
        guard mean > 0 && mean.isFinite else { return nil }
        let bins = Self.standardBinCount, perDecade = Double(Self.standardBinsPerDecade)
        let low = Self.standardLowerEdge
        var counts = [Int](repeating: 0, count: bins)
        var zero = 0, below = 0, above = 0
        let ratios = temperatures.map { $0 / mean }
        for r in ratios {
            if r <= 0 { zero += 1; continue }
            let k = Int((log10(r / low) * perDecade).rounded(.down))
            if k < 0 { below += 1 } else if k >= bins { above += 1 } else { counts[k] += 1 }
        }
        let sorted = ratios.sorted()
        self.init(lowerEdge: low, binsPerDecade: Self.standardBinsPerDecade, counts: counts, zero: zero,
                  below: below, above: above,
                  quantiles: Self.quantileLevels.map { sortedQuantile(sorted, $0) },
                  medianSeLogT: seLogT.compactMap { $0 }.sorted().medianOfSorted)
    }

    /// The bin edges: counts.count + 1 values from `lowerEdge` up.
    public var edges: [Double] {
        (0...counts.count).map { lowerEdge * pow(10, Double($0) / Double(binsPerDecade)) }
    }

    /// Coordinates counted: n_G.
    public var total: Int { counts.reduce(zero + below + above, +) }
}

/// The first conv layer as it ended the run, for the report's filter picture: its weights and,
/// unless the window diverged, each weight's T_i.
public struct FirstLayerFilters: Codable, Sendable, Equatable {
    /// The parameter group (`conv1.weight`).
    public let group: String
    public let filters: Int
    /// Input channels per filter.
    public let channels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    /// Final θ after the window, in the flat layout [filter][channel][row][column].
    public let weights: [Float]
    /// Per-weight diffusion temperature T_i over the window, same layout; absent when the window
    /// diverged or was not measured.
    public let temperatures: [Float]?

    public init(group: String, filters: Int, channels: Int, kernelHeight: Int, kernelWidth: Int,
                weights: [Float], temperatures: [Float]?) {
        precondition(weights.count == filters * channels * kernelHeight * kernelWidth
                     && (temperatures?.count ?? weights.count) == weights.count,
                     "first-layer filters: \(weights.count) weights for \(filters)×\(channels)×\(kernelHeight)×\(kernelWidth)")
        (self.group, self.filters, self.channels, self.kernelHeight, self.kernelWidth, self.weights, self.temperatures)
            = (group, filters, channels, kernelHeight, kernelWidth, weights, temperatures)
    }

    /// Values per filter: channels × kernel height × kernel width.
    public var filterSize: Int { channels * kernelHeight * kernelWidth }
}

/// Quantile `p` of sorted values, linear interpolation between order statistics.
public func sortedQuantile(_ sorted: [Double], _ p: Double) -> Double {
    let h = Double(sorted.count - 1) * p
    let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
}

extension Array where Element == Double {
    /// The median of already sorted values; nil when empty.
    public var medianOfSorted: Double? { isEmpty ? nil : sortedQuantile(self, 0.5) }
}
