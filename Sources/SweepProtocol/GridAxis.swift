// Grid axes from the command line: `0.0125:0.2:x2` (geometric, end inclusive), `8:64:+8`
// (arithmetic), `0.01,0.02,0.05` (list). Errors quote the option and the text.
import Cell
import Foundation

/// Parses the `--lr`, `--batch`, `--momentum` and `--batch-mode` axis syntax.
public enum GridAxis {
    /// Learning rates from `text`; each accepted by the cell contract, at most
    /// `GridLimits.maxAxisValues`, no repeats.
    public static func learningRates(_ text: String, option: String = "--lr") throws(GridSpecError) -> [Double] {
        func fail(_ why: String) -> GridSpecError { GridSpecError("\(option) '\(text)': \(why)") }
        let values = try decimals(text, fail)
        for value in values where !CellLimits.accepts(.learningRate, value) {
            throw fail("learning rate \(value) is out of range: give \(CellLimits.allowed(.learningRate))")
        }
        try checkUnique(values, fail)
        return values
    }

    /// Momentum values from `text` (usually a list, `0,0.5,0.9`), at most
    /// `GridLimits.maxAxisValues`, no repeats. Their range is the cell contract's: `GridSpec.validate()`
    /// checks every cell, so a value out of [0, 1) is refused there, naming `--momentum`.
    public static func momenta(_ text: String, option: String = "--momentum") throws(GridSpecError) -> [Double] {
        func fail(_ why: String) -> GridSpecError { GridSpecError("\(option) '\(text)': \(why)") }
        let values = try decimals(text, fail)
        try checkUnique(values, fail)
        return values
    }

    /// Batch modes from `text`: one (`shuffle`) or a list (`iid,shuffle`), no repeats.
    public static func batchModes(_ text: String, option: String = "--batch-mode") throws(GridSpecError) -> [BatchMode] {
        func fail(_ why: String) -> GridSpecError { GridSpecError("\(option) '\(text)': \(why)") }
        let valid = BatchMode.allCases.map(\.rawValue)
        let values = try items(text, fail).map { (item: String) throws(GridSpecError) -> BatchMode in
            guard let mode = BatchMode(rawValue: item) else {
                throw fail("'\(item)' is not a batch mode: give \(valid.joined(separator: " or ")), "
                           + "or both as a list \(valid.joined(separator: ","))")
            }
            return mode
        }
        try checkUnique(values, fail)
        return values
    }

    /// Decimal numbers of a range or a list, in the order they were given.
    private static func decimals(_ text: String, _ fail: (String) -> GridSpecError) throws(GridSpecError) -> [Double] {
        let values: [Double]
        if let (start, end, step) = try range(text, fail) {
            guard let a = number(start), let b = number(end) else {
                throw fail("'\(number(start) == nil ? start : end)' is not a number")
            }
            guard a <= b else { throw fail("start \(a) is larger than end \(b)") }
            guard let size = number(String(step.dropFirst())), size > 0 else {
                throw fail("step '\(step)' needs a positive number after '\(step.first.map(String.init) ?? "x")'")
            }
            let geometric = step.first == "x"
            if geometric && size <= 1 { throw fail("factor \(size) must be larger than 1") }
            var list: [Double] = []
            // Each value from the start (not by repeated steps) and snapped to 12 significant
            // digits, so 0.0125·2⁴ is 0.2 and 0.1 + 2·0.1 is 0.3 exactly as printed.
            for k in 0... {
                let raw = geometric ? a * pow(size, Double(k)) : a + Double(k) * size
                var value = snap(raw)
                if abs(value - b) <= 1e-9 * abs(b) { value = b }
                if value > b { break }
                list.append(value)
                if value == b { break }
                if list.count > GridLimits.maxAxisValues {
                    throw fail("more than \(GridLimits.maxAxisValues) values")
                }
            }
            values = list
        } else {
            values = try items(text, fail).map { (item: String) throws(GridSpecError) -> Double in
                guard let value = number(item) else { throw fail("'\(item)' is not a number") }
                return value
            }
        }
        return values
    }

    /// Batch sizes from `text`; each in 1…`CellLimits.maxBatchSize`, no repeats.
    public static func batchSizes(_ text: String, option: String = "--batch") throws(GridSpecError) -> [Int] {
        func fail(_ why: String) -> GridSpecError { GridSpecError("\(option) '\(text)': \(why)") }
        let limit = CellLimits.maxBatchSize
        let values: [Int]
        if let (start, end, step) = try range(text, fail) {
            guard let a = Int(start), let b = Int(end) else {
                throw fail("'\(Int(start) == nil ? start : end)' is not a whole number")
            }
            guard a <= b else { throw fail("start \(a) is larger than end \(b)") }
            guard (1...limit).contains(a), (1...limit).contains(b) else {
                throw fail("batch sizes must be 1 to \(limit)")
            }
            guard let size = Int(step.dropFirst()), size >= 1 else {
                throw fail("step '\(step)' needs a whole number of at least 1 after '\(step.first.map(String.init) ?? "x")'")
            }
            let geometric = step.first == "x"
            if geometric && size < 2 { throw fail("factor \(size) must be at least 2") }
            var list: [Int] = []
            var value = a
            while value <= b {  // b ≤ 4096, so value · size cannot overflow
                list.append(value)
                value = geometric ? value * size : value + size
            }
            values = list
        } else {
            values = try items(text, fail).map { (item: String) throws(GridSpecError) -> Int in
                guard let value = Int(item) else { throw fail("'\(item)' is not a whole number") }
                return value
            }
        }
        for value in values where !(1...limit).contains(value) {
            throw fail("batch size \(value) is out of range: give 1 to \(limit)")
        }
        try checkUnique(values, fail)
        return values
    }

    /// `x` rounded to 12 significant digits (the value printed with `%.12g`).
    public static func snap(_ x: Double) -> Double {
        guard x.isFinite, x != 0 else { return x }
        return Double(String(format: "%.12g", x)) ?? x
    }

    /// (start, end, step) of `a:b:step`, or nil for a list.
    private static func range(_ text: String, _ fail: (String) -> GridSpecError)
        throws(GridSpecError) -> (String, String, String)?
    {
        guard text.contains(":") else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3 else {
            throw fail("a range is start:end:step, e.g. 0.0125:0.2:x2 or 8:64:+8")
        }
        guard parts[2].first == "x" || parts[2].first == "+" else {
            throw fail("step '\(parts[2])' must be x<factor> (geometric) or +<increment> (arithmetic)")
        }
        return (parts[0], parts[1], parts[2])
    }

    private static func items(_ text: String, _ fail: (String) -> GridSpecError) throws(GridSpecError) -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if let empty = items.firstIndex(where: \.isEmpty) {
            throw fail("value \(empty + 1) is empty")
        }
        guard items.count <= GridLimits.maxAxisValues else { throw fail("more than \(GridLimits.maxAxisValues) values") }
        return items
    }

    /// A finite decimal number (no `nan`, `inf`, hex floats).
    private static func number(_ text: String) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }

    private static func checkUnique<T: Hashable>(_ values: [T], _ fail: (String) -> GridSpecError)
        throws(GridSpecError)
    {
        var seen = Set<T>()
        for value in values where !seen.insert(value).inserted {
            throw fail("\(value) is listed twice")
        }
    }
}
