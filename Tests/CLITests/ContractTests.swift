import SweepProtocol
import Testing
import Thermometer
import Trainer

/// SweepProtocol has no dependencies, so it restates a few facts of the trainer; these tests keep
/// the copies equal to the originals.
@Suite struct ContractTests {
    @Test func modelsAndBatchModesMatchTheTrainer() {
        #expect(GridLimits.knownModels == ModelKind.allCases.map(\.rawValue))
        #expect(Set(GridLimits.batchModes) == Set([BatchSampler.Mode.iid, .shuffle].map(\.rawValue)))
        #expect(GridLimits.maxBatchSize == CellSpec.maxBatchSize)
    }

    @Test(arguments: [0.0125, 0.025, 0.05, 0.1, 0.2, 0.013, 0.3, 1e-3, 7.0])
    func costModelStepsMatchTheProtocol(lr: Double) {
        #expect(CostModel.defaultSteps(learningRate: lr) == Protocol.burnInSteps(lr: lr))
        #expect(CostModel.defaultSteps(learningRate: lr) == Protocol.measureSteps(lr: lr))
    }
}
