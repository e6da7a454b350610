// Weighted least squares, bootstrap and hypothesis tests for the scaling law T ∝ η^a · |B|^b
// (docs/METHOD.md, 9).

/// Fits ln T = c + a ln η + b ln|B| to a grid of runs, with tests, a seed bootstrap and a
/// restricted refit. Pure computation: no I/O, deterministic for given options.
public enum ScalingLaw {
    /// Fits one (group, estimator). Never traps and never puts NaN or ±∞ in the result: what cannot
    /// be computed is nil with a reason (`failure`, `bootstrapUnavailable`, `PowerLawFit.notes`).
    public static func fit(_ observations: [Observation],
                           options requested: FitOptions = FitOptions()) -> ScalingLawResult
    {
        let options = requested.sanitized
        let table = CellTable(observations, options: options)
        let moments = CellMoments(
            table, multiplicity: nil, model: options.cellVariance,
            minimumFraction: options.minimumVarianceFraction)
        var result = ScalingLawResult(
            fit: nil, failure: nil, bootstrap: nil, bootstrapUnavailable: nil, restricted: nil,
            weighting: moments.rule, excessSeedVariance: moments.excessVariance, cells: [],
            excludedCells: table.excludedCells, excludedObservations: table.excludedObservations, options: options)
        let full = fitPowerLaw(table, moments, options: options)
        for i in 0..<table.count {
            var cell = CellSummary(
                eta: table.eta[i], batchSize: table.batchSize[i], seeds: moments.n[i],
                meanLogT: moments.mean[i], varianceOfMean: moments.variance[i],
                betweenSeedVariance: moments.between[i].isNaN ? nil : moments.between[i],
                meanBlockSE2: moments.block[i].isNaN ? nil : moments.block[i],
                fittedLogT: nil, residual: nil)
            if case .success(let fit) = full {
                let fitted = fit.c.value + fit.a.value * table.lnEta[i]
                    + fit.b.value * table.lnBatch[i]
                cell.fittedLogT = fitted
                cell.residual = moments.mean[i] - fitted
            }
            result.cells.append(cell)
        }
        switch full {
        case .failure(let failure):
            result.failure = failure
            result.bootstrapUnavailable = "no full fit: \(failure.message)"
            return result
        case .success(let fit):
            result.fit = fit
        }
        switch bootstrap(table, options: options) {
        case .success(let summary): result.bootstrap = summary
        case .failure(let reason): result.bootstrapUnavailable = reason.message
        }
        if options.restrictedRefit, let maxEta = table.eta.max(),
            let minBatch = table.batchSize.min()
        {
            let sub = table.subset { table.eta[$0] != maxEta && table.batchSize[$0] != minBatch }
            let subMoments = CellMoments(
                sub, multiplicity: nil, model: options.cellVariance,
                minimumFraction: options.minimumVarianceFraction)
            var refit = RestrictedRefit(droppedEta: maxEta, droppedBatchSize: minBatch)
            switch fitPowerLaw(sub, subMoments, options: options) {
            case .success(let fit): refit.fit = fit
            case .failure(let failure): refit.failure = failure
            }
            result.restricted = refit
        }
        return result
    }

    // MARK: Full weighted fit and its tests

    static func fitPowerLaw(_ table: CellTable, _ moments: CellMoments, options: FitOptions)
        -> Result<PowerLawFit, FitFailure>
    {
        let m = table.count
        guard m >= 4 else {
            return .failure(FitFailure(
                kind: .tooFewCells,
                message: "only \(m) usable cell\(m == 1 ? "" : "s") (at least 4 needed for 3 "
                    + "coefficients and a residual variance); see the excluded cells"))
        }
        guard Set(table.eta).count >= 2 else {
            return .failure(FitFailure(
                kind: .etaNotVaried,
                message: "all usable cells have η = \(table.eta[0]): the exponent a is not "
                    + "identifiable; add learning rates to the grid"))
        }
        guard Set(table.batchSize).count >= 2 else {
            return .failure(FitFailure(
                kind: .batchSizeNotVaried,
                message: "all usable cells have |B| = \(table.batchSize[0]): the exponent b is "
                    + "not identifiable; add batch sizes to the grid"))
        }
        let scaled = options.covariance == .reducedChiSquare
        // Centre the regressors so XᵀWX is well conditioned; c is transformed back below.
        let uBar = table.lnEta.reduce(0, +) / Double(m)
        let vBar = table.lnBatch.reduce(0, +) / Double(m)
        var design = [Double]()  // (m, 3): 1, ln η − ū, ln|B| − v̄
        design.reserveCapacity(3 * m)
        for i in 0..<m { design += [1, table.lnEta[i] - uBar, table.lnBatch[i] - vBar] }
        guard let lin = moments.weightedFit(design: design, columns: 3)
        else {
            return .failure(FitFailure(
                kind: .singularDesign,
                message: "XᵀWX is singular: ln η and ln|B| are collinear over the usable cells "
                    + "(e.g. all cells on one diagonal η/|B| = const)"))
        }
        let dof = lin.dof
        let residualVariance = scaled ? lin.chiSquare / Double(dof) : 1
        // Covariance of (c', a, b) -> (c, a, b) with c = c' − a ū − b v̄: Σ = T Σ' Tᵀ.
        let t: [Double] = [1, -uBar, -vBar, 0, 1, 0, 0, 0, 1]
        var cov = [Double](repeating: 0, count: 9)
        for r in 0..<3 {
            for c in 0..<3 {
                var s = 0.0
                for k in 0..<3 {
                    for l in 0..<3 { s += t[r * 3 + k] * lin.inverse[k * 3 + l] * t[c * 3 + l] }
                }
                cov[r * 3 + c] = s * residualVariance
            }
        }
        let level = options.confidenceLevel
        let quantile = intervalQuantile(level: level, dof: scaled ? dof : nil)
        let aValue = lin.beta[1], bValue = lin.beta[2]
        let cValue = lin.beta[0] - aValue * uBar - bValue * vBar
        func estimate(_ value: Double, _ variance: Double, _ q: Double) -> Estimate {
            let se = max(0, variance).squareRoot()
            return Estimate(value: value, standardError: se,
                            interval: Interval(lower: value - q * se, upper: value + q * se))
        }
        var notes: [String] = []
        if moments.rule != .cellVariances {
            notes.append("weighting: \(moments.rule.rawValue)")
        }
        let sAA = cov[4], sBB = cov[8], sAB = cov[5]
        var collapse: WaldTest?, expected: WaldTest?
        let denominator = scaled ? dof : nil
        if sAA > 0 && sBB > 0 {
            let d = aValue + bValue, varSum = sAA + sBB + 2 * sAB
            if varSum > 0 {
                collapse = waldTest("a + b = 0", statistic: d * d / varSum, constraints: 1,
                                    denominatorDof: denominator)
            }
            let det = sAA * sBB - sAB * sAB
            if det > 0 {
                let e = options.expectedExponents
                let da = aValue - e.a, db = bValue - e.b
                let w2 = (sBB * da * da - 2 * sAB * da * db + sAA * db * db) / det
                expected = waldTest(
                    "(a, b) = (\(Format.short(e.a)), \(Format.short(e.b)))", statistic: w2,
                    constraints: 2, denominatorDof: denominator)
            }
        }
        if collapse == nil || expected == nil {
            notes.append("the residual variance or the covariance of (a, b) is zero "
                + "(a noise-free table?): Wald tests skipped")
        }
        let gamma = oneExponentFit(table, moments, options: options, notes: &notes)
        let curvature = curvatureTest(table, moments, linearChiSquare: lin.chiSquare,
                                      options: options, notes: &notes)
        let fit = PowerLawFit(
            a: estimate(aValue, cov[4], quantile), b: estimate(bValue, cov[8], quantile),
            c: estimate(cValue, cov[0], quantile), covariance: cov,
            covarianceScaling: options.covariance, cellsUsed: m, degreesOfFreedom: dof,
            chiSquare: lin.chiSquare, reducedChiSquare: lin.chiSquare / Double(dof),
            rSquared: lin.totalSumOfSquares > 0
                ? 1 - lin.chiSquare / lin.totalSumOfSquares : nil,
            intervalQuantile: quantile, collapse: collapse, expectedExponents: expected,
            oneExponent: gamma, curvature: curvature, notes: notes)
        return .success(fit)
    }

    /// Two-sided interval quantile: t_{dof} at (1 + level)/2, or normal when dof is nil.
    static func intervalQuantile(level: Double, dof: Int?) -> Double {
        let p = (1 + level) / 2
        if let dof { return Distributions.studentTQuantile(p, dof: Double(dof)) }
        return Distributions.normalQuantile(p)
    }

    static func waldTest(_ hypothesis: String, statistic: Double, constraints q: Int,
                         denominatorDof: Int?) -> WaldTest?
    {
        // A residual variance of ~1e-300 can overflow W; such a test says nothing: skip it.
        guard statistic.isFinite else { return nil }
        let asymptotic = Distributions.chiSquareUpperTail(statistic, dof: Double(q))
        let p = denominatorDof.map {
            Distributions.fUpperTail(statistic / Double(q), dof1: Double(q), dof2: Double($0))
        } ?? asymptotic
        return WaldTest(hypothesis: hypothesis, statistic: statistic, constraints: q,
                        denominatorDegreesOfFreedom: denominatorDof, pValue: p,
                        asymptoticPValue: asymptotic)
    }

    /// ln T = c + γ ln(η/|B|) with the same weights.
    static func oneExponentFit(_ table: CellTable, _ moments: CellMoments, options: FitOptions,
                               notes: inout [String]) -> OneExponentFit?
    {
        let m = table.count
        let z = (0..<m).map { table.lnEta[$0] - table.lnBatch[$0] }
        let zBar = z.reduce(0, +) / Double(m)
        var design = [Double]()  // (m, 2): 1, z − z̄
        for zi in z { design += [1, zi - zBar] }
        guard let fit = moments.weightedFit(design: design, columns: 2) else {
            notes.append("one-exponent fit skipped: all cells have the same η/|B|")
            return nil
        }
        let scaled = options.covariance == .reducedChiSquare
        let s2 = scaled ? fit.chiSquare / Double(fit.dof) : 1
        let q = intervalQuantile(level: options.confidenceLevel, dof: scaled ? fit.dof : nil)
        let g = fit.beta[1], varG = fit.inverse[3] * s2
        let c = fit.beta[0] - g * zBar
        let varC = (fit.inverse[0] - 2 * zBar * fit.inverse[1] + zBar * zBar * fit.inverse[3]) * s2
        let seG = max(0, varG).squareRoot(), seC = max(0, varC).squareRoot()
        return OneExponentFit(
            gamma: Estimate(value: g, standardError: seG,
                            interval: Interval(lower: g - q * seG, upper: g + q * seG)),
            intercept: Estimate(value: c, standardError: seC,
                                interval: Interval(lower: c - q * seC, upper: c + q * seC)),
            chiSquare: fit.chiSquare, degreesOfFreedom: fit.dof)
    }

    /// Weighted F-test of the three quadratic terms against the linear fit.
    static func curvatureTest(_ table: CellTable, _ moments: CellMoments, linearChiSquare: Double,
                              options: FitOptions, notes: inout [String]) -> CurvatureTest?
    {
        let m = table.count
        guard m >= 7, Set(table.eta).count >= 3, Set(table.batchSize).count >= 3 else {
            notes.append("curvature test skipped: needs ≥ 7 cells and ≥ 3 distinct η and |B| "
                + "(have \(m) cells, \(Set(table.eta).count) η, \(Set(table.batchSize).count) |B|)")
            return nil
        }
        let uBar = table.lnEta.reduce(0, +) / Double(m)
        let vBar = table.lnBatch.reduce(0, +) / Double(m)
        var design = [Double]()  // (m, 6): 1, u, v, u², v², u·v (centred)
        design.reserveCapacity(6 * m)
        for i in 0..<m {
            let u = table.lnEta[i] - uBar, v = table.lnBatch[i] - vBar
            design += [1, u, v, u * u, v * v, u * v]
        }
        guard let quad = moments.weightedFit(design: design, columns: 6) else {
            notes.append("curvature test skipped: the quadratic design is singular")
            return nil
        }
        let scaled = options.covariance == .reducedChiSquare
        let reduction = max(0, linearChiSquare - quad.chiSquare)
        guard !scaled || quad.chiSquare > 0 else {
            notes.append("curvature test skipped: the quadratic fit is exact (zero residuals)")
            return nil
        }
        let s2 = scaled ? quad.chiSquare / Double(quad.dof) : 1
        let q = intervalQuantile(level: options.confidenceLevel, dof: scaled ? quad.dof : nil)
        func estimate(_ k: Int) -> Estimate {
            let v = quad.beta[k], se = max(0, quad.inverse[k * 6 + k] * s2).squareRoot()
            return Estimate(value: v, standardError: se,
                            interval: Interval(lower: v - q * se, upper: v + q * se))
        }
        let statistic = scaled ? (reduction / 3) / s2 : reduction
        guard statistic.isFinite else {
            notes.append("curvature test skipped: the F statistic overflows (near-exact fit)")
            return nil
        }
        let p = scaled
            ? Distributions.fUpperTail(statistic, dof1: 3, dof2: Double(quad.dof))
            : Distributions.chiSquareUpperTail(statistic, dof: 3)
        return CurvatureTest(
            statistic: statistic, numeratorDegreesOfFreedom: 3,
            denominatorDegreesOfFreedom: scaled ? quad.dof : nil, pValue: p,
            etaSquared: estimate(3), batchSquared: estimate(4), etaBatch: estimate(5))
    }
}
