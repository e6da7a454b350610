import Cell
import Kernels
import Trainer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures the temperature of parameter groups over one SGD measurement window (docs/METHOD.md).
///
/// The training loop calls `record` once per window step with θ_k (before the update), the applied
/// update Δ_k = θ_{k+1} − θ_k, the batch gradient g_B(θ_k) and the batch loss; at the steps in
/// `calibrationSteps` it first hands over probe gradients (`beginProbe` / `addProbeGradient` /
/// `endProbe`); then `finish()` returns the report.
///
/// Accumulation: per coordinate, Welford mean/M2 of θ and Δ in Float64 inside the current block;
/// at each block end the block's Σ_i M2_i per segment is kept and the block state is folded into
/// the window state by Chan's parallel combination. Variances are unbiased (divide by n − 1) both
/// per block and over the window. Per step and segment, Σ Δ² and Σ θ·g are added to block sums.
/// Segments are the pieces the group and filter boundaries cut the flat vector into, so
/// overlapping groups (such as `network`) cost nothing extra. `record` allocates nothing.
///
/// A diverged run (see `DivergenceCheck`) stops accumulating at once; `finish()` then reports the
/// reason and no estimates. Not thread-safe: one training loop owns one Thermometer.
public final class Thermometer {
    public let config: ThermometerConfig
    /// The caller's groups followed by `network` (unless the caller passed one).
    public let groups: [ParameterGroup]
    /// Length of the flat parameter vector.
    public let parameterCount: Int
    /// Window steps before whose `record` a calibration probe is expected.
    public let calibrationSteps: [Int]

    private let boundaries: [Int]
    private let groupSegments: [Range<Int>]
    private let filterSegments: [[Range<Int>]]
    private let blockEnds: [Int]
    private let blockTheta: CoordinateMoments
    private let blockDelta: CoordinateMoments
    private let windowTheta: CoordinateMoments
    let windowDelta: CoordinateMoments
    /// Per coordinate, ln of each closed block's Var(Δ_i): the noise of the per-weight temperature.
    let blockLogVariance: CoordinateLogVariance
    private var deltaSquares: [Double]
    private var thetaDotGradient: [Double]
    private var closedBlocks: [BlockSums] = []
    private var losses: [Double] = []
    private var step = 0
    private var blockStart = 0
    private var extraSteps = 0
    private var divergence: DivergenceCheck
    private var report: ThermometerReport?

    private let probeMoments: CoordinateMoments
    private var probeOpen = false
    private var lastProbeStep = -1
    private var probeBatchSize = 0
    private var probeNonFinite = false
    private var probeTooFew = false
    /// Per completed calibration point, per segment: probe batch size × Σ_i Var_probes(g_i).
    private var probeVarianceSums: [[Double]] = []

    /// What is kept of one closed block: its sums per segment and its mean training loss.
    private struct BlockSums {
        var totals: Totals
        var lossMean: Double
    }

    /// A Thermometer for `groups` of a flat vector of `parameterCount` entries (default: the largest
    /// group end). Throws when `config` fails `validate()`.
    public init(groups: [ParameterGroup], config: ThermometerConfig, parameterCount: Int? = nil) throws {
        try config.validate()
        let p = parameterCount ?? groups.map(\.range.upperBound).max() ?? 0
        precondition(p > 0, "Thermometer needs a non-empty parameter vector")
        for g in groups {
            precondition(g.range.lowerBound >= 0 && g.range.upperBound <= p && !g.range.isEmpty,
                         "group \(g.name) range \(g.range) must be non-empty inside 0..<\(p)")
        }
        var all = groups
        if !groups.contains(where: { $0.name == GroupReport.networkName }) {
            all.append(ParameterGroup(name: GroupReport.networkName, range: 0..<p))
        }
        self.config = config
        self.groups = all
        self.parameterCount = p

        var cuts: Set<Int> = [0, p]
        for g in all {
            cuts.insert(g.range.lowerBound)
            cuts.insert(g.range.upperBound)
            for f in 0..<g.filterCount { cuts.insert(g.filterRange(f).lowerBound) }
        }
        let b = cuts.sorted()
        var index: [Int: Int] = [:]
        for (s, cut) in b.enumerated() { index[cut] = s }
        func segments(_ r: Range<Int>) -> Range<Int> {
            (index[r.lowerBound] ?? 0)..<(index[r.upperBound] ?? 0)
        }
        boundaries = b
        groupSegments = all.map { segments($0.range) }
        filterSegments = all.map { g in (0..<g.filterCount).map { segments(g.filterRange($0)) } }

        let k = config.measureSteps
        blockEnds = (0..<config.blocks).map { (($0 + 1) * k) / config.blocks }
        calibrationSteps = Thermometer.calibrationPoints(measureSteps: k, count: config.calibrationPoints)
        blockTheta = CoordinateMoments(count: p)
        blockDelta = CoordinateMoments(count: p)
        windowTheta = CoordinateMoments(count: p)
        windowDelta = CoordinateMoments(count: p)
        blockLogVariance = CoordinateLogVariance(count: p)
        probeMoments = CoordinateMoments(count: p)
        deltaSquares = Array(repeating: 0, count: b.count - 1)
        thetaDotGradient = Array(repeating: 0, count: b.count - 1)
        losses.reserveCapacity(k)
        closedBlocks.reserveCapacity(config.blocks)
        divergence = DivergenceCheck(chunkLength: k / config.blocks)
    }

    /// The `count` calibration steps of a window of `measureSteps`: the midpoints of `count` equal
    /// parts, ⌊(2j+1)·K/(2·count)⌋ (K = 500, count = 4 → 62, 187, 312, 437). The probe at step s
    /// runs with θ frozen at the θ that `record` will receive for step s, before that call.
    public static func calibrationPoints(measureSteps: Int, count: Int = 4) -> [Int] {
        guard count > 0, measureSteps > 0 else { return [] }
        return (0..<count).map { ((2 * $0 + 1) * measureSteps) / (2 * count) }
    }

    /// Window steps recorded so far (the index of the next `record`).
    public var recordedSteps: Int { step }

    /// Whether the run has been found diverged.
    public var diverged: Bool { divergence.diverged }

    /// Whether a calibration probe is due before the next `record` (and not yet taken).
    public var calibrationDue: Bool {
        !diverged && !probeOpen && report == nil && calibrationSteps.contains(step)
            && lastProbeStep != step
    }

    // MARK: - Per step

    /// Records window step k: `parameters` θ_k before the update, `update` Δ_k = θ_{k+1} − θ_k as
    /// applied, `gradient` g_B(θ_k), and the batch `loss`. Steps past `measureSteps`, and every
    /// step after divergence or `finish()`, are ignored.
    ///
    /// parameters (P), update (P), gradient (P)
    public func record(parameters: Buffer, update: Buffer, gradient: Buffer, loss: Double) {
        guard report == nil, !divergence.diverged else { return }
        guard step < config.measureSteps else { extraSteps += 1; return }
        precondition(parameters.count == parameterCount && update.count == parameterCount
                     && gradient.count == parameterCount,
                     "record: θ \(parameters.count), Δ \(update.count), g \(gradient.count) "
                     + "entries; the Thermometer measures \(parameterCount)")
        let totals = accumulateStep(theta: parameters, delta: update, gradient: gradient,
                                    thetaMoments: blockTheta, deltaMoments: blockDelta,
                                    boundaries: boundaries, deltaSquares: &deltaSquares,
                                    thetaDotGradient: &thetaDotGradient)
        // NaN/Inf in Δ (or θ, g) reaches these sums; the accumulators are discarded from here on.
        divergence.observe(updateSumOfSquares: totals.deltaSquares, step: step)
        if !totals.thetaDotGradient.isFinite {
            divergence.observe(updateSumOfSquares: .nan, step: step)
        }
        divergence.observe(loss: loss, step: step)
        guard !divergence.diverged else { return }
        losses.append(loss)
        step += 1
        if closedBlocks.count < blockEnds.count && step == blockEnds[closedBlocks.count] {
            closeBlock()
        }
    }

    private func closeBlock() {
        let n = blockDelta.samples
        guard n > 0 else { return }
        var m2Delta = [Double](repeating: 0, count: deltaSquares.count)
        var m2Theta = m2Delta
        blockDelta.addM2Sums(boundaries: boundaries, into: &m2Delta)
        blockTheta.addM2Sums(boundaries: boundaries, into: &m2Theta)
        blockLogVariance.add(blockDelta)
        windowDelta.absorb(blockDelta)
        windowTheta.absorb(blockTheta)
        let lossMean = losses[blockStart..<step].reduce(0, +) / Double(step - blockStart)
        closedBlocks.append(BlockSums(totals: Totals(steps: n, m2Delta: m2Delta, m2Theta: m2Theta,
                                                     deltaSquares: deltaSquares, thetaDotGradient: thetaDotGradient),
                                      lossMean: lossMean))
        for s in deltaSquares.indices {
            deltaSquares[s] = 0
            thetaDotGradient[s] = 0
        }
        blockStart = step
    }

    // MARK: - Noise calibration

    /// Starts a calibration point: θ is frozen and probe gradients follow.
    public func beginProbe() {
        precondition(!probeOpen, "beginProbe: the previous probe was not ended")
        probeOpen = true
        lastProbeStep = step
        probeBatchSize = 0
        probeMoments.reset()
    }

    /// Adds one probe-batch gradient (computed at the frozen θ with `probeBatchSize` samples, mean
    /// loss). The buffer can be reused by the caller right after the call.
    public func addProbeGradient(_ gradient: Buffer, probeBatchSize batch: Int) {
        precondition(probeOpen, "addProbeGradient outside beginProbe/endProbe")
        precondition(batch > 0, "probe batch size must be positive, got \(batch)")
        precondition(gradient.count == parameterCount,
                     "probe gradient of \(gradient.count), the Thermometer measures \(parameterCount)")
        precondition(probeBatchSize == 0 || probeBatchSize == batch,
                     "probe batch size changed from \(probeBatchSize) to \(batch) inside one probe")
        probeBatchSize = batch
        guard allFinite(gradient) else { probeNonFinite = true; return }
        probeMoments.add(gradient)
    }

    /// Ends the calibration point: σ̄² per segment = probe batch size × Σ_i Var_probes(g_i) with the
    /// unbiased (n − 1) variance over the probes. Needs at least 2 finite probe gradients.
    public func endProbe() {
        precondition(probeOpen, "endProbe without beginProbe")
        probeOpen = false
        let n = probeMoments.samples
        guard n >= 2 else { probeTooFew = true; return }
        var sums = [Double](repeating: 0, count: deltaSquares.count)
        probeMoments.addM2Sums(boundaries: boundaries, into: &sums)
        let scale = Double(probeBatchSize) / Double(n - 1)
        probeVarianceSums.append(sums.map { $0 * scale })
        probeMoments.reset()
    }

    /// One calibration point from gradients already in hand.
    public func addCalibrationProbe(gradients: [Buffer], probeBatchSize: Int) {
        beginProbe()
        for g in gradients { addProbeGradient(g, probeBatchSize: probeBatchSize) }
        endProbe()
    }

    /// One calibration point whose `probes` gradients come from `gradient(p)`, one at a time, so
    /// the caller can hand back the same buffer each time.
    public func calibrate(probes: Int = 16, probeBatchSize: Int = 32,
                          gradient: (Int) throws -> Buffer) rethrows {
        beginProbe()
        defer { if probeOpen { endProbe() } }
        for p in 0..<probes { addProbeGradient(try gradient(p), probeBatchSize: probeBatchSize) }
    }

    // MARK: - Report

    /// Closes the window and returns the report. Later calls return the same report.
    public func finish() -> ThermometerReport {
        if let report { return report }
        if !divergence.diverged && blockDelta.samples > 0 { closeBlock() }
        let r = makeReport()
        report = r
        return r
    }

    private func makeReport() -> ThermometerReport {
        var flags: [String] = []
        let diverged = divergence.diverged
        if diverged { flags.append("diverged") }
        if step < config.measureSteps { flags.append("incomplete-window") }
        if extraSteps > 0 { flags.append("extra-steps-ignored") }
        if probeNonFinite { flags.append("probe-non-finite-gradient") }
        if probeTooFew { flags.append("probe-too-few-gradients") }
        if probeVarianceSums.count < calibrationSteps.count { flags.append("calibration-incomplete") }

        var windowM2Delta = [Double](repeating: 0, count: deltaSquares.count)
        var windowM2Theta = windowM2Delta
        if !diverged {
            windowDelta.addM2Sums(boundaries: boundaries, into: &windowM2Delta)
            windowTheta.addM2Sums(boundaries: boundaries, into: &windowM2Theta)
        }
        let window = Totals(steps: windowDelta.samples, m2Delta: windowM2Delta,
                            m2Theta: windowM2Theta,
                            deltaSquares: sumOverBlocks(\.deltaSquares),
                            thetaDotGradient: sumOverBlocks(\.thetaDotGradient))

        let groupReports = groups.indices.map { g -> GroupReport in
            let m = measure(segments: groupSegments[g], count: groups[g].count, window: window,
                            diverged: diverged)
            var gflags = m.flags
            if diverged { gflags.append(.diverged) }
            let filters = filterSegments[g].enumerated().map { f, segs -> FilterReport in
                let size = groups[g].count / max(groups[g].filterCount, 1)
                let fm = measure(segments: segs, count: size, window: window, diverged: diverged)
                return FilterReport(index: f, count: size, estimates: fm.estimates,
                                    noiseVariance: fm.noiseVariance,
                                    calibrationRatio: fm.calibrationRatio,
                                    fluctuationDissipationRatio: fm.fdr)
            }
            return GroupReport(name: groups[g].name, count: groups[g].count, estimates: m.estimates,
                               noiseVariance: m.noiseVariance, calibrationRatio: m.calibrationRatio,
                               calibrationStandardErrorOfLog: m.calibrationSE,
                               fluctuationDissipationRatio: m.fdr, fluctuationDissipationStandardError: m.fdrSE,
                               flags: gflags, filters: filters,
                               weightTemperatures: weightTemperatureHistogram(groups[g].range))
                .judgingFlags(windowSteps: step)
        }
        return ThermometerReport(formatVersion: ThermometerReport.currentFormatVersion,
                                 config: config, recordedSteps: step,
                                 blockCount: closedBlocks.count,
                                 calibrationPointCount: probeVarianceSums.count,
                                 divergence: divergence.reason, loss: lossReport(diverged: diverged),
                                 groups: groupReports, flags: flags)
    }

    private func sumOverBlocks(_ key: KeyPath<Totals, [Double]>) -> [Double] {
        var out = [Double](repeating: 0, count: deltaSquares.count)
        for b in closedBlocks {
            for s in out.indices { out[s] += b.totals[keyPath: key][s] }
        }
        return out
    }

    /// Sums over the window (or one block) per segment.
    private struct Totals {
        var steps: Int
        var m2Delta: [Double]
        var m2Theta: [Double]
        var deltaSquares: [Double]
        var thetaDotGradient: [Double]
    }

    private struct Measurement {
        var estimates: [EstimateReport]
        var noiseVariance: Double?
        var calibrationRatio: Double?
        var calibrationSE: Double?
        var fdr: Double?
        var fdrSE: Double?
        var flags: [GroupFlag]
    }

    /// The four estimators (T per estimator) from segment sums over `segments`, n = `count`.
    private func temperatures(_ t: Totals, segments: Range<Int>, count: Int) -> [Estimator: Double] {
        func sum(_ a: [Double]) -> Double { segments.reduce(0) { $0 + a[$1] } }
        let eta = config.learningRate, n = Double(count), k = Double(t.steps)
        let mf = config.momentumFactor
        let kinetic = mf * sum(t.deltaSquares) / (k * n)
        return [
            .diffusion: mf * sum(t.m2Delta) / (k - 1) / (2 * eta * n),
            .kinetic: kinetic,
            .kineticSDE: kinetic / (eta * eta),
            .configurational: sum(t.m2Theta) / (k - 1) / n,
        ]
    }

    private func measure(segments: Range<Int>, count: Int, window: Totals,
                         diverged: Bool) -> Measurement {
        func sum(_ a: [Double]) -> Double { segments.reduce(0) { $0 + a[$1] } }
        let usable = diverged ? [] : closedBlocks.map(\.totals).filter { $0.steps >= 2 }
        let blockT = usable.map { temperatures($0, segments: segments, count: count) }
        let windowT: [Estimator: Double] = diverged || window.steps < 2
            ? [:] : temperatures(window, segments: segments, count: count)
        var flags: [GroupFlag] = []
        let estimates = Estimator.allCases.map { e -> EstimateReport in
            let values = blockT.compactMap { $0[e] }
            return EstimateReport(estimator: e, value: windowT[e].flatMap(finite),
                                  seLogT: Thermometer.seLogT(values),
                                  blockValues: values.map(finite))
        }
        if !diverged && estimates.contains(where: { $0.value == nil }) { flags.append(.undefinedEstimate) }

        // ⟨θ·g⟩ / ((1+m)⟨‖Δ‖²⟩/2η) = 2η Σθ·g / ((1+m) ΣΔ²): the step counts cancel.
        let fdr = diverged ? nil : finite(2 * config.learningRate * sum(window.thetaDotGradient)
                                          / (config.momentumFactor * sum(window.deltaSquares)))
        let fdrSE = fdr == nil ? nil : FlagRules.ratioStandardError(
            numerators: usable.map { 2 * config.learningRate * sum($0.thetaDotGradient) },
            denominators: usable.map { config.momentumFactor * sum($0.deltaSquares) })

        var noise: Double?
        var ratio: Double?
        var ratioSE: Double?
        if !probeVarianceSums.isEmpty && !diverged {
            let perPoint = probeVarianceSums.map { sum($0) / Double(count) }
            noise = finite(perPoint.reduce(0, +) / Double(perPoint.count))
            if let noise, let d = windowT[.diffusion] {
                let predicted = config.effectiveLearningRate * noise / (2 * Double(config.batchSize))
                ratio = finite(d / predicted)
                // SE(ln calib)² = SE(ln diffusion)² + SE(ln σ̄²)², the latter over the calibration points.
                if let seDiffusion = estimates.first(where: { $0.estimator == .diffusion })?.seLogT,
                   let seNoise = Thermometer.seLogMean(perPoint) {
                    ratioSE = finite((seDiffusion * seDiffusion + seNoise * seNoise).squareRoot())
                }
            }
        } else if !diverged {
            flags.append(.noCalibration)
        }
        return Measurement(estimates: estimates, noiseVariance: noise, calibrationRatio: ratio,
                           calibrationSE: ratioSE, fdr: fdr, fdrSE: fdrSE.flatMap(finite), flags: flags)
    }

    /// SE of ln(mean of `values`): sd (n − 1) / (√n · mean); nil with fewer than 2 values or a mean ≤ 0.
    static func seLogMean(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        guard mean > 0 else { return nil }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return finite(variance.squareRoot() / (n.squareRoot() * mean))
    }

    /// sd (n − 1) of ln T over blocks / √n; nil unless every block value is positive and finite and
    /// there are at least 2 blocks.
    static func seLogT(_ values: [Double]) -> Double? {
        guard values.count >= 2, values.allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }
        let logs = values.map { log($0) }
        let n = Double(logs.count)
        let mean = logs.reduce(0, +) / n
        let variance = logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return finite(variance.squareRoot() / n.squareRoot())
    }

    private func lossReport(diverged: Bool) -> LossReport {
        LossReport(losses: losses, blockMeans: closedBlocks.map(\.lossMean), diverged: diverged)
    }
}

/// `x` when finite, else nil: the one gate every reported number passes.
@inline(__always) func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
