#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cumulative distribution functions and quantiles of the normal, Student t, χ² and F laws.
///
/// Written here because the module has no dependencies. The χ² law goes through the regularized
/// incomplete gamma function, t and F through the regularized incomplete beta function (series and
/// Lentz continued fractions, as in Numerical Recipes §6.2 and §6.4). Every function returns the
/// upper tail directly rather than `1 − cdf`, so p-values of 1e-12 keep their digits.
public enum Distributions {
    // MARK: Special functions

    /// Regularized incomplete gamma functions (P(a, x), Q(a, x) = 1 − P) for a > 0, x ≥ 0.
    public static func incompleteGamma(_ a: Double, _ x: Double) -> (lower: Double, upper: Double) {
        precondition(a > 0, "incompleteGamma needs a > 0, got \(a)")
        if x.isNaN { return (.nan, .nan) }
        if x <= 0 { return (0, 1) }
        if x == .infinity { return (1, 0) }
        let logPrefactor = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            // Series for P converges fast below the mean.
            var term = 1 / a, sum = term, ap = a
            for _ in 0..<10_000 {
                ap += 1
                term *= x / ap
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            let p = min(1, sum * exp(logPrefactor))
            return (p, 1 - p)
        }
        // Continued fraction for Q above the mean (modified Lentz).
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        let q = min(1, exp(logPrefactor) * h)
        return (1 - q, q)
    }

    /// Regularized incomplete beta function I_x(a, b) and its complement, for a, b > 0, 0 ≤ x ≤ 1.
    public static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double)
        -> (lower: Double, upper: Double)
    {
        precondition(a > 0 && b > 0, "incompleteBeta needs a, b > 0, got \(a), \(b)")
        if x.isNaN { return (.nan, .nan) }
        if x <= 0 { return (0, 1) }
        if x >= 1 { return (1, 0) }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        // The continued fraction converges fast for x below (a+1)/(a+b+2); use the symmetry
        // I_x(a,b) = 1 − I_{1−x}(b,a) above it.
        if x < (a + 1) / (a + b + 2) {
            let lower = min(1, exp(logFront) * betaContinuedFraction(x, a, b) / a)
            return (lower, 1 - lower)
        }
        let upper = min(1, exp(logFront) * betaContinuedFraction(1 - x, b, a) / b)
        return (1 - upper, upper)
    }

    private static func betaContinuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0, d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return h
    }

    // MARK: Normal

    /// Standard normal CDF Φ(x), through erfc so the lower tail keeps its relative precision.
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Standard normal upper tail 1 − Φ(x).
    public static func normalUpperTail(_ x: Double) -> Double { 0.5 * erfc(x / 2.0.squareRoot()) }

    /// Standard normal quantile Φ⁻¹(p): Acklam's rational approximation, then two Halley steps on
    /// the erfc-based CDF (full double precision).
    public static func normalQuantile(_ p: Double) -> Double {
        if p.isNaN || p < 0 || p > 1 { return .nan }
        if p == 0 { return -.infinity }
        if p == 1 { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                 3.754408661907416e+00]
        let pLow = 0.02425
        var x: Double
        if p < pLow {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - pLow {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log1p(-p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        for _ in 0..<2 {
            // Work in the smaller tail so the error e keeps its relative precision.
            let e = p < 0.5 ? normalCDF(x) - p : (1 - p) - normalUpperTail(x)
            let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
            x -= u / (1 + x * u / 2)
        }
        return x
    }

    // MARK: Student t, χ², F

    /// Two-sided p-value P(|T_ν| ≥ |t|) of Student's t with ν degrees of freedom.
    public static func studentTTwoSided(_ t: Double, dof: Double) -> Double {
        if t.isNaN || dof.isNaN { return .nan }
        if t.isInfinite { return 0 }
        return incompleteBeta(dof / (dof + t * t), dof / 2, 0.5).lower
    }

    /// Student t CDF P(T_ν ≤ t).
    public static func studentTCDF(_ t: Double, dof: Double) -> Double {
        let tail = studentTTwoSided(t, dof: dof) / 2
        return t >= 0 ? 1 - tail : tail
    }

    /// Upper tail P(X ≥ x) of χ² with k degrees of freedom.
    public static func chiSquareUpperTail(_ x: Double, dof: Double) -> Double {
        incompleteGamma(dof / 2, max(0, x) / 2).upper
    }

    /// χ² CDF P(X ≤ x) with k degrees of freedom.
    public static func chiSquareCDF(_ x: Double, dof: Double) -> Double {
        incompleteGamma(dof / 2, max(0, x) / 2).lower
    }

    /// Upper tail P(X ≥ f) of the F law with (d1, d2) degrees of freedom.
    public static func fUpperTail(_ f: Double, dof1: Double, dof2: Double) -> Double {
        if f.isNaN { return .nan }
        if f <= 0 { return 1 }
        if f.isInfinite { return 0 }
        return incompleteBeta(dof2 / (dof2 + dof1 * f), dof2 / 2, dof1 / 2).lower
    }

    /// Quantile of Student's t: the t with P(T_ν ≤ t) = p, found by bisection on the CDF.
    public static func studentTQuantile(_ p: Double, dof: Double) -> Double {
        if p.isNaN || p <= 0 || p >= 1 { return p == 0 ? -.infinity : p == 1 ? .infinity : .nan }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -studentTQuantile(1 - p, dof: dof) }
        // Upper tail q = 1 − p, searched in t > 0 where the tail falls monotonically.
        let q = 1 - p
        return solveDecreasing(start: max(1, normalQuantile(p))) { t in
            studentTTwoSided(t, dof: dof) / 2 - q
        }
    }

    /// Quantile of χ² with k degrees of freedom: the x with P(X ≤ x) = p.
    public static func chiSquareQuantile(_ p: Double, dof: Double) -> Double {
        if p.isNaN || p < 0 || p >= 1 { return p == 1 ? .infinity : .nan }
        if p == 0 { return 0 }
        let q = 1 - p
        return solveDecreasing(start: max(1, dof)) { x in chiSquareUpperTail(x, dof: dof) - q }
    }

    /// Quantile of the F law with (d1, d2) degrees of freedom.
    public static func fQuantile(_ p: Double, dof1: Double, dof2: Double) -> Double {
        if p.isNaN || p < 0 || p >= 1 { return p == 1 ? .infinity : .nan }
        if p == 0 { return 0 }
        let q = 1 - p
        return solveDecreasing(start: 1) { f in fUpperTail(f, dof1: dof1, dof2: dof2) - q }
    }

    /// Root in x ≥ 0 of a function that decreases from positive to negative: bracket by doubling,
    /// then bisect to full precision (the tails are cheap; this is not on a hot path).
    private static func solveDecreasing(start: Double, _ f: (Double) -> Double) -> Double {
        var lo = 0.0, hi = start
        var steps = 0
        while f(hi) > 0 && steps < 2000 { lo = hi; hi *= 2; steps += 1 }
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if f(mid) > 0 { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }
}
