#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The usable observations grouped by cell, flat, plus everything that was excluded and why.
struct CellTable {
    /// Per cell: η, |B| and their logarithms.
    var eta: [Double] = []
    var batchSize: [Int] = []
    var lnEta: [Double] = []
    var lnBatch: [Double] = []
    /// Observations of cell i are start[i]..<start[i + 1] in the flat arrays below.
    var start: [Int] = [0]
    /// Per observation: seed slot (index into `seeds`), ln T, SE(ln T)² (NaN when missing).
    var slot: [Int] = []
    var logT: [Double] = []
    var blockSE2: [Double] = []
    /// The distinct seed indices, sorted; slots index this.
    var seeds: [Int] = []
    var excludedObservations: [ExcludedObservation] = []
    var excludedCells: [ExcludedCell] = []

    var count: Int { eta.count }

    /// Groups observations by (η, |B|), applies the exclusions, and keeps cell order sorted by
    /// (η, |B|) so the result does not depend on the input order.
    init(_ observations: [Observation], options: FitOptions) {
        struct Key: Hashable, Comparable {
            var eta: Double, batch: Int
            static func < (l: Key, r: Key) -> Bool {
                l.eta != r.eta ? l.eta < r.eta : l.batch < r.batch
            }
        }
        var groups: [Key: [Observation]] = [:]
        for o in observations {
            guard o.eta > 0, o.eta.isFinite, o.batchSize > 0 else {
                excludedObservations.append(ExcludedObservation(o, reason: .invalidCell))
                continue
            }
            groups[Key(eta: o.eta, batch: o.batchSize), default: []].append(o)
        }
        var seedSet = Set<Int>()
        var kept: [(Key, [(seed: Int, y: Double, se2: Double)])] = []
        for key in groups.keys.sorted() {
            var usable: [(seed: Int, y: Double, se2: Double)] = []
            var reasons = Set<ExclusionReason>()
            var seen = Set<Int>()
            for o in groups[key, default: []] {
                let reason: ExclusionReason?
                if let r = o.exclusion {
                    reason = r
                } else if seen.contains(o.seed) {
                    reason = .duplicateSeed
                } else if let t = o.temperature {
                    reason = t > 0 && t.isFinite ? nil : .nonPositiveEstimate
                } else {
                    reason = .missingEstimate
                }
                seen.insert(o.seed)
                if let reason {
                    excludedObservations.append(ExcludedObservation(o, reason: reason))
                    if reason != .duplicateSeed { reasons.insert(reason) }
                    continue
                }
                let se = o.blockStandardErrorOfLog ?? .nan
                let se2 = se.isFinite && se >= 0 ? se * se : .nan
                usable.append((o.seed, log(o.temperature ?? 1), se2))
            }
            if usable.isEmpty || (!reasons.isEmpty && options.excludeWholeCellWhenAnySeedExcluded) {
                for u in usable {
                    excludedObservations.append(ExcludedObservation(
                        eta: key.eta, batchSize: key.batch, seed: u.seed,
                        reason: .otherSeedExcluded))
                }
                excludedCells.append(ExcludedCell(
                    eta: key.eta, batchSize: key.batch, reasons: reasons.sorted(),
                    excludedSeeds: groups[key, default: []].map(\.seed).sorted()))
                continue
            }
            for u in usable { seedSet.insert(u.seed) }
            kept.append((key, usable.sorted { $0.seed < $1.seed }))
        }
        seeds = seedSet.sorted()
        var slotOf: [Int: Int] = [:]
        for (i, s) in seeds.enumerated() { slotOf[s] = i }
        for (key, usable) in kept {
            eta.append(key.eta)
            batchSize.append(key.batch)
            lnEta.append(log(key.eta))
            lnBatch.append(log(Double(key.batch)))
            for u in usable {
                slot.append(slotOf[u.seed] ?? 0)
                logT.append(u.y)
                blockSE2.append(u.se2)
            }
            start.append(logT.count)
        }
        excludedObservations.sort {
            ($0.eta, $0.batchSize, $0.seed) < ($1.eta, $1.batchSize, $1.seed)
        }
    }

    /// The same table restricted to the cells for which `keep` is true.
    func subset(_ keep: (Int) -> Bool) -> CellTable {
        var t = self
        t.eta = []; t.batchSize = []; t.lnEta = []; t.lnBatch = []
        t.start = [0]; t.slot = []; t.logT = []; t.blockSE2 = []
        for i in 0..<count where keep(i) {
            t.eta.append(eta[i]); t.batchSize.append(batchSize[i])
            t.lnEta.append(lnEta[i]); t.lnBatch.append(lnBatch[i])
            for j in start[i]..<start[i + 1] {
                t.slot.append(slot[j]); t.logT.append(logT[j]); t.blockSE2.append(blockSE2[j])
            }
            t.start.append(t.logT.count)
        }
        return t
    }
}

/// How the cell variances were obtained (reported, so the weighting is never silent).
public enum WeightingRule: String, Codable, Sendable {
    /// Every cell has a variance from its seeds and/or block SEs.
    case cellVariances = "cell-variances"
    /// Some cells had no variance information and got the median of the others.
    case someCellsGotMedianVariance = "some-cells-median-variance"
    /// No variance information anywhere: equal weights (the fit is then an ordinary least squares,
    /// and only the reduced-χ² covariance is meaningful).
    case equalWeights = "equal-weights"
}

/// Cell means of ln T and the variances of those means, for one multiset of seeds.
struct CellMoments {
    /// Per cell: number of observations counted (with multiplicity), mean ln T, variance of the
    /// mean (after floor and fallbacks), the between-seed variance s² (NaN when fewer than 2),
    /// and the mean block SE² (NaN when none).
    var n: [Int]
    var mean: [Double]
    var variance: [Double]
    var between: [Double]
    var block: [Double]
    var pooledBetween: Double?
    /// τ̂² of `blockPlusPooledExcess` (0 when not estimable).
    var excessVariance: Double = 0
    var rule: WeightingRule

    /// Computes the moments. `multiplicity[slot]` is how often each seed was drawn (nil: once).
    /// The variance of each cell mean follows `model` (see `CellVarianceModel`); then a cell with
    /// no information at all gets the median variance of the others, and if no cell has any, all
    /// weights are equal. Every variance is floored at `minimumFraction` × median.
    init(_ table: CellTable, multiplicity: [Int]?, model: CellVarianceModel,
         minimumFraction: Double)
    {
        let m = table.count
        n = [Int](repeating: 0, count: m)
        mean = [Double](repeating: 0, count: m)
        variance = [Double](repeating: .nan, count: m)
        between = [Double](repeating: .nan, count: m)
        block = [Double](repeating: .nan, count: m)
        var pooledSum = 0.0, pooledDof = 0
        var excessSum = 0.0, excessDof = 0
        for i in 0..<m {
            let first = table.start[i], end = table.start[i + 1]
            guard first < end else { continue }
            // One pass with sums shifted by the cell's first value (the seeds of a cell agree to
            // a few per cent, so the shifted sum of squares loses no precision).
            let shift = table.logT[first]
            var count = 0, sum = 0.0, sumSquares = 0.0, blockCount = 0, blockSum = 0.0
            for j in first..<end {
                let k = multiplicity.map { $0[table.slot[j]] } ?? 1
                if k == 0 { continue }
                let weight = Double(k), d = table.logT[j] - shift
                count += k
                sum += weight * d
                sumSquares += weight * d * d
                let se2 = table.blockSE2[j]
                if !se2.isNaN { blockCount += k; blockSum += weight * se2 }
            }
            n[i] = count
            guard count > 0 else { continue }
            let meanShifted = sum / Double(count)
            mean[i] = shift + meanShifted
            if blockCount > 0 { block[i] = blockSum / Double(blockCount) }
            if count >= 2 {
                let ss = max(0, sumSquares - Double(count) * meanShifted * meanShifted)
                between[i] = ss / Double(count - 1)
                pooledSum += ss
                pooledDof += count - 1
                if blockCount > 0 {
                    excessSum += ss - Double(count - 1) * block[i]
                    excessDof += count - 1
                }
            }
        }
        pooledBetween = pooledDof > 0 ? pooledSum / Double(pooledDof) : nil
        // τ̂²: between-seed variance beyond the window noise, pooled over cells (never negative).
        let excess = excessDof > 0 ? max(0, excessSum / Double(excessDof)) : 0
        excessVariance = excess
        for i in 0..<m where n[i] > 0 {
            let hasBlock = !block[i].isNaN
            let s2 = n[i] >= 2 ? between[i] : (pooledBetween ?? .nan)
            let v: Double
            switch model {
            case .blockPlusPooledExcess:
                if hasBlock {
                    v = (block[i] + excess) / Double(n[i])
                } else if !s2.isNaN {
                    v = s2 / Double(n[i])
                } else {
                    continue
                }
            case .betweenPlusBlock:
                let hasBetween = !s2.isNaN
                guard hasBetween || hasBlock else { continue }
                v = ((hasBetween ? s2 : 0) + (hasBlock ? block[i] : 0)) / Double(n[i])
            }
            variance[i] = v
        }
        var positive: [Double] = []
        for i in 0..<m where n[i] > 0 && variance[i] > 0 { positive.append(variance[i]) }
        guard !positive.isEmpty else {
            rule = .equalWeights
            for i in 0..<m where n[i] > 0 { variance[i] = 1 }
            return
        }
        let median = CellMoments.median(&positive)
        rule = .cellVariances
        let floor = max(minimumFraction, 1e-12) * median
        for i in 0..<m where n[i] > 0 {
            if variance[i].isNaN { variance[i] = median; rule = .someCellsGotMedianVariance }
            variance[i] = max(variance[i], floor)
        }
    }

    /// Median by quickselect, O(n) on average (a sort per bootstrap draw was the main cost on
    /// 10,000-cell tables). Reorders `values`; `values` must not be empty.
    static func median(_ values: inout [Double]) -> Double {
        let n = values.count
        func select(_ k: Int) -> Double {
            var lo = 0, hi = n - 1
            while lo < hi {
                // Median-of-three pivot, Hoare partition.
                let mid = lo + (hi - lo) / 2
                let pivot = max(min(values[lo], values[mid]), min(max(values[lo], values[mid]),
                                                                  values[hi]))
                var i = lo, j = hi
                while i <= j {
                    while values[i] < pivot { i += 1 }
                    while values[j] > pivot { j -= 1 }
                    if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
                }
                if k <= j { hi = j } else if k >= i { lo = i } else { return values[k] }
            }
            return values[k]
        }
        if n % 2 == 1 { return select(n / 2) }
        let upper = select(n / 2)
        // After selecting n/2, everything left of it is ≤ it: the lower middle is their maximum.
        var lower = -Double.infinity
        for i in 0..<(n / 2) { lower = max(lower, values[i]) }
        return 0.5 * (lower + upper)
    }
}

extension CellMoments {
    /// Weighted least squares of the cell means on `design` (m rows of `columns`), each cell
    /// weighted by the inverse of its mean's variance; nil when the design is singular.
    func weightedFit(design: [Double], columns: Int) -> WeightedFit? {
        weightedLeastSquares(design: design, columns: columns, y: mean, w: variance.map { 1 / $0 })
    }
}
