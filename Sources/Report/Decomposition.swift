// Why the diffusion exponents are what they are: per run and group, diffusion = (η_eff/2|B|) · σ̄² ·
// calib exactly, so fitting ln σ̄² and ln calib on the cells and with the weights of the diffusion
// fit splits a and b into 1 + a_σ̄² + a_calib and −1 + b_σ̄² + b_calib (docs/METHOD.md, 9,
// decomposition).
import Foundation
import ScalingLaw
import Cell

/// The decomposition of one group's `diffusion` exponents (the `decomposition` key of fits.json).
public struct GroupDecomposition: Codable, Sendable {
    public var group: String
    /// ln σ̄² (`noiseVariance`) and ln calib (`calibrationRatio`) fitted on the runs, cells and
    /// weights of the group's `diffusion` fit, each with its own residual variance; the Wald test
    /// `expectedExponents` is of (a, b) = (0, 0), the quantity being the same in every cell.
    /// nil with `failure`.
    public var noiseVariance: PowerLawFit?
    public var calibrationRatio: PowerLawFit?
    public var failure: String?
    /// a_T − (1 + a_σ̄² + a_calib) and b_T − (−1 + b_σ̄² + b_calib): zero up to rounding.
    public var exponentGap: ExponentPair?
    /// Runs of the sweep in which T, σ̄² and calib of the group are all positive, and the largest
    /// |ln T − ln(η_eff/2|B|) − ln σ̄² − ln calib| over them (η_eff = η/(1 − m)); nil when none.
    public var runsChecked: Int
    public var largestRunDeviation: Double?
}

enum Decomposition {
    /// The estimator that the identity holds for.
    static let estimator = Estimator.diffusion

    /// One entry per group with a `diffusion` fit in `fits`, in layer order.
    static func all(_ data: SweepData, _ fits: SweepFits) -> [GroupDecomposition] {
        data.groups.compactMap { group in
            fits.fit(group: group, estimator: estimator).map { of($0, data) }
        }
    }

    static func of(_ fit: GroupFit, _ data: SweepData) -> GroupDecomposition {
        var checked = 0, largest: Double?
        var noise: [Observation] = [], calib: [Observation] = []
        // Each run where the fit put it (at η/(1 − m) in a collapsed fit, docs/METHOD.md, 9).
        let momenta = data.spec.momentumValues, seeds = data.spec.seeds
        for run in data.runs where (fit.momentum.map { $0 == run.momentum } ?? true)
            && (fit.batchMode.map { $0 == run.batchMode } ?? true) {
            let g = run.result.thermometer.group(fit.group)
            let place = fit.fittedAgainst != nil
                ? SweepFits.collapsedPlace(run, momenta: momenta, seeds: seeds) : (eta: run.learningRate, seed: run.seed)
            noise.append(Observation(eta: place.eta, batchSize: run.batchSize, seed: place.seed,
                                     temperature: g?.noiseVariance))
            calib.append(Observation(eta: place.eta, batchSize: run.batchSize, seed: place.seed,
                                     temperature: g?.calibrationRatio))
            guard let t = g?.estimate(estimator)?.value, let s = g?.noiseVariance, let c = g?.calibrationRatio,
                  t > 0, s > 0, c > 0 else { continue }
            // η_eff / 2|B| from the settings the run recorded.
            let config = run.result.thermometer.config
            let kinematic = config.effectiveLearningRate / (2 * Double(config.batchSize))
            let deviation = abs(log(t) - log(kinematic) - log(s) - log(c))
            checked += 1
            largest = max(largest ?? 0, deviation)
        }
        var d = GroupDecomposition(group: fit.group, runsChecked: checked, largestRunDeviation: largest)
        switch (ScalingLaw.fit(noise, sameCellsAs: fit.result), ScalingLaw.fit(calib, sameCellsAs: fit.result)) {
        case (.success(let n), .success(let c)):
            d.noiseVariance = n
            d.calibrationRatio = c
            if let t = fit.result.fit {
                d.exponentGap = ExponentPair(a: t.a.value - (1 + n.a.value + c.a.value),
                                             b: t.b.value - (-1 + n.b.value + c.b.value))
            }
        case (.failure(let f), _):
            d.failure = fit.result.fit == nil ? "no diffusion fit: \(f.message)" : "σ̄²: \(f.message)"
        case (_, .failure(let f)):
            d.failure = "calibration ratio: \(f.message)"
        }
        return d
    }
}
