import Cell
import Kernels
import Testing
import Trainer

/// The fused per-step kernel and the Welford/Chan accumulator against plain references.
@Suite struct MomentsKernelTests {
    func randomBuffer(_ n: Int, _ rng: inout SeededRNG, offset: Double = 0) -> Buffer {
        Buffer((0..<n).map { _ in Float(offset + rng.normal()) })
    }

    func close(_ a: Double, _ b: Double, _ tol: Double = 1e-12) -> Bool {
        abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)
    }

    @Test func fusedStepMatchesReference() {
        let n = 1003
        let boundaries = [0, 5, 37, 38, 500, 1003]
        var rng = SeededRNG(seed: 21)
        let fastT = CoordinateMoments(count: n), fastD = CoordinateMoments(count: n)
        let refT = CoordinateMoments(count: n), refD = CoordinateMoments(count: n)
        var fastSq = [Double](repeating: 0, count: 5), fastTG = fastSq, refSq = fastSq, refTG = fastSq
        for _ in 0..<30 {
            // θ sits far from 0 (offset 5): Welford must not lose its small spread.
            let theta = randomBuffer(n, &rng, offset: 5), delta = randomBuffer(n, &rng)
            let grad = randomBuffer(n, &rng)
            let f = accumulateStep(theta: theta, delta: delta, gradient: grad, thetaMoments: fastT,
                                   deltaMoments: fastD, boundaries: boundaries,
                                   deltaSquares: &fastSq, thetaDotGradient: &fastTG)
            let r = referenceAccumulateStep(theta: theta, delta: delta, gradient: grad,
                                            thetaMoments: refT, deltaMoments: refD,
                                            boundaries: boundaries, deltaSquares: &refSq,
                                            thetaDotGradient: &refTG)
            #expect(close(f.deltaSquares, r.deltaSquares) && close(f.thetaDotGradient, r.thetaDotGradient))
        }
        #expect(fastT.samples == 30 && fastD.samples == 30)
        var worst = 0.0
        for i in 0..<n {
            for (a, b) in [(fastT.mean(i), refT.mean(i)), (fastT.m2(i), refT.m2(i)),
                           (fastD.mean(i), refD.mean(i)), (fastD.m2(i), refD.m2(i))] {
                worst = max(worst, abs(a - b) / max(abs(b), 1e-300))
            }
        }
        #expect(worst < 1e-12, "worst relative difference \(worst)")
        for s in 0..<5 { #expect(close(fastSq[s], refSq[s]) && close(fastTG[s], refTG[s], 1e-10)) }
    }

    @Test func welfordAndChanMatchTwoPass() {
        let n = 19, k = 40
        var rng = SeededRNG(seed: 5)
        let rows = (0..<k).map { _ in randomBuffer(n, &rng, offset: 1000) }
        let window = CoordinateMoments(count: n), block = CoordinateMoments(count: n)
        // Unequal blocks: 7, 13, 20 samples, folded in with Chan's combination.
        for (j, row) in rows.enumerated() {
            block.add(row)
            if j == 6 || j == 19 || j == k - 1 { window.absorb(block) }
        }
        #expect(window.samples == k && block.samples == 0)
        for i in 0..<n {
            let x = rows.map { Double($0[i]) }
            let mean = x.reduce(0, +) / Double(k)
            let m2 = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            #expect(close(window.mean(i), mean, 1e-14))
            #expect(close(window.m2(i), m2, 1e-9), "coordinate \(i): \(window.m2(i)) vs \(m2)")
        }
        var sums = [0.0, 0.0]
        window.addM2Sums(boundaries: [0, 4, n], into: &sums)
        let direct = (0..<4).reduce(0.0) { $0 + window.m2($1) }
        #expect(close(sums[0], direct))
    }

    @Test func allFiniteFindsNaNAndInfAnywhere() {
        for n in [1, 7, 8, 9, 33] {
            #expect(allFinite(Buffer(count: n)))
            for i in [0, n / 2, n - 1] {
                for bad in [Float.nan, .infinity, -.infinity] {
                    let b = Buffer(count: n)
                    b[i] = bad
                    #expect(!allFinite(b), "n \(n) index \(i) \(bad)")
                }
            }
        }
        #expect(allFinite(Buffer([Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude])))
    }
}
