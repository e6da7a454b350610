// Decodes any Decodable from JSON through `JSONValue`, as JSONDecoder would for plain JSON (no
// date or data strategies): missing keys and nulls for optionals, exact integers, strings, arrays.
// Strict reading also refuses keys the type does not decode, at every depth, so the protocol
// bodies and the stored grid keep their synthesized `Decodable` and no field list is hand-written.

/// A key that the decoded type does not have (strict reading only).
public struct JSONUnknownKeyError: Error, Sendable, CustomStringConvertible {
    /// The key with its path: `spec.cell.warmStart.momentum`.
    public let field: String
    public var description: String { "unknown key \(field)" }
}

/// The one JSON reader: parses with `JSONValue.parse`, decodes with the type's own `init(from:)`.
public enum JSONReader {
    /// Decodes `T` from JSON `bytes`. `strict`: every object may hold only the keys its type
    /// decodes (`JSONUnknownKeyError`), and an optional field is left out rather than null. Throws `JSONParseError` for bytes that are not JSON,
    /// `DecodingError` for a value that does not fit (with its coding path), including a number
    /// outside its field's type (`dataCorrupted`).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], strict: Bool = false) throws -> T {
        try decode(type, from: try JSONValue.parse(bytes), strict: strict)
    }

    /// Decodes `T` from a parsed value.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, strict: Bool = false) throws -> T {
        try T(from: ValueDecoder(value, strict: strict))
    }

    /// `a.b[2].c` from a coding path.
    public static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let strict: Bool
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [any CodingKey] = [], strict: Bool) {
        self.value = value
        self.codingPath = codingPath
        self.strict = strict
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let pairs) = value else { throw mismatch([String: Any].self, value, codingPath) }
        if strict, let unknown = pairs.first(where: { Key(stringValue: $0.0) == nil }) {
            let path = JSONReader.path(codingPath)
            throw JSONUnknownKeyError(field: path.isEmpty ? unknown.0 : path + "." + unknown.0)
        }
        return KeyedDecodingContainer(Keyed<Key>(pairs: pairs, codingPath: codingPath, strict: strict))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([Any].self, value, codingPath) }
        return Unkeyed(items: items, codingPath: codingPath, strict: strict)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        Single(value: value, codingPath: codingPath, strict: strict)
    }
}

private func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [any CodingKey]) -> DecodingError {
    let found: String
    switch value {
    case .null: found = "null"
    case .bool: found = "a boolean"
    case .integer, .unsigned, .number: found = "a number"
    case .string: found = "a string"
    case .array: found = "an array"
    case .object: found = "an object"
    }
    return DecodingError.typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(found)"))
}

// Speed: a CellResult holds ~1,500 numbers, so the per-value path must not allocate. Coding paths
// are built only for errors and nested containers (`@autoclosure`), and the common leaf types are
// matched by type identity, not by dynamic casts.

/// The primitive conversions, shared by the three container kinds.
private func unbox<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: @autoclosure () -> [any CodingKey],
                                 _ strict: Bool) throws -> T {
    if T.self == Double.self { return unsafeBitCast(try double(value, path()), to: T.self) }
    if T.self == Double?.self {
        if case .null = value { return unsafeBitCast(Double?.none, to: T.self) }
        return unsafeBitCast(Double?.some(try double(value, path())), to: T.self)
    }
    if T.self == Int.self { return unsafeBitCast(try integer(Int.self, value, path()), to: T.self) }
    if T.self == String.self {
        guard case .string(let s) = value else { throw mismatch(String.self, value, path()) }
        return unsafeBitCast(s, to: T.self)
    }
    if let primitive = try primitive(type, value, path()) {
        guard let v = primitive as? T else { throw mismatch(T.self, value, path()) }
        return v
    }
    if case .null = value, !(T.self is any ExpressibleByNilLiteral.Type) {
        throw DecodingError.valueNotFound(T.self, .init(codingPath: path(), debugDescription: "is null where \(T.self) is required"))
    }
    return try T(from: ValueDecoder(value, codingPath: path(), strict: strict))
}

private func double(_ value: JSONValue, _ path: @autoclosure () -> [any CodingKey]) throws -> Double {
    if let d = value.double { return d }
    if case .number = value { throw unrepresentable(Double.self, path()) }
    throw mismatch(Double.self, value, path())
}

private func integer<I: FixedWidthInteger>(_: I.Type, _ value: JSONValue, _ path: @autoclosure () -> [any CodingKey]) throws -> I {
    switch value {
    case .integer(let v): if let i = I(exactly: v) { return i }
    case .unsigned(let v): if let i = I(exactly: v) { return i }
    case .number(let d): if let i = I(exactly: d) { return i }
    default: throw mismatch(I.self, value, path())
    }
    throw unrepresentable(I.self, path())
}

/// A number JSON allows that `type` cannot hold (a fraction for an integer, out of range).
private func unrepresentable(_ type: Any.Type, _ path: [any CodingKey]) -> DecodingError {
    .dataCorrupted(.init(codingPath: path, debugDescription: "is not a valid \(type) (a fraction, or out of range)"))
}

/// The value of a primitive type (numbers, String, Bool), or nil when `type` is not one.
private func primitive(_ type: Any.Type, _ value: JSONValue, _ path: @autoclosure () -> [any CodingKey]) throws -> Any? {
    switch type {
    case is Double.Type: return try double(value, path())
    case is Float.Type:
        let d = try double(value, path())
        guard abs(d) <= Double(Float.greatestFiniteMagnitude) else { throw unrepresentable(Float.self, path()) }
        return Float(d)
    case is String.Type:
        guard case .string(let s) = value else { throw mismatch(String.self, value, path()) }
        return s
    case is Bool.Type:
        guard case .bool(let b) = value else { throw mismatch(Bool.self, value, path()) }
        return b
    case is Int.Type: return try integer(Int.self, value, path())
    case is Int8.Type: return try integer(Int8.self, value, path())
    case is Int16.Type: return try integer(Int16.self, value, path())
    case is Int32.Type: return try integer(Int32.self, value, path())
    case is Int64.Type: return try integer(Int64.self, value, path())
    case is UInt.Type: return try integer(UInt.self, value, path())
    case is UInt8.Type: return try integer(UInt8.self, value, path())
    case is UInt16.Type: return try integer(UInt16.self, value, path())
    case is UInt32.Type: return try integer(UInt32.self, value, path())
    case is UInt64.Type: return try integer(UInt64.self, value, path())
    default: return nil
    }
}

private struct Index: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let pairs: [(String, JSONValue)]
    let codingPath: [any CodingKey]
    let strict: Bool

    var allKeys: [Key] { pairs.compactMap { Key(stringValue: $0.0) } }

    /// Objects hold a dozen keys at most: a linear scan beats hashing them.
    func lookup(_ key: Key) -> JSONValue? {
        let name = key.stringValue
        for (k, v) in pairs where k == name { return v }
        return nil
    }

    func require(_ key: Key) throws -> JSONValue {
        guard let v = lookup(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no key '\(key.stringValue)'"))
        }
        return v
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard case .null = try require(key) else { return false }
        if strict { throw nullRefused(key) }
        return true
    }

    /// Strict reading: an absent optional is left out, never written as null.
    func nullRefused(_ key: Key) -> DecodingError {
        .valueNotFound(Any.self, .init(codingPath: codingPath + [key], debugDescription: "is null: leave an absent field out"))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try unbox(T.self, try require(key), codingPath + [key], strict)
    }

    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let v = lookup(key) else { return nil }
        if case .null = v {
            if strict { throw nullRefused(key) }
            return nil
        }
        return try double(v, codingPath + [key])
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try double(try require(key), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type, key) }

    private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try unbox(T.self, try require(key), codingPath + [key], strict)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(try require(key), codingPath: codingPath + [key], strict: strict).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(try require(key), codingPath: codingPath + [key], strict: strict).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        ValueDecoder(pairs.first { $0.0 == "super" }?.1 ?? .null, codingPath: codingPath, strict: strict)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(lookup(key) ?? .null, codingPath: codingPath + [key], strict: strict)
    }
}

private struct Unkeyed: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    let strict: Bool
    var currentIndex = 0

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next<T>(_ type: T.Type) throws -> JSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: codingPath + [Index(currentIndex)],
                                                            debugDescription: "the array has no more elements"))
        }
        defer { currentIndex += 1 }
        return items[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if case .null = items[currentIndex] { currentIndex += 1; return true }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let index = currentIndex
        return try unbox(T.self, try next(T.self), codingPath + [Index(index)], strict)
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeValue(type) }
    mutating func decode(_ type: String.Type) throws -> String { try decodeValue(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeValue(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeValue(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeValue(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeValue(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeValue(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeValue(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeValue(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeValue(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeValue(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeValue(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeValue(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeValue(type) }

    private mutating func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        let index = currentIndex
        return try unbox(T.self, try next(T.self), codingPath + [Index(index)], strict)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey> {
        let path = codingPath + [Index(currentIndex)]
        return try ValueDecoder(try next([String: Any].self), codingPath: path, strict: strict).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let path = codingPath + [Index(currentIndex)]
        return try ValueDecoder(try next([Any].self), codingPath: path, strict: strict).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let path = codingPath + [Index(currentIndex)]
        return ValueDecoder(try next(Any.self), codingPath: path, strict: strict)
    }
}

private struct Single: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let strict: Bool

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(T.self, value, codingPath, strict) }
    func decode(_ type: Bool.Type) throws -> Bool { try unbox(type, value, codingPath, strict) }
    func decode(_ type: String.Type) throws -> String { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Double.Type) throws -> Double { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Float.Type) throws -> Float { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Int.Type) throws -> Int { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Int8.Type) throws -> Int8 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Int16.Type) throws -> Int16 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Int32.Type) throws -> Int32 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: Int64.Type) throws -> Int64 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: UInt.Type) throws -> UInt { try unbox(type, value, codingPath, strict) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try unbox(type, value, codingPath, strict) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try unbox(type, value, codingPath, strict) }
}
