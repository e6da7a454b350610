@testable import ScalingLaw
import Testing

@Test func fixedDecimals() {
    #expect(Format.fixed(1.0234, 2) == "1.02")
    #expect(Format.fixed(-0.9812, 2) == "-0.98")
    #expect(Format.fixed(-0.001, 2) == "0.00")
    #expect(Format.fixed(0.995, 2) == "1.00" || Format.fixed(0.995, 2) == "0.99")
    #expect(Format.fixed(12.5, 0) == "13")
    #expect(Format.fixed(0.031, 3) == "0.031")
}

@Test func valueWithErrorPicksDecimalsFromTheSE() {
    func e(_ v: Double, _ se: Double) -> Estimate {
        Estimate(value: v, standardError: se,
                 interval: Interval(lower: v - 2 * se, upper: v + 2 * se))
    }
    #expect(Format.valueWithError(e(1.0234, 0.0312)) == "1.02±0.03")
    #expect(Format.valueWithError(e(-0.98123, 0.0043)) == "-0.981±0.004")
    #expect(Format.valueWithError(e(1.5, 0)) == "1.50±0.00")
}

@Test func pValuesAndLabels() {
    #expect(Format.pValue(0.4123) == "0.41")
    #expect(Format.pValue(0.01) == "0.01")
    #expect(Format.pValue(0.0032) == "3e-3")
    #expect(Format.pValue(2.4e-12) == "2e-12")
    #expect(Format.pValue(0) == "0")
    #expect(Format.short(2) == "2")
    #expect(Format.short(-1) == "-1")
    #expect(Format.short(0.5) == "0.5")
}
