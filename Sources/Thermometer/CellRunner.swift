import Cell
import Kernels
import Trainer

/// What the runner is doing, for progress display.
public enum CellPhase: String, Sendable {
    case warmStart = "warm start"
    case burnIn = "burn-in"
    case measure = "measure"
    case evaluate = "evaluate"
}

/// Thrown by a `CellRunner.StopCheck` to abandon a run (e.g. a lease the coordinator cancelled).
public struct CellRunStopped: Error, Sendable, Equatable, CustomStringConvertible {
    public let phase: CellPhase
    /// The step of `phase` at which the run stopped.
    public let step: Int

    public init(phase: CellPhase, step: Int) {
        (self.phase, self.step) = (phase, step)
    }

    public var description: String { "stopped in \(phase.rawValue) at step \(step)" }
}

/// Runs the measurement protocol of docs/METHOD.md on one cell: warm start (shared per seed), burn-in,
/// measurement window with noise calibration, final evaluation.
public struct CellRunner: Sendable {
    public let train: Dataset
    public let test: Dataset

    /// Called with (phase, step, steps in the phase) every `progressInterval` steps.
    public typealias Progress = (CellPhase, Int, Int) -> Void
    /// Called with (phase, step) every `stopCheckInterval` steps and before the evaluation; throws
    /// (typically `CellRunStopped`) to abandon the run, and the error propagates to the caller.
    /// It only reads a flag: training draws nothing from it, so a run that is not stopped is
    /// bit-identical with or without a check.
    public typealias StopCheck = (CellPhase, Int) throws -> Void
    static let progressInterval = 100
    /// Steps between two stop checks: a cancelled run ends within this many steps (plus one
    /// calibration or the step in flight), for a cost of one flag read per that many SGD steps.
    public static let stopCheckInterval = 10
    /// Evaluation batch: large, for GEMM efficiency; the trainer reuses the workspace.
    static let evaluationBatch = 256

    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }

    // Stream labels of the random draws, so that no two purposes share a stream.
    private enum Stream: UInt64 {
        case initialWeights = 1, warmStartBatches, cellBatches, probeBatches
    }

    /// The first draw of a stream: the seed handed to a component that owns its own generator.
    private static func draw(_ stream: SeededRNG) -> UInt64 {
        var rng = stream
        return rng.next()
    }

    /// `model` on this runner's images (channels × rows × columns, classes of the training set);
    /// throws, naming the layer and the shapes, when its layer list does not fit them.
    public func architecture(of model: ModelKind) throws(ModelError) -> Architecture {
        try model.architecture(channels: train.channels, height: train.rows, width: train.columns,
                               classes: train.classes)
    }

    /// Trains the seed's shared starting point: He init, then plain SGD per `spec`. The model
    /// must fit the data (`architecture(of:)` does not throw).
    public func warmStart(_ run: WarmStart, progress: Progress? = nil) -> Checkpoint {
        trainWarmStart(run, progress: progress) { (_, _) throws(Never) in }
    }

    /// `warmStart` that `stopCheck` may abandon: throws only what `stopCheck` throws.
    public func warmStart(_ run: WarmStart, progress: Progress? = nil, stopCheck: StopCheck) throws -> Checkpoint {
        try trainWarmStart(run, progress: progress, stopCheck: stopCheck)
    }

    private func trainWarmStart<Failure: Error>(_ run: WarmStart, progress: Progress?,
                                                stopCheck: (CellPhase, Int) throws(Failure) -> Void)
        throws(Failure) -> Checkpoint {
        let (model, seed, spec) = (run.model, run.seed, run.spec)
        var weightSeed = SeededRNG(seed: seed, stream: Stream.initialWeights.rawValue)
        let arch: Architecture
        do { arch = try architecture(of: model) } catch { preconditionFailure("\(error)") }
        let network = Network(model: model, architecture: arch, seed: weightSeed.next(), maxBatch: spec.batchSize)
        let sgd = SGD(config: SGDConfig(learningRate: Float(spec.learningRate)),
                      parameterCount: network.parameterCount)
        var sampler = BatchSampler(count: train.count, batchSize: spec.batchSize, mode: .iid,
                                   seed: Self.draw(SeededRNG(seed: seed, stream: Stream.warmStartBatches.rawValue)))
        var indices = [Int]()
        let steps = spec.steps(trainCount: train.count)
        for step in 0..<steps {
            if step % Self.stopCheckInterval == 0 { try stopCheck(.warmStart, step) }
            sampler.next(into: &indices)
            network.loadBatch(train, indices: indices)
            _ = network.forwardBackward()
            sgd.step(network)
            if step % Self.progressInterval == 0 { progress?(.warmStart, step, steps) }
        }
        return Checkpoint(network)
    }

    /// Runs the cell from `start` (the seed's warm-start checkpoint). `stopCheck` may abandon it
    /// (its error is rethrown).
    public func run(_ spec: CellSpec, from start: Checkpoint, progress: Progress? = nil,
                    stopCheck: StopCheck = { _, _ in }) throws -> CellResult {
        try spec.validate()
        let arch = try architecture(of: spec.model)
        let clock = ContinuousClock()
        let began = clock.now
        let network = Network(model: spec.model, architecture: arch, seed: 0,
                              maxBatch: max(spec.batchSize, spec.probeBatchSize, Self.evaluationBatch))
        try network.restore(start)
        let sgd = SGD(config: SGDConfig(learningRate: Float(spec.learningRate), momentum: Float(spec.momentum)),
                      parameterCount: network.parameterCount)
        let cell = [spec.learningRate.bitPattern, UInt64(spec.batchSize)]
        var sampler = BatchSampler(
            count: train.count, batchSize: spec.batchSize, mode: spec.batchMode,
            seed: Self.draw(SeededRNG(seed: spec.seed, stream: Stream.cellBatches.rawValue, cell[0], cell[1])))
        var probeSampler = BatchSampler(
            count: train.count, batchSize: spec.probeBatchSize, mode: .iid,
            seed: Self.draw(SeededRNG(seed: spec.seed, stream: Stream.probeBatches.rawValue, cell[0], cell[1])))
        let burnIn = spec.resolvedBurnInSteps, window = spec.resolvedMeasureSteps
        let thermometer = try Thermometer(
            groups: network.groups,
            config: ThermometerConfig(learningRate: spec.learningRate, batchSize: spec.batchSize,
                                      momentum: spec.momentum, measureSteps: window,
                                      calibrationPoints: spec.calibrationProbes > 0 ? 4 : 0))
        var indices = [Int](), probeIndices = [Int]()
        var trainingTime = Duration.zero
        // SGD steps taken: a burn-in that diverges stops early, and its speed must count only these.
        var trainedSteps = 0
        // A warm start that blew up is the seed's failure, not this cell's: say so and train nothing.
        var divergence: DivergenceReason? = start.parameters.allSatisfy(\.isFinite)
            ? nil : DivergenceReason(kind: .nonFiniteWarmStart, step: nil, value: nil)

        // Burn-in: only NaN/Inf can end it; the loss limit applies after burn-in (docs/METHOD.md).
        var t0 = clock.now
        for step in 0..<(divergence == nil ? burnIn : 0) {
            if step % Self.stopCheckInterval == 0 { try stopCheck(.burnIn, step) }
            sampler.next(into: &indices)
            network.loadBatch(train, indices: indices)
            let (loss, _) = network.forwardBackward()
            guard loss.isFinite else {
                divergence = DivergenceReason(kind: .nonFiniteLoss, step: step - burnIn, value: nil)
                break
            }
            sgd.step(network)
            trainedSteps += 1
            if step % Self.progressInterval == 0 { progress?(.burnIn, step, burnIn) }
        }
        trainingTime += clock.now - t0

        // Window: θ_k is copied before the step, so the thermometer sees θ_k, Δ_k and g_B(θ_k).
        let before = Buffer(count: network.parameterCount)
        if divergence == nil {
            for step in 0..<window where !thermometer.diverged {
                if step % Self.stopCheckInterval == 0 { try stopCheck(.measure, step) }
                if thermometer.calibrationDue {
                    thermometer.calibrate(probes: spec.calibrationProbes, probeBatchSize: spec.probeBatchSize) { _ in
                        probeSampler.next(into: &probeIndices)
                        network.loadBatch(train, indices: probeIndices)
                        _ = network.forwardBackward()
                        return network.gradients
                    }
                }
                t0 = clock.now
                sampler.next(into: &indices)
                network.loadBatch(train, indices: indices)
                let (loss, _) = network.forwardBackward()
                before.copy(from: network.parameters, count: network.parameterCount)
                sgd.step(network)
                trainedSteps += 1
                thermometer.record(parameters: before, update: sgd.update, gradient: network.gradients, loss: loss)
                trainingTime += clock.now - t0
                if step % Self.progressInterval == 0 { progress?(.measure, step, window) }
            }
        }
        let report = thermometer.finish()
        divergence = divergence ?? report.divergence

        try stopCheck(.evaluate, 0)
        progress?(.evaluate, 0, 2)
        let trainEval = network.evaluate(train, batchSize: Self.evaluationBatch)
        let testEval = network.evaluate(test, batchSize: Self.evaluationBatch)
        if divergence == nil {
            var check = DivergenceCheck(chunkLength: 1)
            check.observe(accuracy: trainEval.accuracy)
            divergence = check.reason
        }
        let trainedSamples = Double(trainedSteps * spec.batchSize)
        let seconds = trainingTime / .seconds(1)
        let wall = clock.now - began
        return CellResult(
            spec: spec, dataset: train.name, datasetHash: train.contentHash,
            parameterCount: network.parameterCount, burnInSteps: burnIn, measureSteps: window,
            divergence: divergence, thermometer: report,
            train: Evaluation(loss: trainEval.loss, accuracy: trainEval.accuracy),
            test: Evaluation(loss: testEval.loss, accuracy: testEval.accuracy),
            samplesPerSecond: seconds > 0 ? trainedSamples / seconds : 0,
            wallSeconds: wall / .seconds(1),
            firstLayerFilters: Self.firstLayerFilters(network, thermometer),
            inputStatistics: train.statistics)
    }

    /// The first conv layer's final weights and their T_i; nil without a conv layer or with
    /// weights that are not finite (JSON cannot hold them).
    static func firstLayerFilters(_ network: Network, _ thermometer: Thermometer) -> FirstLayerFilters? {
        guard let conv = network.architecture.convs.first,
              let group = network.groups.first(where: { $0.filterCount > 0 }) else { return nil }
        let weights = network.parameters.slice(group.range)
        guard weights.allSatisfy(\.isFinite) else { return nil }
        let g = conv.geometry
        return FirstLayerFilters(group: group.name, filters: conv.outChannels, channels: g.channels,
                                 kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, weights: weights,
                                 temperatures: thermometer.weightTemperatures(group.range)?.map { Float($0) })
    }
}
