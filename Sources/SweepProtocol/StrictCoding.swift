// Strict JSON decoding: Foundation's JSONDecoder ignores unknown keys and keeps the first of two
// duplicate keys, so every body decodes through `strictDecode` (a decoder that refuses unknown keys
// at every depth) after `JSONSyntaxCheck` (which refuses duplicate keys), and every body has a
// `validate()` that checks ranges. The encoder runs the same `validate()`. Bodies keep their
// synthesized `Decodable`: no field lists written by hand.
import Foundation

/// A coding key for any string: lists every key of a JSON object.
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }
    init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// A strict-decoding failure thrown from inside `init(from:)`; the message decoder turns it into a
/// `ProtocolError` with the command filled in.
struct FieldFailure: Error {
    let kind: ProtocolError.Kind
    let field: String
    let detail: String
}

/// `a.b[2].c` from a coding path.
func fieldPath(_ path: [any CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text
}

/// What JSONDecoder lets through but JSON (RFC 8259) does not, or this protocol does not want:
/// duplicate keys (JSONDecoder keeps the first), trailing commas, a byte-order mark, a top level
/// other than an object. Runs before JSONDecoder, on any bytes: it only scans, never traps, and
/// leaves every other syntax error to JSONDecoder.
enum JSONSyntaxCheck {
    static func check(_ bytes: [UInt8]) throws {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        guard let first = bytes.first(where: { !isSpace($0) }), first == UInt8(ascii: "{") else {
            throw FieldFailure(kind: .badJSON, field: "", detail: "the body is not a JSON object")
        }
        // Per open container: is it an object, its keys so far, does a key come next.
        var stack: [(object: Bool, keys: Set<ArraySlice<UInt8>>, expectKey: Bool)] = []
        var lastSignificant: UInt8 = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "{"):
                stack.append((true, [], true))
            case UInt8(ascii: "["):
                stack.append((false, [], false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if lastSignificant == UInt8(ascii: ",") {
                    throw FieldFailure(kind: .badJSON, field: "", detail: "the body has a trailing comma")
                }
                _ = stack.popLast()
            case UInt8(ascii: ","):
                if let top = stack.indices.last, stack[top].object { stack[top].expectKey = true }
            case quote:
                let start = i + 1
                i += 1
                while i < bytes.count && bytes[i] != quote {
                    i += bytes[i] == backslash ? 2 : 1
                }
                if let top = stack.indices.last, stack[top].object, stack[top].expectKey {
                    let key = bytes[start..<min(i, bytes.count)]
                    guard stack[top].keys.insert(key).inserted else {
                        throw FieldFailure(kind: .duplicateField, field: String(decoding: key, as: UTF8.self),
                                           detail: "appears twice in one object")
                    }
                    stack[top].expectKey = false
                }
            default:
                break
            }
            if !isSpace(b) { lastSignificant = b }
            i += 1
        }
    }
}

/// Range checks for `validate()`: each throws a `FieldFailure` naming the field and value.
enum Check {
    static func fail(_ field: String, _ detail: String) -> FieldFailure {
        FieldFailure(kind: .invalidValue, field: field, detail: detail)
    }

    static func int(_ value: Int, _ field: String, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw fail(field, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    static func double(_ value: Double, _ field: String, _ range: ClosedRange<Double>) throws {
        guard value.isFinite else { throw fail(field, "\(value) is not a finite number") }
        guard range.contains(value) else {
            throw fail(field, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// A string of 1 (or 0 when `allowEmpty`) to `maxLength` characters without control characters.
    static func string(_ value: String, _ field: String, maxLength: Int = Wire.maxShortString,
                       allowEmpty: Bool = false) throws {
        guard allowEmpty || !value.isEmpty else { throw fail(field, "is empty") }
        guard value.utf8.count <= maxLength else {
            throw fail(field, "is \(value.utf8.count) bytes long; the limit is \(maxLength)")
        }
        if maxLength <= Wire.maxShortString,
           value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw fail(field, "contains a control character")
        }
    }

    static func list(_ count: Int, _ field: String, max: Int = Wire.maxListCount) throws {
        guard count <= max else { throw fail(field, "has \(count) entries; the limit is \(max)") }
    }

    /// 16 lowercase hex digits (an FNV-1a-64 hash).
    static func hash(_ value: String, _ field: String) throws {
        guard value.utf8.count == 16, value.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw fail(field, "'\(value.prefix(40))' is not 16 lowercase hex digits") }
    }

    static func require(_ condition: Bool, _ field: String, _ detail: @autoclosure () -> String) throws {
        if !condition { throw fail(field, detail()) }
    }
}

/// Decodes `T` from the JSON `bytes` strictly: every object, at every depth, may hold only the
/// keys its type decodes (unknown keys are refused with their path), and numbers that do not fit
/// their field are named. Types keep their synthesized `Decodable`; the strictness is here, once.
func strictDecode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
    try JSONDecoder().decode(Strict<T>.self, from: Data(bytes)).value
}

/// The top of a strict decode: hands `T` a `StrictDecoder` around JSONDecoder's.
private struct Strict<T: Decodable>: Decodable {
    let value: T
    init(from decoder: any Decoder) throws { value = try T(from: StrictDecoder(base: decoder)) }
}

/// A decoder that refuses unknown keys in every keyed container and wraps every nested value.
private struct StrictDecoder: Decoder {
    let base: any Decoder
    var codingPath: [any CodingKey] { base.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let all = try base.container(keyedBy: AnyKey.self)
        for key in all.allKeys where Key(stringValue: key.stringValue) == nil {
            throw FieldFailure(kind: .unknownField, field: fieldPath(codingPath + [key]),
                               detail: "is not a field of this body")
        }
        return KeyedDecodingContainer(StrictKeyed(base: try base.container(keyedBy: Key.self)))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        StrictUnkeyed(base: try base.unkeyedContainer())
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        StrictSingle(base: try base.singleValueContainer(), decoder: self)
    }
}

/// A number JSONDecoder could not fit reaches the top as "not valid JSON" without a path; the
/// container that asked knows the field.
private func located(_ error: any Error, _ path: [any CodingKey], _ type: Any.Type) -> any Error {
    if error is FieldFailure { return error }
    if let decoding = error as? DecodingError {
        guard case .dataCorrupted(let context) = decoding, context.codingPath.isEmpty else { return decoding }
    }
    return FieldFailure(kind: .invalidValue, field: fieldPath(path),
                        detail: "is not a valid \(type) (a fraction, or out of range)")
}

private struct StrictKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let base: KeyedDecodingContainer<Key>
    var codingPath: [any CodingKey] { base.codingPath }
    var allKeys: [Key] { base.allKeys }

    func contains(_ key: Key) -> Bool { base.contains(key) }
    func decodeNil(forKey key: Key) throws -> Bool { try base.decodeNil(forKey: key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard base.contains(key) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath,
                                                                       debugDescription: "no value for the key"))
        }
        do {
            return try T(from: StrictDecoder(base: try base.superDecoder(forKey: key)))
        } catch {
            throw located(error, codingPath + [key], T.self)
        }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard base.contains(key), try !base.decodeNil(forKey: key) else { return nil }
        return try decode(type, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey> {
        try StrictDecoder(base: try base.superDecoder(forKey: key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        StrictUnkeyed(base: try base.nestedUnkeyedContainer(forKey: key))
    }

    func superDecoder() throws -> any Decoder { StrictDecoder(base: try base.superDecoder()) }
    func superDecoder(forKey key: Key) throws -> any Decoder { StrictDecoder(base: try base.superDecoder(forKey: key)) }
}

private struct StrictUnkeyed: UnkeyedDecodingContainer {
    var base: any UnkeyedDecodingContainer
    var codingPath: [any CodingKey] { base.codingPath }
    var count: Int? { base.count }
    var isAtEnd: Bool { base.isAtEnd }
    var currentIndex: Int { base.currentIndex }

    mutating func decodeNil() throws -> Bool { try base.decodeNil() }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let index = AnyKey(intValue: currentIndex)
        do {
            return try T(from: StrictDecoder(base: try base.superDecoder()))
        } catch {
            throw located(error, codingPath + [index], T.self)
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey> {
        try StrictDecoder(base: try base.superDecoder()).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        StrictUnkeyed(base: try base.nestedUnkeyedContainer())
    }

    mutating func superDecoder() throws -> any Decoder { StrictDecoder(base: try base.superDecoder()) }
}

private struct StrictSingle: SingleValueDecodingContainer {
    let base: any SingleValueDecodingContainer
    let decoder: StrictDecoder
    var codingPath: [any CodingKey] { base.codingPath }

    func decodeNil() -> Bool { base.decodeNil() }
    func decode(_ type: Bool.Type) throws -> Bool { try base.decode(type) }
    func decode(_ type: String.Type) throws -> String { try base.decode(type) }
    func decode(_ type: Double.Type) throws -> Double { try base.decode(type) }
    func decode(_ type: Float.Type) throws -> Float { try base.decode(type) }
    func decode(_ type: Int.Type) throws -> Int { try base.decode(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try base.decode(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try base.decode(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try base.decode(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try base.decode(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try base.decode(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try base.decode(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try base.decode(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try base.decode(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try base.decode(type) }
    /// A nested value of another type (an enum's raw value, a struct): through the strict decoder.
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
}
