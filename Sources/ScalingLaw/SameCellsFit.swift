// The fit of another quantity measured in the same runs, on the cells and with the weights of a
// finished fit of ln T (docs/METHOD.md, 9, decomposition).

extension ScalingLaw {
    /// Fits ln X = c + a ln η + b ln|B| for a positive quantity X measured in the same runs as the
    /// temperature of `result`, on exactly the runs and cells `result`'s full fit used and with
    /// exactly its cell weights 1/v_i. Weighted least squares is linear in y, so when ln T is a sum
    /// of such quantities run by run, their exponents add up to T's.
    ///
    /// `values` carry X in `temperature` (one observation per run; `exclusion` and the block SE
    /// are ignored: the runs are those `result` used). The standard errors come from this fit's own
    /// residuals with `result`'s covariance scaling, and the Wald test of `expected` (default
    /// (0, 0): X is the same in every cell) replaces that of the temperature's expected exponents.
    /// Fails when `result` has no fit, or when X is missing, zero or negative in a run it used.
    public static func fit(_ values: [Observation], sameCellsAs result: ScalingLawResult,
                           expected: ExponentPair = ExponentPair(a: 0, b: 0)) -> Result<PowerLawFit, FitFailure>
    {
        guard result.fit != nil else {
            return .failure(result.failure ?? FitFailure(kind: .tooFewCells, message: "the temperature has no fit"))
        }
        struct Run: Hashable { var eta: Double, batchSize: Int, seed: Int }
        struct Cell: Hashable { var eta: Double, batchSize: Int }
        let usedCells = Set(result.cells.map { Cell(eta: $0.eta, batchSize: $0.batchSize) })
        // A duplicate's first observation was used: CellTable keeps the first one here too.
        let excluded = Set(result.excludedObservations.filter { $0.reason != .duplicateSeed }
            .map { Run(eta: $0.eta, batchSize: $0.batchSize, seed: $0.seed) })
        let kept = values.filter {
            usedCells.contains(Cell(eta: $0.eta, batchSize: $0.batchSize))
                && !excluded.contains(Run(eta: $0.eta, batchSize: $0.batchSize, seed: $0.seed))
        }.map { Observation(eta: $0.eta, batchSize: $0.batchSize, seed: $0.seed, temperature: $0.temperature) }
        var options = result.options
        options.expectedExponents = expected
        let table = CellTable(kept, options: options)
        var moments = CellMoments(table, multiplicity: nil, model: options.cellVariance,
                                  minimumFraction: options.minimumVarianceFraction)
        // A duplicate run (kept twice in `values`) is dropped here as it was in the temperature's fit.
        let dropped = table.excludedObservations.filter { $0.reason != .duplicateSeed }
        if let run = dropped.first(where: { $0.reason != .otherSeedExcluded }) ?? dropped.first {
            return .failure(FitFailure(
                kind: .valuesMissing,
                message: "the quantity is \(run.reason == .missingEstimate ? "missing" : "zero, negative or not finite") "
                    + "at η = \(run.eta), |B| = \(run.batchSize), seed \(run.seed), a run the temperature's fit used"))
        }
        // The same cells with the same runs each (nothing above was dropped), so the weights are T's.
        guard table.count == result.cells.count,
              zip(result.cells, 0..<table.count).allSatisfy({ c, i in
                  c.eta == table.eta[i] && c.batchSize == table.batchSize[i] && c.seeds == moments.n[i] })
        else {
            return .failure(FitFailure(
                kind: .valuesMissing, message: "the values do not cover the runs of the temperature's fit"))
        }
        moments.variance = result.cells.map(\.varianceOfMean)
        moments.rule = result.weighting
        return fitPowerLaw(table, moments, options: options)
    }
}
