import Kernels
import Trainer

/// The warm start that every cell of a seed begins from (PHYSICS.md, protocol step 1).
public struct WarmStartSpec: Codable, Sendable, Hashable {
    public var learningRate: Double
    public var batchSize: Int
    /// Length in epochs of the training set; 0 starts the cells from the initial weights.
    public var epochs: Double

    public init(learningRate: Double = 0.05, batchSize: Int = 32, epochs: Double = 3) {
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.epochs = epochs
    }

    /// SGD steps for a training set of `trainCount` images.
    public func steps(trainCount: Int) -> Int {
        Int((epochs * Double(trainCount) / Double(batchSize)).rounded(.up))
    }
}

/// One grid cell (η, |B|, seed) and how it is measured. A cell's result is a pure function of its
/// spec and its data: every random draw comes from a stream derived from `seed` and the cell.
public struct CellSpec: Codable, Sendable, Hashable {
    public var model: ModelKind
    public var learningRate: Double
    public var batchSize: Int
    public var seed: UInt64
    public var momentum: Double
    public var batchMode: BatchSampler.Mode
    /// nil: the protocol's max(⌈10/η⌉, 500).
    public var burnInSteps: Int?
    /// nil: the protocol's max(⌈10/η⌉, 500).
    public var measureSteps: Int?
    public var warmStart: WarmStartSpec
    /// Probe batches per calibration point (0 turns noise calibration off).
    public var calibrationProbes: Int
    public var probeBatchSize: Int

    public init(model: ModelKind = .lenet816, learningRate: Double, batchSize: Int, seed: UInt64,
                momentum: Double = 0, batchMode: BatchSampler.Mode = .iid, burnInSteps: Int? = nil,
                measureSteps: Int? = nil, warmStart: WarmStartSpec = WarmStartSpec(),
                calibrationProbes: Int = 16, probeBatchSize: Int = 32) {
        self.model = model
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.seed = seed
        self.momentum = momentum
        self.batchMode = batchMode
        self.burnInSteps = burnInSteps
        self.measureSteps = measureSteps
        self.warmStart = warmStart
        self.calibrationProbes = calibrationProbes
        self.probeBatchSize = probeBatchSize
    }

    public var resolvedBurnInSteps: Int { burnInSteps ?? Protocol.burnInSteps(lr: learningRate) }
    public var resolvedMeasureSteps: Int { measureSteps ?? Protocol.measureSteps(lr: learningRate) }

    /// Largest batch size accepted; a batch is one GEMM column block, so this bounds memory.
    public static let maxBatchSize = 4096
    /// Longest burn-in or window accepted (the window keeps one loss per step).
    public static let maxSteps = 10_000_000
    /// Smallest η accepted: the protocol's ⌈10/η⌉ steps stay within `maxSteps`.
    public static let minimumLearningRate = Protocol.sdeTime / Double(maxSteps)
    /// Shortest window: the Thermometer's 10 blocks of at least 2 steps each.
    public static let minimumMeasureSteps = 20

    /// Throws a message naming the offending value and the accepted range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw CellSpecError(message()) }
        }
        try check(learningRate.isFinite && learningRate >= Self.minimumLearningRate && learningRate <= 10,
                  "learning rate \(learningRate) is out of range: give a number in [\(Self.minimumLearningRate), 10].")
        try check((1...Self.maxBatchSize).contains(batchSize),
                  "batch size \(batchSize) is out of range: give 1 to \(Self.maxBatchSize).")
        // SGD runs in Float32: a value that rounds to 1 there would trap in SGDConfig.
        try check(momentum.isFinite && momentum >= 0 && Float(momentum) < 1,
                  "momentum \(momentum) is out of range: give a number in [0, 1) that stays below 1 in Float32.")
        try check((0...Self.maxSteps).contains(burnInSteps ?? 0),
                  "burn-in \(burnInSteps ?? 0) steps is out of range: give 0 to \(Self.maxSteps).")
        try check((measureSteps ?? Self.minimumMeasureSteps) >= Self.minimumMeasureSteps,
                  "measurement window of \(measureSteps ?? 0) steps is too short: give at least "
                  + "\(Self.minimumMeasureSteps) (10 blocks of 2 steps).")
        try check((measureSteps ?? 0) <= Self.maxSteps,
                  "measurement window of \(measureSteps ?? 0) steps is too long: give at most \(Self.maxSteps).")
        try check(warmStart.learningRate.isFinite && warmStart.learningRate >= Self.minimumLearningRate
                      && warmStart.learningRate <= 10,
                  "warm-start learning rate \(warmStart.learningRate) is out of range: "
                  + "give a number in [\(Self.minimumLearningRate), 10].")
        try check((1...Self.maxBatchSize).contains(warmStart.batchSize),
                  "warm-start batch size \(warmStart.batchSize) is out of range: give 1 to \(Self.maxBatchSize).")
        try check(warmStart.epochs.isFinite && warmStart.epochs >= 0 && warmStart.epochs <= 1000,
                  "warm-start length \(warmStart.epochs) epochs is out of range: give 0 to 1000.")
        try check(calibrationProbes == 0 || (2...1024).contains(calibrationProbes),
                  "\(calibrationProbes) calibration probes: give 0 (off) or 2 to 1024.")
        try check((1...Self.maxBatchSize).contains(probeBatchSize),
                  "probe batch size \(probeBatchSize) is out of range: give 1 to \(Self.maxBatchSize).")
    }
}

/// A cell spec that cannot be run; the message names the value and what to give instead.
public struct CellSpecError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Loss and accuracy of the network on a whole data set.
public struct Evaluation: Codable, Sendable, Equatable {
    /// Mean cross-entropy; nil when it is not finite.
    public let loss: Double?
    public let accuracy: Double

    init(loss: Double, accuracy: Double) {
        self.loss = loss.isFinite ? loss : nil
        self.accuracy = accuracy
    }
}

/// Everything one cell produces: the record a sweep job returns (format versioned).
public struct CellResult: Codable, Sendable {
    /// Version of this record's JSON shape.
    public static let currentFormat = "thermosweep-cell/1"
    public let format: String
    public let spec: CellSpec
    public let dataset: String
    public let datasetHash: String
    public let parameterCount: Int
    public let burnInSteps: Int
    public let measureSteps: Int
    /// Why the cell counts as diverged (excluded from fits, never imputed), or nil.
    public let divergence: DivergenceReason?
    public let thermometer: ThermometerReport
    public let train: Evaluation
    public let test: Evaluation
    /// Training samples per second over burn-in and window (calibration and evaluation excluded).
    /// This and `wallSeconds` are the only fields that differ between two runs of the same spec.
    public let samplesPerSecond: Double
    public let wallSeconds: Double

    public var diverged: Bool { divergence != nil }
}

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
        self.phase = phase
        self.step = step
    }

    public var description: String { "stopped in \(phase.rawValue) at step \(step)" }
}

/// Runs the measurement protocol of PHYSICS.md on one cell: warm start (shared per seed), burn-in,
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

    /// Trains the seed's shared starting point: He init, then plain SGD per `spec`.
    public func warmStart(model: ModelKind, seed: UInt64, _ spec: WarmStartSpec,
                          progress: Progress? = nil) -> Checkpoint {
        trainWarmStart(model: model, seed: seed, spec, progress: progress) { (_, _) throws(Never) in }
    }

    /// `warmStart` that `stopCheck` may abandon: throws only what `stopCheck` throws.
    public func warmStart(model: ModelKind, seed: UInt64, _ spec: WarmStartSpec, progress: Progress? = nil,
                          stopCheck: StopCheck) throws -> Checkpoint {
        try trainWarmStart(model: model, seed: seed, spec, progress: progress, stopCheck: stopCheck)
    }

    private func trainWarmStart<Failure: Error>(model: ModelKind, seed: UInt64, _ spec: WarmStartSpec,
                                                progress: Progress?,
                                                stopCheck: (CellPhase, Int) throws(Failure) -> Void)
        throws(Failure) -> Checkpoint {
        var weightSeed = SeededRNG(seed: seed, stream: Stream.initialWeights.rawValue)
        let network = Network(model: model, seed: weightSeed.next(), maxBatch: spec.batchSize)
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
        let clock = ContinuousClock()
        let began = clock.now
        let network = Network(model: spec.model, seed: 0,
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

        // Burn-in: only NaN/Inf can end it; the loss limit applies after burn-in (PHYSICS.md).
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
            format: CellResult.currentFormat, spec: spec, dataset: train.name, datasetHash: train.contentHash,
            parameterCount: network.parameterCount, burnInSteps: burnIn, measureSteps: window,
            divergence: divergence, thermometer: report,
            train: Evaluation(loss: trainEval.loss, accuracy: trainEval.accuracy),
            test: Evaluation(loss: testEval.loss, accuracy: testEval.accuracy),
            samplesPerSecond: seconds > 0 ? trainedSamples / seconds : 0,
            wallSeconds: wall / .seconds(1))
    }
}
