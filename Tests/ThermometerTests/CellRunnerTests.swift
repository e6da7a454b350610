@testable import Cell
import Testing
import Thermometer
import Trainer

/// One cell end to end on a small synthetic set: spec checks, divergence in burn-in, and that
/// noise calibration leaves the training trajectory alone.
@Suite struct CellRunnerTests {
    static let data = SyntheticDataset.makeSplit(seed: 5, trainCount: 200, testCount: 100)

    static let runner = CellRunner(train: data.train, test: data.test)
    static let warmStart = WarmStartSpec(learningRate: 0.05, batchSize: 16, epochs: 4)
    /// A start past the first steep descent, so that the window's loss stays under ln 10.
    static let start = runner.warmStart(WarmStart(model: .lenet48, seed: 3, spec: warmStart))

    func spec(measure: Int = 40, probes: Int = 0) -> CellSpec {
        CellSpec(model: .lenet48, learningRate: 0.02, batchSize: 8, seed: 3, burnInSteps: 10,
                 measureSteps: measure, warmStart: Self.warmStart, calibrationProbes: probes,
                 probeBatchSize: 8)
    }

    /// Every spec that passes `validate()` can be run: a window too short for the Thermometer's
    /// blocks, or step counts too large to allocate, are refused up front with the value.
    @Test(arguments: [
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, measureSteps: 15), "measurement window steps 15"),
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, measureSteps: Int.max), "measurement window steps \(Int.max)"),
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, burnInSteps: Int.max), "burn-in steps \(Int.max)"),
        (CellSpec(learningRate: 1e-300, batchSize: 8, seed: 1), "learning rate 1e-300"),
        // These round to a Float32 that SGDConfig traps on (∞, 0 and 1).
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, warmStart: WarmStartSpec(learningRate: 1e300)),
         "warm-start learning rate 1e+300"),
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, warmStart: WarmStartSpec(learningRate: 1e-50)),
         "warm-start learning rate 1e-50"),
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, momentum: 0.99999999), "momentum 0.99999999"),
    ])
    func specsTheRunCannotMeasureAreRefused(spec: CellSpec, message: String) {
        #expect {
            try spec.validate()
        } throws: { error in
            (error as? CellSpecError)?.description.contains(message) == true
        }
    }

    @Test func shortestAcceptedWindowRuns() throws {
        let s = spec(measure: CellLimits.minimumMeasureSteps)
        try s.validate()
        let result = try Self.runner.run(s, from: Self.start)
        #expect(result.divergence == nil)
        #expect(result.thermometer.recordedSteps == CellLimits.minimumMeasureSteps)
    }

    /// A start whose activations overflow fails at the first burn-in step: the cell is a diverged
    /// result, and its speed counts the steps trained (none), not the whole planned burn-in.
    @Test func divergenceInBurnInIsReportedAndNotCountedAsTraining() throws {
        let count = ModelKind.lenet48.architecture.parameterCount
        let start = Checkpoint(model: .lenet48, parameters: Array(repeating: 1e30, count: count))
        let result = try Self.runner.run(spec(), from: start)
        #expect(result.divergence == DivergenceReason(kind: .nonFiniteLoss, step: -10, value: nil))
        #expect(result.thermometer.recordedSteps == 0)
        #expect(result.samplesPerSecond == 0, "speed \(result.samplesPerSecond) for a cell that trained no step")
    }

    /// A warm start that is already NaN is the seed's failure: the cell says so instead of blaming
    /// its own burn-in, and trains nothing.
    @Test func nonFiniteWarmStartIsNamedAsSuch() throws {
        let count = ModelKind.lenet48.architecture.parameterCount
        var parameters = Self.start.parameters
        parameters[count / 2] = .nan
        let result = try Self.runner.run(spec(), from: Checkpoint(model: .lenet48, parameters: parameters))
        #expect(result.divergence == DivergenceReason(kind: .nonFiniteWarmStart, step: nil, value: nil))
        #expect(result.thermometer.recordedSteps == 0 && result.samplesPerSecond == 0)
    }

    /// Probes draw from their own stream and run before the step's batch, so the training batches,
    /// updates and final weights are the same with and without calibration.
    @Test func calibrationDoesNotDisturbTraining() throws {
        let plain = try Self.runner.run(spec(probes: 0), from: Self.start)
        let probed = try Self.runner.run(spec(probes: 4), from: Self.start)
        #expect(plain.divergence == nil && probed.divergence == nil)
        #expect(plain.thermometer.group("network")?.estimate(.diffusion)?.value != nil)
        #expect(probed.thermometer.calibrationPointCount == 4 && plain.thermometer.calibrationPointCount == 0)
        #expect(probed.train == plain.train && probed.test == plain.test)
        for (a, b) in zip(plain.thermometer.groups, probed.thermometer.groups) {
            #expect(a.estimates == b.estimates, "\(a.name)")
            #expect(a.fluctuationDissipationRatio == b.fluctuationDissipationRatio)
        }
        #expect(probed.thermometer.group("network")?.calibrationRatio != nil)
    }

    /// The stop check only reads: a run that is not stopped is bit-identical with and without it,
    /// and it is asked every `stopCheckInterval` steps of each phase and before the evaluation.
    @Test func aStopCheckThatNeverStopsChangesNothing() throws {
        var calls: [String] = []
        let checked = try Self.runner.run(spec(probes: 4), from: Self.start,
                                          stopCheck: { phase, step in calls.append("\(phase.rawValue) \(step)") })
        #expect(calls == ["burn-in 0", "measure 0", "measure 10", "measure 20", "measure 30", "evaluate 0"])
        let plain = try Self.runner.run(spec(probes: 4), from: Self.start)
        #expect(checked.train == plain.train && checked.test == plain.test)
        for (a, b) in zip(plain.thermometer.groups, checked.thermometer.groups) {
            #expect(a.estimates == b.estimates, "\(a.name)")
            #expect(a.calibrationRatio == b.calibrationRatio)
        }
        let warm = WarmStartSpec(learningRate: 0.05, batchSize: 16, epochs: 1)
        var warmCalls = 0
        let stoppable = try Self.runner.warmStart(WarmStart(model: .lenet48, seed: 3, spec: warm), stopCheck: { _, _ in warmCalls += 1 })
        #expect(warmCalls == 2)  // ⌈200 / 16⌉ = 13 steps: checked at 0 and 10
        #expect(stoppable.parameters == Self.runner.warmStart(WarmStart(model: .lenet48, seed: 3, spec: warm)).parameters)
    }

    /// What the check throws ends the run where it was asked, in any phase.
    @Test func aStopCheckEndsTheRunInItsPhase() throws {
        let stop = { (at: CellPhase, from: Int) -> CellRunner.StopCheck in
            { phase, step in if phase == at && step >= from { throw CellRunStopped(phase: phase, step: step) } }
        }
        var long = spec()
        long.burnInSteps = 1_000
        var lastProgress = 0
        #expect(throws: CellRunStopped(phase: .burnIn, step: 200)) {
            try Self.runner.run(long, from: Self.start, progress: { _, step, _ in lastProgress = step },
                                stopCheck: stop(.burnIn, 195))
        }
        #expect(lastProgress == 100)
        #expect(throws: CellRunStopped(phase: .measure, step: 20)) {
            try Self.runner.run(spec(), from: Self.start, stopCheck: stop(.measure, 20))
        }
        #expect(throws: CellRunStopped(phase: .evaluate, step: 0)) {
            try Self.runner.run(spec(), from: Self.start, stopCheck: stop(.evaluate, 0))
        }
        #expect(throws: CellRunStopped(phase: .warmStart, step: 30)) {
            try Self.runner.warmStart(WarmStart(model: .lenet48, seed: 3, spec: Self.warmStart), stopCheck: stop(.warmStart, 30))
        }
    }
}
