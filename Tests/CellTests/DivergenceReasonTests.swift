import Cell
import Testing

/// The `diverged` column says where the run failed in words: burn-in steps are counted back from
/// the window, window steps forward, and the offending value is rounded.
@Suite struct DivergenceReasonTests {
    @Test func describesWhereAndWhat() {
        #expect("\(DivergenceReason(kind: .nonFiniteLoss, step: -339, value: nil))"
                == "non-finite-loss in burn-in, 339 steps before the window")
        #expect("\(DivergenceReason(kind: .lossAboveLimit, step: 49, value: 2.306722155213356))"
                == "loss-above-limit at window step 49 (2.3067)")
        #expect("\(DivergenceReason(kind: .lossAboveLimit, step: 0, value: 1e6 + 0.123456))"
                == "loss-above-limit at window step 0 (1000000.1235)")
        #expect("\(DivergenceReason(kind: .accuracyBelowLimit, step: nil, value: 0.1))"
                == "accuracy-below-limit (0.1)")
        #expect("\(DivergenceReason(kind: .nonFiniteUpdate, step: 3, value: .nan))"
                == "non-finite-update at window step 3")
    }
}
