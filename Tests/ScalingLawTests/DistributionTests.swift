#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import ScalingLaw
import Testing

private func close(_ x: Double, _ y: Double, rel: Double = 1e-6) -> Bool {
    abs(x - y) <= rel * max(abs(x), abs(y))
}

@Test func tableValuesOfTheUpperTails() {
    // Critical values from standard tables (more digits from SciPy 1.17: chi2/f/t/norm.ppf).
    #expect(close(Distributions.chiSquareUpperTail(5.991464547107979, dof: 2), 0.05))
    #expect(close(Distributions.chiSquareUpperTail(3.841458820694124, dof: 1), 0.05))
    #expect(close(Distributions.fUpperTail(3.098391212140781, dof1: 3, dof2: 20), 0.05))
    #expect(close(Distributions.studentTTwoSided(2.228138851986273, dof: 10), 0.05))
    #expect(close(Distributions.normalCDF(1.959963984540054), 0.975))
    // Four significant digits from the short table values of the task.
    #expect(close(Distributions.chiSquareUpperTail(5.991, dof: 2), 0.05, rel: 1e-3))
    #expect(close(Distributions.chiSquareUpperTail(3.841, dof: 1), 0.05, rel: 1e-3))
    #expect(close(Distributions.fUpperTail(3.098, dof1: 3, dof2: 20), 0.05, rel: 1e-3))
    #expect(close(Distributions.studentTTwoSided(2.228, dof: 10), 0.05, rel: 1e-3))
    #expect(close(Distributions.chiSquareUpperTail(11.0705, dof: 5), 0.05, rel: 1e-4))
    #expect(close(Distributions.chiSquareUpperTail(23.2093, dof: 10), 0.01, rel: 1e-4))
}

@Test func extremeTailsKeepRelativePrecision() {
    // Closed forms: Φ upper tail, χ²₂ = exp(−x/2), χ²₁ = erfc(√(x/2)), Cauchy = t₁, F(1,ν) = t²_ν.
    #expect(close(Distributions.normalUpperTail(10), 7.619853024160527e-24, rel: 1e-10))
    #expect(close(Distributions.normalCDF(-8), 6.220960574271785e-16, rel: 1e-10))
    #expect(close(Distributions.chiSquareUpperTail(100, dof: 2), exp(-50), rel: 1e-10))
    #expect(close(Distributions.chiSquareUpperTail(100, dof: 1), erfc(50.0.squareRoot()),
                  rel: 1e-9))
    #expect(close(Distributions.chiSquareCDF(1e-6, dof: 2), -expm1(-0.5e-6), rel: 1e-9))
    for t in [0.5, 3.0, 1000.0] {
        let cauchy = 1 - 2 / Double.pi * atan(t)
        #expect(close(Distributions.studentTTwoSided(t, dof: 1), cauchy, rel: 1e-9))
        #expect(close(Distributions.fUpperTail(t * t, dof1: 1, dof2: 7),
                      Distributions.studentTTwoSided(t, dof: 7), rel: 1e-9))
    }
    // Far tails, reference values from SciPy 1.17 (2 * t.sf(10, 10), f.sf(30, 3, 20)).
    #expect(close(Distributions.studentTTwoSided(10, dof: 10), 1.5895531755964125e-06, rel: 1e-9))
    #expect(close(Distributions.fUpperTail(30, dof1: 3, dof2: 20), 1.3345705379913494e-07,
                  rel: 1e-9))
}

@Test func specialFunctionsAgainstClosedForms() {
    for x in [0.01, 0.5, 1, 3, 20] {
        #expect(close(Distributions.incompleteGamma(1, x).lower, -expm1(-x), rel: 1e-12))
    }
    for (x, b) in [(0.1, 2.5), (0.7, 0.5), (0.999, 3.0)] {
        // I_x(1, b) = 1 − (1 − x)^b.
        #expect(close(Distributions.incompleteBeta(x, 1, b).upper, pow(1 - x, b), rel: 1e-11))
    }
    // Large dof: t approaches the normal.
    #expect(close(Distributions.studentTCDF(1.959963984540054, dof: 1e7), 0.975, rel: 1e-6))
}

@Test func quantilesInvertTheCDFs() {
    #expect(close(Distributions.normalQuantile(0.975), 1.959963984540054, rel: 1e-12))
    #expect(close(Distributions.normalQuantile(1e-10), -6.361340902404056, rel: 1e-10))
    #expect(close(Distributions.normalQuantile(1 - 1e-12), 7.0344869100478356, rel: 1e-6))
    #expect(close(Distributions.studentTQuantile(0.975, dof: 10), 2.228138851986273, rel: 1e-10))
    #expect(close(Distributions.studentTQuantile(0.975, dof: 22), 2.073873067904015, rel: 1e-10))
    #expect(close(Distributions.studentTQuantile(0.025, dof: 1), -12.70620473617471, rel: 1e-10))
    #expect(close(Distributions.chiSquareQuantile(0.95, dof: 2), 5.991464547107979, rel: 1e-10))
    #expect(close(Distributions.fQuantile(0.95, dof1: 3, dof2: 20), 3.098391212140781, rel: 1e-9))
    for p in [1e-6, 0.01, 0.3, 0.5, 0.9, 0.999] {
        #expect(close(Distributions.normalCDF(Distributions.normalQuantile(p)), p, rel: 1e-12))
        #expect(close(Distributions.studentTCDF(Distributions.studentTQuantile(p, dof: 4), dof: 4),
                      p, rel: 1e-9))
        let x = Distributions.chiSquareQuantile(p, dof: 3)
        #expect(close(Distributions.chiSquareCDF(x, dof: 3), p, rel: 1e-9))
    }
}

/// The equality test of independent estimates against hand-computed cases.
@Suite struct EqualityTestTests {
    static func estimate(_ value: Double, _ se: Double) -> Estimate {
        Estimate(value: value, standardError: se, interval: Interval(lower: value - 2 * se, upper: value + 2 * se))
    }

    @Test func equalEstimatesGiveWZeroAndPOne() throws {
        let test = try #require(Estimate.equality([Self.estimate(0.9, 0.1), Self.estimate(0.9, 0.3)], hypothesis: "h"))
        #expect(test.statistic < 1e-20 && abs(test.pValue - 1) < 1e-9 && test.constraints == 1)
    }

    @Test func twoUnitErrorsTwoApartGiveChiSquareTwoOnOneDegree() throws {
        // x̄ = 1, W = 1 + 1 = 2, P(χ²₁ ≥ 2) = erfc(1) = 0.157299...
        let test = try #require(Estimate.equality([Self.estimate(0, 1), Self.estimate(2, 1)], hypothesis: "h"))
        #expect(abs(test.statistic - 2) < 1e-12)
        #expect(abs(test.pValue - 0.15729920705028513) < 1e-9)
    }

    @Test func weightsFollowTheStandardErrors() throws {
        // se 1 and 2: weights 1 and 1/4, x̄ = (0 + 5/4)/(5/4) = 1; W = 1·1 + (1/4)·16 = 5, dof 2 with a third at x̄.
        let test = try #require(Estimate.equality([Self.estimate(0, 1), Self.estimate(5, 2), Self.estimate(1, 1)],
                                                  hypothesis: "h"))
        #expect(abs(test.statistic - 5) < 1e-12 && test.constraints == 2)
        #expect(abs(test.pValue - exp(-2.5)) < 1e-9)   // P(χ²₂ ≥ w) = e^(−w/2)
    }

    @Test func oneEstimateOrABadErrorIsUntestable() {
        #expect(Estimate.equality([Self.estimate(1, 0.1)], hypothesis: "h") == nil)
        #expect(Estimate.equality([Self.estimate(1, 0.1), Self.estimate(1, 0)], hypothesis: "h") == nil)
        #expect(Estimate.equality([Self.estimate(1, 0.1), Self.estimate(.nan, 0.1)], hypothesis: "h") == nil)
    }
}

extension EqualityTestTests {
    /// Estimated standard errors: F(k − 1, d) with W/(k − 1); χ² stays the asymptotic p-value.
    @Test func estimatedErrorsUseTheFLaw() throws {
        let estimates = [Self.estimate(0, 1), Self.estimate(2, 1)]
        let test = try #require(Estimate.equality(estimates, hypothesis: "h", denominatorDegreesOfFreedom: 10))
        #expect(test.denominatorDegreesOfFreedom == 10 && abs(test.statistic - 2) < 1e-12)
        // F(1, 10) = t²(10): P(F ≥ 2) = P(|t₁₀| ≥ √2) = 0.18773...
        #expect(abs(test.pValue - Distributions.studentTTwoSided(2.0.squareRoot(), dof: 10)) < 1e-9)
        #expect(test.pValue > test.asymptoticPValue && abs(test.asymptoticPValue - 0.15729920705028513) < 1e-9)
    }
}
