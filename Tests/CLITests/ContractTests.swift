import Foundation
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

/// A worker decodes its `CellSpec` from the JSON of the protocol's `JobSpec`: every measure job of
/// a grid must decode to the cell it names, with the grid's protocol settings.
@Suite struct JobSpecDecodesAsCellSpecTests {
    @Test func everyMeasureJobOfAGridIsACellSpec() throws {
        let grid = GridSpec(model: "lenet-4-8", learningRates: [0.0125, 0.2], batchSizes: [8, 128], seeds: 2,
                            datasetHash: "0123456789abcdef",
                            warmStart: WarmStartSettings(learningRate: 0.04, batchSize: 16, epochs: 2),
                            cell: CellSettings(momentum: 0.5, batchMode: "shuffle", burnInSteps: 600,
                                               measureSteps: 700, calibrationProbes: 8, probeBatchSize: 16))
        let measures = grid.jobs().filter { $0.kind == .measure }
        #expect(measures.count == 8)
        for job in measures {
            let cell = try JSONDecoder().decode(CellSpec.self, from: JSONEncoder().encode(job.spec))
            try cell.validate()
            #expect(cell.model == .lenet48)
            #expect(cell.learningRate == job.spec.learningRate && cell.batchSize == job.spec.batchSize)
            #expect(cell.seed == job.spec.seed && cell.momentum == 0.5 && cell.batchMode == .shuffle)
            #expect(cell.burnInSteps == 600 && cell.measureSteps == 700)
            #expect(cell.calibrationProbes == 8 && cell.probeBatchSize == 16)
            #expect(cell.warmStart == WarmStartSpec(learningRate: 0.04, batchSize: 16, epochs: 2))
        }
    }
}
