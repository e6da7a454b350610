// A grid as a file (README, "Grid files"): one JSON object whose keys are the `sweep` options that
// define a grid, without their "--", holding what those options take. `sweep --grid FILE` reads the
// file as those options, placed before the command line's own (so the command line overrides the
// file, and a value in the file is checked by the code that checks the flag); `status --format
// grid` and the report write a grid back as such a file.
import Cell
import Foundation

/// The grid-file format: its keys, a file read as flags, and a grid written as a file.
public enum GridFile {
    /// What the value of a key is.
    public enum Value: Sendable {
        /// A string: `"model": "lenet-4-8"`.
        case text
        /// A list of numbers `[0.05, 0.1]`, one number, or the option's own text `"0.0125:0.2:x2"`.
        case axis
        /// A whole number.
        case integer
        /// A number.
        case number
        /// `true` gives the flag, `false` leaves it out.
        case flag

        var expected: String {
            switch self {
            case .text: return "a string"
            case .axis: return "a list of numbers like [0.05, 0.1], one number, or the option's text like \"0.0125:0.2:x2\""
            case .integer: return "a whole number"
            case .number: return "a number"
            case .flag: return "true or false"
            }
        }
    }

    /// The keys a grid file may hold: the options of `sweep` that define its grid (`GridSpec`),
    /// without "--", each with its value. A new option of the grid is one more line here (and its
    /// flag in `GridSpec.gridArguments`).
    public static let keys: [(key: String, value: Value)] = [
        ("model", .text),
        ("lr", .axis),
        ("batch", .axis),
        ("momentum", .axis),
        ("seeds", .integer),
        ("grid-seed", .integer),
        ("data", .text),
        ("data-format", .text),
        ("synthetic", .flag),
        ("synthetic-count", .integer),
        ("synthetic-seed", .integer),
        ("warm-lr", .number),
        ("warm-batch", .integer),
        ("warm-epochs", .number),
        ("batch-mode", .text),
        ("shuffle", .flag),
        ("burn-in-steps", .integer),
        ("measure-steps", .integer),
        ("calibration-probes", .integer),
        ("probe-batch", .integer),
        ("trivial-ms", .integer),
    ]

    /// The flags of the grid file `bytes` (read from `path`), per key in the file's order:
    /// `--key=value`, `--key` for a flag that is true, none for one that is false. Their values are
    /// checked where the flags are; this refuses what is not a grid file at all, naming the file,
    /// the key and what it takes.
    public static func arguments(_ bytes: [UInt8], path: String) throws(GridSpecError)
        -> [(key: String, arguments: [String])]
    {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch {
            throw GridSpecError("grid file \(path) is not JSON (\(error)): fix it, or write one with "
                                + "`thermosweep status --db DB --format grid`.")
        }
        guard case .object(let pairs) = root else {
            throw GridSpecError("grid file \(path) holds \(describe(root)), not an object of settings: "
                                + "write e.g. {\"lr\": \"0.0125:0.2:x2\", \"seeds\": 3}.")
        }
        return try pairs.map { (pair) throws(GridSpecError) -> (key: String, arguments: [String]) in
            let (key, value) = pair
            guard let kind = keys.first(where: { $0.key == key })?.value else { throw unknownKey(key, path: path) }
            guard let given = flags(key, value, kind) else {
                throw GridSpecError("grid file \(path): \"\(key)\" takes \(kind.expected), not \(describe(value)).")
            }
            return (key: key, arguments: given)
        }
    }

    /// `spec` as a grid file: every setting that has a value, defaults included (the file names the
    /// whole grid), one key a line in the order of `GridSpec.gridArguments`. `sweep --grid` gives
    /// the same grid from it (same hash).
    public static func text(_ spec: GridSpec) -> String {
        let arguments = spec.gridArguments(includingDefaults: true)
        var lines: [String] = []
        var index = 0
        while index < arguments.count {
            let key = String(arguments[index].dropFirst(2))
            guard let kind = keys.first(where: { $0.key == key })?.value else {
                preconditionFailure("GridFile.keys lacks the grid option \(arguments[index])")
            }
            index += 1
            guard kind != .flag else {
                lines.append("  \(JSONValue.stringLiteral(key)): true")
                continue
            }
            let value = arguments[index]
            index += 1
            switch kind {
            case .text: lines.append("  \(JSONValue.stringLiteral(key)): \(JSONValue.stringLiteral(value))")
            case .axis:
                lines.append("  \(JSONValue.stringLiteral(key)): [" + value.split(separator: ",").joined(separator: ", ") + "]")
            case .integer, .number, .flag: lines.append("  \(JSONValue.stringLiteral(key)): \(value)")
            }
        }
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }

    /// The flags of `key` holding `value`, or nil when `value` is not what the key takes.
    private static func flags(_ key: String, _ value: JSONValue, _ kind: Value) -> [String]? {
        func number(_ value: JSONValue) -> String? {
            switch value {
            case .integer(let n): return "\(n)"
            case .unsigned(let n): return "\(n)"
            case .number(let x): return "\(x)"
            default: return nil
            }
        }
        let text: String?
        switch (kind, value) {
        case (.flag, .bool(let on)): return on ? ["--\(key)"] : []
        case (.text, .string(let string)), (.axis, .string(let string)): text = string
        case (.axis, .array(let items)) where !items.isEmpty:
            let numbers = items.compactMap(number)
            text = numbers.count == items.count ? numbers.joined(separator: ",") : nil
        case (.axis, _), (.number, _): text = number(value)
        case (.integer, .integer(let n)): text = "\(n)"
        case (.integer, .unsigned(let n)): text = "\(n)"
        default: text = nil
        }
        return text.map { ["--\(key)=\($0)"] }
    }

    /// The refusal of a key that is not a grid option: the closest key when it is near one, else
    /// what a grid file holds and where the other options go.
    private static func unknownKey(_ key: String, path: String) -> GridSpecError {
        let plain = String(key.lowercased().map { $0 == "_" ? "-" : $0 }.drop { $0 == "-" })
        let nearest = keys.map { (key: $0.key, distance: editDistance(plain, $0.key)) }.min { $0.distance < $1.distance }
        if let nearest, nearest.distance <= max(1, plain.count / 3) {
            return GridSpecError("grid file \(path): unknown key \"\(key)\": did you mean \"\(nearest.key)\"?")
        }
        return GridSpecError("grid file \(path): \"\(key)\" is not a setting of the grid. A grid file holds only "
                             + keys.map(\.key).joined(separator: ", ") + "; the options of a run (--db, "
                             + "--local-workers, --bind, timing, keys, --out) go on the command line.")
    }

    /// A short text of `value` for a message.
    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let on): return "\(on)"
        case .integer(let n): return "\(n)"
        case .unsigned(let n): return "\(n)"
        case .number(let x): return "\(x)"
        case .string(let text):
            return text.count > 40 ? JSONValue.stringLiteral(String(text.prefix(40))) + "…" : JSONValue.stringLiteral(text)
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// Levenshtein distance of `a` and `b`.
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let diagonal = previous
                previous = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
        }
        return row[b.count]
    }
}
