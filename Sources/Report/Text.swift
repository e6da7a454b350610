// Number and text formatting shared by the exports, the fit table and the HTML report.
import Foundation

enum Text {
    /// Shortest text that reads back as the same Double (Swift's own algorithm, the same on every
    /// platform): what the CSV files use, so equal numbers give equal bytes. nil → empty field.
    static func number(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "" }
        return x.description
    }

    /// x with `digits` decimals ("-0.98"); "–" for nil or non-finite.
    static func fixed(_ x: Double?, _ digits: Int) -> String {
        guard let x, x.isFinite else { return "–" }
        let s = String(format: "%.\(digits)f", x)
        // "-0.00" reads as a sign that is not there.
        if s.hasPrefix("-"), s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(s.dropFirst()) }
        return s
    }

    /// A difference with its sign, 3 decimals ("+0.012", "-0.030"); a zero at 3 decimals has none ("0.000").
    static func signed(_ x: Double) -> String {
        let text = fixed(x, 3)
        return text.hasPrefix("-") || text.allSatisfy({ $0 == "0" || $0 == "." }) ? text : "+" + text
    }

    /// Three significant digits, in e-notation outside [1e-3, 1e4) ("2.08e-02").
    static func significant(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        let a = abs(x)
        if a == 0 { return "0" }
        if a >= 1e-3 && a < 1e4 { return String(format: "%.3g", x) }
        return String(format: "%.2e", x)
    }

    /// p-values: two decimals down to 0.01, then e-notation with one significant digit.
    static func pValue(_ p: Double?) -> String {
        guard let p, p.isFinite else { return "–" }
        if p >= 0.01 { return fixed(p, 2) }
        if p <= 0 { return "0" }
        return String(format: "%.0e", p)
    }

    /// "1.021 ± 0.031" with decimals so that the SE shows two significant digits (2 to 4 decimals).
    static func valueWithError(_ value: Double, _ se: Double) -> String {
        var digits = 2
        var s = se
        while s > 0 && s < 0.1 && digits < 4 { s *= 10; digits += 1 }
        return "\(fixed(value, digits)) ± \(fixed(se, digits))"
    }

    /// η as the grid lists it (0.0125), |B| as an integer.
    static func eta(_ x: Double) -> String { x.description }

    /// A computed η, such as η/(1 − m) of a collapsed fit, to 12 significant digits: 0.1/(1 − 0.9)
    /// reads "1.0", not "1.0000000000000002".
    static func computedEta(_ x: Double) -> String {
        guard x.isFinite else { return x.description }
        let rounded = Double(String(format: "%.12g", x)) ?? x
        return rounded.description
    }
}

/// Text escaped for HTML and XML content and attribute values.
func escapeHTML(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            // Control characters other than tab and newline are not allowed in XML 1.0.
            if c.value < 0x20 && c != "\t" && c != "\n" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
        }
    }
    return out
}
