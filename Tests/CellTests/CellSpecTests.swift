import Cell
import Testing

/// The one validation of the cell contract: every limit holds exactly at its bound, values just
/// outside are refused with a message naming the value and the range, and the protocol's own
/// defaults are always valid.
@Suite struct CellSpecTests {
    static let valid = CellSpec(model: .lenet48, learningRate: 0.1, batchSize: 16, seed: 1)

    /// Each field with the values at and just around its limits, and whether each is accepted.
    static let boundaries: [(CellField, [(Double, Bool)])] = [
        (.learningRate, [(CellLimits.minimumLearningRate, true), (CellLimits.minimumLearningRate.nextDown, false),
                         (10, true), (10.0.nextUp, false), (0, false), (-1, false), (.nan, false), (.infinity, false)]),
        (.batchSize, [(1, true), (0, false), (4096, true), (4097, false)]),
        (.momentum, [(0, true), (-0.1, false), (0.999_999, true), (1, false), (0.999_999_99, false)]),
        (.burnInSteps, [(0, true), (-1, false), (10_000_000, true), (10_000_001, false)]),
        (.measureSteps, [(20, true), (19, false), (15, false), (10_000_000, true), (10_000_001, false)]),
        (.warmStartLearningRate, [(1e-6, true), (5e-7, false), (10, true), (11, false)]),
        (.warmStartBatchSize, [(1, true), (0, false), (4096, true), (4097, false)]),
        (.warmStartEpochs, [(0, true), (-0.5, false), (1000, true), (1000.5, false), (.nan, false)]),
        (.calibrationProbes, [(0, true), (1, false), (2, true), (1024, true), (1025, false)]),
        (.probeBatchSize, [(1, true), (0, false), (4096, true), (4097, false)]),
    ]

    /// `base` with `field` set to `value` (an integer field gets -1 for a value that is not whole).
    static func spec(_ field: CellField, _ value: Double, base: CellSpec = valid) -> CellSpec {
        var spec = base
        let integer = value.isFinite && value == value.rounded() && abs(value) < 1e12 ? Int(value) : -1
        switch field {
        case .learningRate: spec.learningRate = value
        case .batchSize: spec.batchSize = integer
        case .momentum: spec.momentum = value
        case .burnInSteps: spec.burnInSteps = integer
        case .measureSteps: spec.measureSteps = integer
        case .warmStartLearningRate: spec.warmStart.learningRate = value
        case .warmStartBatchSize: spec.warmStart.batchSize = integer
        case .warmStartEpochs: spec.warmStart.epochs = value
        case .calibrationProbes: spec.calibrationProbes = integer
        case .probeBatchSize: spec.probeBatchSize = integer
        }
        return spec
    }

    @Test func everyLimitHoldsAtItsBoundAndNotBeyond() throws {
        #expect(Set(Self.boundaries.map(\.0.rawValue)) == Set(CellField.allCases.map(\.rawValue)))
        for (field, cases) in Self.boundaries {
            for (value, accepted) in cases {
                let spec = Self.spec(field, value)
                #expect(CellLimits.accepts(field, value) == accepted, "\(field) \(value)")
                do throws(CellSpecError) {
                    try spec.validate()
                    #expect(accepted, "\(field) \(value) was accepted")
                } catch {
                    #expect(!accepted, "\(field) \(value) was refused: \(error)")
                    #expect(error.field == field, "\(field) \(value) was refused as \(error.field)")
                    #expect(error.description.contains(field.rawValue) && error.description.contains("give "))
                }
            }
        }
    }

    @Test func theMessageNamesTheValueTheRangeAndTheOption() throws {
        do throws(CellSpecError) {
            try Self.spec(.measureSteps, 15).validate()
            Issue.record("a window of 15 steps was accepted")
        } catch {
            #expect(error.message(naming: "--measure-steps")
                    == "--measure-steps 15 is out of range: give 20 to 10000000 (10 blocks of at least 2 steps).")
        }
        do throws(CellSpecError) {
            try Self.spec(.learningRate, 5e-7).validate()
            Issue.record("η = 5e-7 was accepted")
        } catch {
            #expect(error.description == "learning rate 5e-07 is out of range: give a number in [1e-06, 10].")
        }
    }

    /// Seeded random values around every limit: `validate()` accepts exactly what `accepts` does,
    /// and an accepted cell's protocol step counts and cost are defined (no trap, no overflow).
    @Test func randomValuesAroundTheLimitsAgreeWithTheLimits() {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<5_000 {
            var spec = Self.valid
            var expected = true
            for (field, cases) in Self.boundaries where rng.below(3) == 0 {
                let (bound, _) = cases[rng.below(cases.count)]
                let jitter = [0, 1, -1, 0.5, 1e-9][rng.below(5)]
                let value = bound.isFinite ? bound + jitter * max(1, abs(bound)) * (rng.below(2) == 0 ? 1 : 1e-9) : bound
                spec = Self.spec(field, value, base: spec)
                expected = expected && CellLimits.accepts(field, value)
            }
            let accepted = (try? spec.validate()) != nil
            #expect(accepted == expected, "\(spec)")
            if accepted {
                #expect(spec.resolvedBurnInSteps <= CellLimits.maxSteps && spec.resolvedMeasureSteps <= CellLimits.maxSteps)
                #expect(spec.resolvedMeasureSteps >= CellLimits.minimumMeasureSteps)
                #expect(spec.cost > 0)
            }
        }
    }

    @Test func protocolStepCountsAreFixedInSDETime() {
        #expect(Protocol.burnInSteps(lr: 0.0125) == 800)
        #expect(Protocol.measureSteps(lr: 0.1) == 500)
        #expect(Protocol.measureSteps(lr: 0.001) == 10_000)
        #expect(Protocol.measureSteps(lr: CellLimits.minimumLearningRate) == CellLimits.maxSteps)
    }
}
