// Strict JSON decoding: Foundation's JSONDecoder ignores unknown keys and keeps the first of two
// duplicate keys, so every body decodes through `strictContainer`, which refuses both, and every
// body has a `validate()` that checks ranges. The encoder runs the same `validate()`.
import Foundation

/// A coding key for any string: lists every key of a JSON object.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
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

extension Decoder {
    /// A keyed container that has refused unknown keys. (Duplicate keys are invisible here:
    /// `JSONSyntaxCheck` finds them in the bytes.)
    func strictContainer<Key: CodingKey>(_ type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let all = try container(keyedBy: AnyKey.self)
        for key in all.allKeys where Key(stringValue: key.stringValue) == nil {
            throw FieldFailure(kind: .unknownField, field: fieldPath(codingPath + [key]),
                               detail: "is not a field of this body")
        }
        return try container(keyedBy: Key.self)
    }
}

extension KeyedDecodingContainer {
    /// `decode` that names the field when a number does not fit its type (JSONDecoder reports
    /// those without a coding path).
    func field<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        do { return try decode(type, forKey: key) } catch { throw located(error, key, T.self) }
    }

    /// `decodeIfPresent` that names the field when a number does not fit its type.
    func optionalField<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        do { return try decodeIfPresent(type, forKey: key) } catch { throw located(error, key, T.self) }
    }

    private func located(_ error: any Error, _ key: Key, _ type: Any.Type) -> any Error {
        if error is FieldFailure { return error }
        if let decoding = error as? DecodingError {
            guard case .dataCorrupted(let context) = decoding, context.codingPath.isEmpty else { return decoding }
        }
        // JSONDecoder's internal number errors (`numberIsNotRepresentableInSwift`) reach the top
        // as "not valid JSON" without a path; this is the one place that knows the field.
        return FieldFailure(kind: .invalidValue, field: fieldPath(codingPath + [key]),
                            detail: "is not a valid \(type) (a fraction, or out of range)")
    }
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

/// 64-bit FNV-1a: attachment hashes and the grid-spec hash. The same function as Trainer's
/// `ContentHasher`, repeated here because this target has no dependencies. Not cryptographic:
/// it detects corruption and names versions; the full spec is always stored and compared.
public enum FNV1a {
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBufferPointer { buffer in
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for i in 0..<buffer.count {
                h = (h ^ UInt64(buffer[i])) &* 0x100_0000_01B3
            }
            return h
        }
    }

    /// The hash as 16 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = String(hash(bytes), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
