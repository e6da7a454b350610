// Per-coordinate moments for the thermometer: the per-step hot loop over the flat parameter vector.
//
// The thermometer needs, every training step, the Welford mean/M2 of θ_i and of Δ_i for every
// coordinate i (Float32 values, Float64 state) and, per contiguous segment of the vector, Σ Δ_i² and
// Σ θ_i g_i. One fused pass reads θ, Δ and g once; SIMD8<Double> lanes keep it at a few µs for
// ~6,000 parameters. `referenceAccumulateStep` is the plain scalar version beside it.

/// Per-coordinate running mean and sum of squared deviations (Welford) of a stream of `Buffer`s,
/// held in Float64.
///
/// `samples` counts the vectors added so far; all coordinates share it. Welford's update
/// (mean += d/k, M2 += d·(x − mean_new)) avoids the cancellation of Σx² − (Σx)²/k when the mean is
/// large compared with the spread, as it is for θ.
public final class CoordinateMoments: @unchecked Sendable {
    /// Number of coordinates.
    public let count: Int
    /// Number of vectors accumulated.
    public private(set) var samples: Int = 0
    @usableFromInline let meanBase: UnsafeMutablePointer<Double>
    @usableFromInline let m2Base: UnsafeMutablePointer<Double>

    /// An empty accumulator for vectors of `count` elements.
    public init(count: Int) {
        precondition(count >= 0, "CoordinateMoments count must be >= 0, got \(count)")
        self.count = count
        let n = max(count, 1)
        meanBase = UnsafeMutableRawPointer.allocate(byteCount: n * 8, alignment: 64)
            .bindMemory(to: Double.self, capacity: n)
        m2Base = UnsafeMutableRawPointer.allocate(byteCount: n * 8, alignment: 64)
            .bindMemory(to: Double.self, capacity: n)
        meanBase.initialize(repeating: 0, count: n)
        m2Base.initialize(repeating: 0, count: n)
    }

    deinit {
        meanBase.deallocate()
        m2Base.deallocate()
    }

    /// Forgets every sample.
    public func reset() {
        samples = 0
        meanBase.update(repeating: 0, count: max(count, 1))
        m2Base.update(repeating: 0, count: max(count, 1))
    }

    /// Mean of coordinate `i` over the samples.
    public func mean(_ i: Int) -> Double {
        precondition(i >= 0 && i < count, "coordinate \(i) out of 0..<\(count)")
        return meanBase[i]
    }

    /// Σ_k (x_{i,k} − mean_i)² of coordinate `i` (divide by samples − 1 for the unbiased variance).
    public func m2(_ i: Int) -> Double {
        precondition(i >= 0 && i < count, "coordinate \(i) out of 0..<\(count)")
        return m2Base[i]
    }

    /// Adds one vector (SIMD Welford step).
    public func add(_ x: Buffer) {
        precondition(x.count == count, "add: buffer of \(x.count), moments of \(count)")
        samples += 1
        let inv = 1 / Double(samples)
        let vinv = SIMD8<Double>(repeating: inv)
        let xp = x.base, mp = meanBase, qp = m2Base
        var i = 0
        while i + 8 <= count {
            let v = load8(xp + i)
            let m = load8(mp + i)
            let d = v - m
            let mNew = fma8(m, d, vinv)
            store8(mNew, mp + i)
            store8(fma8(load8(qp + i), d, v - mNew), qp + i)
            i += 8
        }
        while i < count {
            let v = Double(xp[i])
            let d = v - mp[i]
            mp[i] += d * inv
            qp[i] += d * (v - mp[i])
            i += 1
        }
    }

    /// Adds one vector with plain scalar code: the reference for `add`.
    public func referenceAdd(_ x: Buffer) {
        precondition(x.count == count, "add: buffer of \(x.count), moments of \(count)")
        samples += 1
        for i in 0..<count {
            let v = Double(x[i])
            let d = v - meanBase[i]
            meanBase[i] += d / Double(samples)
            m2Base[i] += d * (v - meanBase[i])
        }
    }

    /// Folds `other` into `self` with Chan, Golub & LeVeque's pairwise combination, then resets
    /// `other`: mean = mean_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n with δ = mean_b − mean_a.
    ///
    /// The result equals (up to rounding) the moments of the concatenated streams, so the window
    /// variance includes the spread of block means, unlike an average of block variances.
    public func absorb(_ other: CoordinateMoments) {
        precondition(other.count == count, "absorb: moments of \(other.count) into \(count)")
        let na = Double(samples), nb = Double(other.samples)
        guard other.samples > 0 else { return }
        let n = na + nb
        let wb = nb / n, wc = na * nb / n
        for i in 0..<count {
            let delta = other.meanBase[i] - meanBase[i]
            meanBase[i] += delta * wb
            m2Base[i] += other.m2Base[i] + delta * delta * wc
        }
        samples += other.samples
        other.reset()
    }

    /// Adds Σ_{i ∈ segment s} M2_i to `sums[s]`; segment s is `boundaries[s]..<boundaries[s + 1]`.
    public func addM2Sums(boundaries: [Int], into sums: inout [Double]) {
        checkSegments(boundaries, count: count, sums: sums.count)
        for s in 0..<(boundaries.count - 1) {
            var acc = 0.0
            for i in boundaries[s]..<boundaries[s + 1] { acc += m2Base[i] }
            sums[s] += acc
        }
    }

    fileprivate func advance() -> Double {
        samples += 1
        return 1 / Double(samples)
    }
}

/// One training step of the thermometer, fused: Welford update of θ and of Δ per coordinate, and
/// per segment s (`boundaries[s]..<boundaries[s + 1]`) adds Σ Δ_i² to `deltaSquares[s]` and
/// Σ θ_i g_i to `thetaDotGradient[s]`. Returns the step's totals over all segments (a NaN or Inf
/// anywhere in Δ, θ or g shows up in them).
///
/// theta (P), delta (P), gradient (P) -> moments (P), segment sums (S)
@discardableResult
public func accumulateStep(theta: Buffer, delta: Buffer, gradient: Buffer,
                           thetaMoments: CoordinateMoments, deltaMoments: CoordinateMoments,
                           boundaries: [Int], deltaSquares: inout [Double],
                           thetaDotGradient: inout [Double]) -> (deltaSquares: Double, thetaDotGradient: Double) {
    let p = theta.count
    precondition(delta.count == p && gradient.count == p && thetaMoments.count == p
                 && deltaMoments.count == p,
                 "accumulateStep: sizes θ \(p), Δ \(delta.count), g \(gradient.count), "
                 + "moments \(thetaMoments.count)/\(deltaMoments.count)")
    precondition(thetaMoments.samples == deltaMoments.samples, "θ and Δ moments out of step")
    checkSegments(boundaries, count: p, sums: min(deltaSquares.count, thetaDotGradient.count))
    let inv = thetaMoments.advance()
    _ = deltaMoments.advance()
    let vinv = SIMD8<Double>(repeating: inv)
    let tp = theta.base, dp = delta.base, gp = gradient.base
    let tm = thetaMoments.meanBase, tq = thetaMoments.m2Base
    let dm = deltaMoments.meanBase, dq = deltaMoments.m2Base
    var totalD = 0.0, totalG = 0.0
    for s in 0..<(boundaries.count - 1) {
        let hi = boundaries[s + 1]
        var i = boundaries[s]
        var accD = SIMD8<Double>(), accG = SIMD8<Double>()
        while i + 8 <= hi {
            let t = load8(tp + i), d = load8(dp + i), g = load8(gp + i)
            let mt = load8(tm + i), md = load8(dm + i)
            let et = t - mt, ed = d - md
            let mtNew = fma8(mt, et, vinv), mdNew = fma8(md, ed, vinv)
            store8(mtNew, tm + i)
            store8(mdNew, dm + i)
            store8(fma8(load8(tq + i), et, t - mtNew), tq + i)
            store8(fma8(load8(dq + i), ed, d - mdNew), dq + i)
            accD = fma8(accD, d, d)
            accG = fma8(accG, t, g)
            i += 8
        }
        var sumD = accD.sum(), sumG = accG.sum()
        while i < hi {
            let t = Double(tp[i]), d = Double(dp[i]), g = Double(gp[i])
            let et = t - tm[i], ed = d - dm[i]
            tm[i] += et * inv
            dm[i] += ed * inv
            tq[i] += et * (t - tm[i])
            dq[i] += ed * (d - dm[i])
            sumD += d * d
            sumG += t * g
            i += 1
        }
        deltaSquares[s] += sumD
        thetaDotGradient[s] += sumG
        totalD += sumD
        totalG += sumG
    }
    return (totalD, totalG)
}

/// The plain scalar version of `accumulateStep`: the reference it is tested against.
@discardableResult
public func referenceAccumulateStep(theta: Buffer, delta: Buffer, gradient: Buffer,
                                    thetaMoments: CoordinateMoments, deltaMoments: CoordinateMoments,
                                    boundaries: [Int], deltaSquares: inout [Double],
                                    thetaDotGradient: inout [Double]) -> (deltaSquares: Double, thetaDotGradient: Double) {
    precondition(thetaMoments.samples == deltaMoments.samples, "θ and Δ moments out of step")
    checkSegments(boundaries, count: theta.count, sums: min(deltaSquares.count, thetaDotGradient.count))
    thetaMoments.referenceAdd(theta)
    deltaMoments.referenceAdd(delta)
    var totalD = 0.0, totalG = 0.0
    for s in 0..<(boundaries.count - 1) {
        for i in boundaries[s]..<boundaries[s + 1] {
            let d = Double(delta[i])
            let tg = Double(theta[i]) * Double(gradient[i])
            deltaSquares[s] += d * d
            thetaDotGradient[s] += tg
            totalD += d * d
            totalG += tg
        }
    }
    return (totalD, totalG)
}

/// Whether every element of `x` is finite (no NaN, no ±Inf).
public func allFinite(_ x: Buffer) -> Bool {
    // x − x is 0 for finite x and NaN for NaN or ±Inf; a NaN sum flags the buffer.
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= x.count {
        let v = UnsafeRawPointer(x.base + i).loadUnaligned(as: SIMD8<Float>.self)
        acc += v - v
        i += 8
    }
    var tail: Float = 0
    while i < x.count { tail += x.base[i] - x.base[i]; i += 1 }
    return (acc.sum() + tail) == 0
}

private func checkSegments(_ boundaries: [Int], count: Int, sums: Int) {
    precondition(boundaries.count >= 2 && boundaries.first == 0 && boundaries.last == count,
                 "segment boundaries must run from 0 to \(count), got \(boundaries.prefix(4))…")
    precondition(sums >= boundaries.count - 1,
                 "\(boundaries.count - 1) segments but only \(sums) sums")
    assert(zip(boundaries, boundaries.dropFirst()).allSatisfy { $0 <= $1 }, "boundaries not sorted")
}

@inline(__always) private func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Double> {
    SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self))
}

@inline(__always) private func load8(_ p: UnsafeMutablePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
}

@inline(__always) private func store8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
}

/// a + b·c, fused where the target has FMA (see the Makefile's TS_FMA).
@inline(__always) private func fma8(_ a: SIMD8<Double>, _ b: SIMD8<Double>,
                                    _ c: SIMD8<Double>) -> SIMD8<Double> {
#if TS_FMA
    return a.addingProduct(b, c)
#else
    return a + b * c
#endif
}
