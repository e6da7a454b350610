import Testing
import Thermometer
import Trainer

/// One cell end to end on a small synthetic set.
@Suite struct CellRunnerTests {
    static let data = SyntheticDataset.makeSplit(seed: 5, trainCount: 200, testCount: 100)

    static let runner = CellRunner(train: data.train, test: data.test)
    static let warmStart = WarmStartSpec(learningRate: 0.05, batchSize: 16, epochs: 4)
    /// A start past the first steep descent, so that the window's loss stays under ln 10.
    static let start = runner.warmStart(model: .lenet48, seed: 3, warmStart)

    func spec(measure: Int = 40, probes: Int = 0) -> CellSpec {
        CellSpec(model: .lenet48, learningRate: 0.02, batchSize: 8, seed: 3, burnInSteps: 10,
                 measureSteps: measure, warmStart: Self.warmStart, calibrationProbes: probes,
                 probeBatchSize: 8)
    }

    /// Every spec that passes `validate()` can be run: a window too short for the Thermometer's
    /// blocks, or step counts too large to allocate, are refused up front with the value.
    @Test(arguments: [
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, measureSteps: 15), "window of 15 steps"),
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, measureSteps: Int.max), "window of \(Int.max) steps"),
        (CellSpec(learningRate: 0.1, batchSize: 8, seed: 1, burnInSteps: Int.max), "burn-in \(Int.max) steps"),
        (CellSpec(learningRate: 1e-300, batchSize: 8, seed: 1), "learning rate 1e-300"),
    ])
    func specsTheRunCannotMeasureAreRefused(spec: CellSpec, message: String) {
        #expect {
            try spec.validate()
        } throws: { error in
            (error as? CellSpecError)?.description.contains(message) == true
        }
    }

    @Test func shortestAcceptedWindowRuns() throws {
        let s = spec(measure: CellSpec.minimumMeasureSteps)
        try s.validate()
        let result = try Self.runner.run(s, from: Self.start)
        #expect(result.divergence == nil)
        #expect(result.thermometer.recordedSteps == CellSpec.minimumMeasureSteps)
    }
}
