// The bodies read per job read themselves (`ObjectReader`), as the bodies written per job write
// themselves (`JSONWriter`): through `Decodable` each read instantiated its generic containers at
// run time, half of a RESULT's decode on the coordinator and most of a JOB's on a worker. A reader
// takes what the strict `JSONReader` takes and refuses what it refuses, with the same kind and
// field (`BodyReaderTests` checks both on every fixture and thousands of mutations of them).
import Cell

/// Where an object sits in a body: the body itself, or element `index` of the array at `parent`
/// (`jobs[2]`). The text is built only to name a field in a refusal: a heartbeat holds a job per
/// slot.
struct ObjectPath {
    static let body = ObjectPath(parent: "", index: nil)
    let parent: String
    let index: Int?

    var text: String { index.map { "\(parent)[\($0)]" } ?? parent }
}

/// One JSON object of a body, read field by field. The checks come in the strict decoder's order:
/// the value must be an object; a key the body does not have is refused before any field is read
/// (the first in document order); then each field in the order the caller reads them, which must
/// be the type's declaration order.
struct ObjectReader {
    private let pairs: [(String, JSONValue)]
    /// The object's own place (`jobs[1]`), the body's for the body.
    private let path: ObjectPath

    /// The object `value`, whose keys must be among `keys`.
    init(_ value: JSONValue, path: ObjectPath = .body, keys: [String]) throws {
        guard case .object(let pairs) = value else {
            if path.text.isEmpty { throw BodyShapeError() }
            throw FieldFailure(kind: .wrongType, field: path.text, detail: "is not of type Dictionary<String, Any>")
        }
        for (key, _) in pairs where !keys.contains(key) {
            throw FieldFailure(kind: .unknownField, field: Self.join(path.text, key), detail: "is not a field of this body")
        }
        self.pairs = pairs
        self.path = path
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    private func field(_ key: String) -> String { Self.join(path.text, key) }

    private func value(_ key: String) -> JSONValue? {
        for (k, v) in pairs where k == key { return v }
        return nil
    }

    private func required(_ key: String) throws -> JSONValue {
        guard let v = value(key) else { throw FieldFailure(kind: .missingField, field: field(key), detail: "is missing") }
        return v
    }

    /// The value of an optional field: nil when absent; null is refused (an absent field is left out).
    private func optional(_ key: String) throws -> JSONValue? {
        guard let v = value(key) else { return nil }
        if case .null = v {
            throw FieldFailure(kind: .wrongType, field: field(key), detail: "is null: leave an absent field out")
        }
        return v
    }

    private func mismatch(_ key: String, _ type: Any.Type) -> FieldFailure {
        FieldFailure(kind: .wrongType, field: field(key), detail: "is not of type \(type)")
    }

    private func int(_ v: JSONValue, _ key: String) throws -> Int {
        let exact: Int?
        switch v {
        case .integer(let i): exact = Int(exactly: i)
        case .unsigned(let u): exact = Int(exactly: u)
        case .number(let d): exact = Int(exactly: d)
        default: throw mismatch(key, Int.self)
        }
        guard let exact else {
            throw FieldFailure(kind: .invalidValue, field: field(key), detail: "is not a valid Int (a fraction, or out of range)")
        }
        return exact
    }

    private func double(_ v: JSONValue, _ key: String) throws -> Double {
        if let d = v.double { return d }
        if case .number = v {
            throw FieldFailure(kind: .invalidValue, field: field(key), detail: "is not a valid Double (a fraction, or out of range)")
        }
        throw mismatch(key, Double.self)
    }

    private func string(_ v: JSONValue, _ key: String) throws -> String {
        guard case .string(let s) = v else { throw mismatch(key, String.self) }
        return s
    }

    private func raw<T: RawRepresentable>(_ v: JSONValue, _ key: String) throws -> T where T.RawValue == String {
        let text = try string(v, key)
        guard let value = T(rawValue: text) else {
            throw FieldFailure(kind: .invalidValue, field: field(key), detail: "Cannot initialize \(T.self) from invalid String value \(text)")
        }
        return value
    }

    func int(_ key: String) throws -> Int { try int(required(key), key) }
    func int(ifPresent key: String) throws -> Int? { try optional(key).map { try int($0, key) } }
    func double(_ key: String) throws -> Double { try double(required(key), key) }
    func double(ifPresent key: String) throws -> Double? { try optional(key).map { try double($0, key) } }
    func string(_ key: String) throws -> String { try string(required(key), key) }
    func string(ifPresent key: String) throws -> String? { try optional(key).map { try string($0, key) } }
    func value<T: RawRepresentable>(_ key: String) throws -> T where T.RawValue == String { try raw(required(key), key) }
    func value<T: RawRepresentable>(ifPresent key: String) throws -> T? where T.RawValue == String {
        try optional(key).map { try raw($0, key) }
    }

    /// The objects of the array `key`, each read by `element` with its place (`jobs[2]`).
    func objects<T>(_ key: String, _ element: (JSONValue, ObjectPath) throws -> T) throws -> [T] {
        guard case .array(let items) = try required(key) else { throw mismatch(key, Array<Any>.self) }
        let parent = field(key)
        var values: [T] = []
        values.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { values.append(try element(item, ObjectPath(parent: parent, index: i))) }
        return values
    }
}

/// A body that is not a JSON object (the decoder's wording: `ProtocolError` `badJSON`).
struct BodyShapeError: Error {}
