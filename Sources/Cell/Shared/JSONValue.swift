// The one JSON reader of ThermoSweep: protocol bodies, journaled results, the stored grid. It builds
// a small value tree in one pass over the bytes (Foundation's JSONDecoder reads a 45 kB CellResult
// in about 3 ms here, 15 MB/s, so 10,000 results took half a minute), and `JSONReader` feeds the
// tree to the types' own synthesized `Decodable` initialisers.
//
// Stricter than JSONDecoder where RFC 8259 or the protocol asks: a key twice in one object, a
// trailing comma, a byte-order mark and trailing characters are refused here; unknown keys are
// refused by `JSONReader` when asked.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed JSON value. Integers without fraction or exponent keep their exact value; a number
/// beyond Double's range is ±infinity here, and `JSONReader` refuses it naming the field.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    /// An integer above Int64.max (e.g. a UInt64 seed).
    case unsigned(UInt64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
}

/// Bytes that are not one JSON document.
public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public var offset: Int
    public var detail: String
    /// The key, when the reason is a key that stands twice in one object.
    public var duplicateKey: String?
    public var description: String { "invalid JSON at byte \(offset): \(detail)" }
}

extension JSONValue {
    /// Parses one JSON document (RFC 8259); nesting deeper than 512 levels is refused.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try parse(bytes, buildDepth: .max)
    }

    /// Checks one JSON document exactly as `parse` does, but builds only its top level: members
    /// of the top-level object or array that are objects or arrays themselves come back as
    /// `.null`. For a record of which only a top-level field is read (a RESULT's `format`): a
    /// 52 kB cell result is checked in a fraction of the time its whole tree takes to build.
    public static func parseTopLevel(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try parse(bytes, buildDepth: 0)
    }

    private static func parse(_ bytes: [UInt8], buildDepth: Int) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (p) throws(JSONParseError) -> JSONValue in
            var parser = Parser(bytes: p, end: p.count, buildDepth: buildDepth)
            let value = try parser.value(depth: 0)
            parser.skipSpace()
            guard parser.position == parser.end else { throw parser.error("trailing characters") }
            return value
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let end: Int
        var position = 0
        /// Containers deeper than this are checked but not built (read as `.null`), and so are
        /// the scalars inside them.
        let buildDepth: Int
        /// The keys of the object being checked at each depth past `buildDepth` (`skip`), kept for
        /// the next object at that depth instead of allocated again.
        var keyBuffers: [[String]] = []

        init(bytes: UnsafeBufferPointer<UInt8>, end: Int, buildDepth: Int) {
            self.bytes = bytes
            self.end = end
            self.buildDepth = buildDepth
        }

        func error(_ detail: String) -> JSONParseError { JSONParseError(offset: position, detail: detail) }

        /// Refuses `key` when `keys` (those of its object so far) already holds it: a scan for the
        /// dozen keys of a usual object, a set for larger ones.
        func checkUnique<Keys: Collection<String>>(_ key: String, _ keys: Keys, _ seen: inout Set<String>?)
            throws(JSONParseError) {
            let repeated: Bool
            if keys.count < 16 {
                repeated = keys.contains(key)
            } else {
                if seen == nil { seen = Set(keys) }
                repeated = !seen!.insert(key).inserted
            }
            if repeated {
                throw JSONParseError(offset: position, detail: "key '\(key.prefix(64))' appears twice in one object",
                                     duplicateKey: key)
            }
        }

        mutating func skipSpace() {
            while position < end {
                let c = bytes[position]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                position += 1
            }
        }

        /// Reads the members of the object or array that opens at `position`, each with `member`,
        /// up to its `close` byte ('}' or ']'); `container` names it in errors.
        mutating func members(close: Unicode.Scalar, in container: String,
                              _ member: (inout Parser) throws(JSONParseError) -> Void) throws(JSONParseError) {
            let close = UInt8(ascii: close)
            if opensEmpty(close: close) { return }
            repeat { try member(&self) } while try !closesAfterMember(close: close, in: container)
        }

        /// Moves past the opening byte of the container at `position` and the space after it;
        /// true when the container closes at once (and moves past that too).
        @inline(__always) mutating func opensEmpty(close: UInt8) -> Bool {
            position += 1
            skipSpace()
            if position < end && bytes[position] == close { position += 1; return true }
            return false
        }

        /// After a member: moves past the ',' before the next one (false) or the container's
        /// `close` byte (true); anything else is refused.
        @inline(__always) mutating func closesAfterMember(close: UInt8, in container: String) throws(JSONParseError) -> Bool {
            skipSpace()
            guard position < end else { throw error("unexpected end in \(container)") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; return false }
            if bytes[position] == close { position += 1; return true }
            throw error("expected ',' or '\(Character(Unicode.Scalar(close)))'")
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth < 512 else { throw error("nested too deeply") }
            skipSpace()
            guard position < end else { throw error("unexpected end") }
            // A container deeper than `buildDepth` is only checked (`skip`); so is a scalar inside one.
            let first = bytes[position]
            if depth > buildDepth && (depth - 1 > buildDepth || first == UInt8(ascii: "{") || first == UInt8(ascii: "[")) {
                try skip(depth: depth)
                return .null
            }
            switch first {
            case UInt8(ascii: "{"):
                var pairs: [(String, JSONValue)] = []
                var seen: Set<String>?
                try members(close: "}", in: "an object") { (parser) throws(JSONParseError) in
                    parser.skipSpace()
                    guard parser.position < parser.end, parser.bytes[parser.position] == UInt8(ascii: "\"") else {
                        throw parser.error("expected a key")
                    }
                    let key = try parser.string()
                    try parser.checkUnique(key, pairs.lazy.map(\.0), &seen)
                    parser.skipSpace()
                    guard parser.position < parser.end, parser.bytes[parser.position] == UInt8(ascii: ":") else {
                        throw parser.error("expected ':'")
                    }
                    parser.position += 1
                    let value = try parser.value(depth: depth + 1)
                    pairs.append((key, value))
                }
                return .object(pairs)
            case UInt8(ascii: "["):
                var items: [JSONValue] = []
                try members(close: "]", in: "an array") { (parser) throws(JSONParseError) in
                    items.append(try parser.value(depth: depth + 1))
                }
                return .array(items)
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default:
                return try number()
            }
        }

        /// Checks the value at `position` exactly as `value(depth:)` does (the same errors at the
        /// same bytes) without building any of it: no member lists, no values, and no closure per
        /// member. Only the keys of each object are made, to refuse one that stands twice.
        mutating func skip(depth: Int) throws(JSONParseError) {
            guard depth < 512 else { throw error("nested too deeply") }
            skipSpace()
            guard position < end else { throw error("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                if opensEmpty(close: UInt8(ascii: "}")) { return }
                while keyBuffers.count <= depth { keyBuffers.append([]) }
                var keys = keyBuffers[depth]
                keyBuffers[depth] = []
                keys.removeAll(keepingCapacity: true)
                var seen: Set<String>?
                repeat {
                    skipSpace()
                    guard position < end, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let key = try string()
                    try checkUnique(key, keys, &seen)
                    keys.append(key)
                    skipSpace()
                    guard position < end, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    position += 1
                    try skipMember(depth: depth + 1)
                } while try !closesAfterMember(close: UInt8(ascii: "}"), in: "an object")
                keyBuffers[depth] = keys
            case UInt8(ascii: "["):
                if opensEmpty(close: UInt8(ascii: "]")) { return }
                repeat { try skipMember(depth: depth + 1) } while try !closesAfterMember(close: UInt8(ascii: "]"), in: "an array")
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try skipNumber()
            }
        }

        /// `skip(depth:)` of a member or an element, a number (most of a result record) checked
        /// without the call and the dispatch.
        @inline(__always) mutating func skipMember(depth: Int) throws(JSONParseError) {
            guard depth < 512 else { throw error("nested too deeply") }  // before the space, as `value`
            skipSpace()
            if position < end, bytes[position] == UInt8(ascii: "-") || bytes[position] &- 0x30 < 10 {
                try skipNumber()
            } else {
                try skip(depth: depth)
            }
        }

        /// Checks the number at `position` as `number()` does (the same errors at the same
        /// bytes), without reading its value.
        @inline(never) mutating func skipNumber() throws(JSONParseError) {
            if position < end && bytes[position] == UInt8(ascii: "-") { position += 1 }
            let digitsStart = position
            skipDigits()
            guard position > digitsStart else { throw error("expected a value") }
            if bytes[digitsStart] == 0x30 && position - digitsStart > 1 { throw error("leading zero") }
            if position < end && bytes[position] == UInt8(ascii: ".") {
                position += 1
                let f = position
                skipDigits()
                guard position > f else { throw error("digits expected after '.'") }
            }
            if position < end && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
                position += 1
                if position < end && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                    position += 1
                }
                let e = position
                skipDigits()
                guard position > e else { throw error("digits expected in the exponent") }
            }
        }

        /// Moves past the digits at `position`, eight bytes at a time where eight remain: a result
        /// record is mostly 17-digit numbers, which a byte loop checks one branch at a time.
        private mutating func skipDigits() {
            var p = position
            #if _endian(little)
            if let base = bytes.baseAddress {
                while p + 8 <= end {
                    // A byte b is a digit when x = b ^ 0x30 is below 10: for x < 0x80, x + 0x76 sets
                    // the high bit exactly when x ≥ 10 (no carry leaves a byte: at most 0x7F + 0x76);
                    // x ≥ 0x80 has it set already.
                    let x = UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self) ^ 0x3030_3030_3030_3030
                    let other = ((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7676_7676_7676_7676 | x) & 0x8080_8080_8080_8080
                    if other != 0 {
                        position = p + other.trailingZeroBitCount / 8  // the first byte in memory is the lowest
                        return
                    }
                    p += 8
                }
            }
            #endif
            while p < end, bytes[p] &- 0x30 < 10 { p += 1 }
            position = p
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let n = word.utf8CodeUnitCount
            guard position + n <= end else { throw error("unexpected end") }
            for i in 0..<n where bytes[position + i] != word.utf8Start[i] { throw error("unknown literal") }
            position += n
        }

        mutating func number() throws(JSONParseError) -> JSONValue {
            let start = position
            var integral = true
            let negative = position < end && bytes[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            // Significant digits (up to 19) and the power of ten they are scaled by.
            var mantissa: UInt64 = 0, digits = 0, scale = 0
            let digitsStart = position
            while position < end, bytes[position] >= 0x30 && bytes[position] <= 0x39 {
                if digits < 19 {
                    mantissa = mantissa * 10 + UInt64(bytes[position] - 0x30)
                    if mantissa > 0 { digits += 1 }
                } else {
                    scale += 1
                }
                position += 1
            }
            guard position > digitsStart else { throw error("expected a value") }
            if bytes[digitsStart] == 0x30 && position - digitsStart > 1 { throw error("leading zero") }
            let integerEnd = position
            if position < end && bytes[position] == UInt8(ascii: ".") {
                integral = false
                position += 1
                let f = position
                while position < end, bytes[position] >= 0x30 && bytes[position] <= 0x39 {
                    if digits < 19 {
                        mantissa = mantissa * 10 + UInt64(bytes[position] - 0x30)
                        if mantissa > 0 { digits += 1 }
                        scale -= 1
                    }
                    position += 1
                }
                guard position > f else { throw error("digits expected after '.'") }
            }
            if position < end && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
                integral = false
                position += 1
                var exponentNegative = false
                if position < end && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                    exponentNegative = bytes[position] == UInt8(ascii: "-")
                    position += 1
                }
                let e = position
                var exponent = 0
                while position < end, bytes[position] >= 0x30 && bytes[position] <= 0x39 {
                    if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[position] - 0x30) }
                    position += 1
                }
                guard position > e else { throw error("digits expected in the exponent") }
                scale += exponentNegative ? -exponent : exponent
            }
            if integral && integerEnd - digitsStart <= 20 {
                var v: UInt64 = 0, overflow = false
                for i in digitsStart..<integerEnd {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
                    v = a
                    overflow = overflow || o1 || o2
                }
                if !overflow {
                    if negative && v == 0 { return .number(-0.0) }  // "-0" keeps its sign as a Double
                    if !negative { return v <= UInt64(Int64.max) ? .integer(Int64(v)) : .unsigned(v) }
                    if v <= UInt64(Int64.max) { return .integer(-Int64(v)) }
                    if v == UInt64(Int64.max) + 1 { return .integer(Int64.min) }
                }
            }
            // Clinger's fast path: an exact mantissa (≤ 2^53) times an exact power of ten (≤ 10^22)
            // is one correctly rounded operation, the same double strtod returns.
            if digits < 19 && mantissa <= (1 << 53) && scale >= -22 && scale <= 22 {
                let m = Double(mantissa)
                let d = scale >= 0 ? m * Self.powersOfTen[scale] : m / Self.powersOfTen[-scale]
                return .number(negative ? -d : d)
            }
            // The grammar was checked above; strtod reads exactly these characters, copied with a
            // closing NUL (the process keeps the C locale, so '.' is the decimal point).
            var text = [CChar](repeating: 0, count: position - start + 1)
            for i in start..<position { text[i - start] = CChar(bitPattern: bytes[i]) }
            return .number(strtod(text, nil))
        }

        /// 10^0 … 10^22, all exact in binary64.
        static let powersOfTen: [Double] = (0...22).map { e in
            var p = 1.0
            for _ in 0..<e { p *= 10 }
            return p
        }

        mutating func string() throws(JSONParseError) -> String {
            position += 1  // opening quote
            let start = position
            // Fast path: no escapes.
            while position < end {
                let c = bytes[position]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    position += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw error("control character in a string") }
                position += 1
            }
            var out = Array(bytes[start..<position])
            while position < end {
                let c = bytes[position]
                if c == UInt8(ascii: "\"") {
                    position += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if c < 0x20 { throw error("control character in a string") }
                if c != UInt8(ascii: "\\") { out.append(c); position += 1; continue }
                position += 1
                guard position < end else { break }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard position + 1 < end, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                        else { throw error("unpaired surrogate") }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("unpaired surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("unknown escape")
                }
            }
            throw error("unterminated string")
        }

        /// Checks the string at `position` as `string()` does, without making it.
        @inline(never) mutating func skipString() throws(JSONParseError) {
            let opening = position
            position += 1
            while position < end {
                let c = bytes[position]
                if c == UInt8(ascii: "\"") { position += 1; return }
                if c < 0x20 { throw error("control character in a string") }
                if c == UInt8(ascii: "\\") {
                    // An escape: `string()` reads the string again, with every check of escapes.
                    position = opening
                    _ = try string()
                    return
                }
                position += 1
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard position + 4 <= end else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[position]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw error("bad hex digit")
                }
                v = v * 16 + UInt32(d)
                position += 1
            }
            return v
        }
    }
}

extension JSONValue {
    /// The number this is, as a Double: a finite number or an integer; nil for anything else.
    public var double: Double? {
        switch self {
        case .number(let d): return d.isFinite ? d : nil
        case .integer(let i): return Double(i)
        case .unsigned(let u): return Double(u)
        default: return nil
        }
    }

    /// The value of `key` when this is an object that holds it.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }
}

extension JSONValue {
    /// `text` as a JSON string literal, byte for byte as JSONEncoder writes it with
    /// `.withoutEscapingSlashes` (`JSONWriter.value(_: String)`).
    public static func stringLiteral(_ text: String) -> String {
        String(decoding: JSONWriter.bytes(of: text), as: UTF8.self)
    }
}
