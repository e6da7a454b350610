// The JSON writer of the messages sent per job (JOB, RESULT, ACK, CANCEL, HEARTBEAT). JSONEncoder spends
// about 20 µs on a JOB body, nearly all of it in Codable's generic machinery (a boxed container per
// value, a dynamic cast per field), which made it the coordinator's largest cost per job after the
// journal. This writer appends the same bytes directly: `.sortedKeys` order, `.withoutEscapingSlashes`
// strings, and numbers as JSONEncoder spells them. Each type that uses it lists its fields in key
// order in its `write(to:)`; the protocol tests compare every such body with JSONEncoder's bytes.

/// A value that writes itself as JSON, byte for byte as JSONEncoder (`.sortedKeys`,
/// `.withoutEscapingSlashes`) encodes it.
public protocol JSONWritable {
    func write(to json: inout JSONWriter)
}

/// Appends one JSON document to `bytes`. Objects are written by `beginObject`, a `field` (or a
/// `key` and a value) per member in ascending key order, and `endObject`; absent optionals are
/// left out, as the synthesized `Encodable` leaves them out.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next key or array element needs a comma before it.
    private var separate = false

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// The document written by `value`.
    public static func bytes(of value: some JSONWritable) -> [UInt8] {
        var json = JSONWriter()
        value.write(to: &json)
        return json.bytes
    }

    public mutating func beginObject() { open(UInt8(ascii: "{")) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { open(UInt8(ascii: "[")) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    /// The key of the next value; `name` must need no escaping (the fields' own names).
    public mutating func key(_ name: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        separate = false
    }

    /// One member: `key` and `value`.
    public mutating func field(_ key: StaticString, _ value: some JSONWritable) {
        self.key(key)
        value.write(to: &self)
    }

    /// One member when `value` is present; nothing when it is nil.
    public mutating func field(_ key: StaticString, _ value: (some JSONWritable)?) {
        guard let value else { return }
        field(key, value)
    }

    public mutating func value(_ number: Int) { scalar(String(number).utf8) }
    public mutating func value(_ number: UInt64) { scalar(String(number).utf8) }
    public mutating func value(_ flag: Bool) { scalar((flag ? "true" : "false").utf8) }

    /// A finite number as JSONEncoder writes it: Swift's shortest round-trip spelling, without
    /// a trailing `.0` (`3`, `0.05`, `1e-05`, `1e+20`).
    public mutating func value(_ number: Double) {
        precondition(number.isFinite, "JSON has no \(number)")
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        scalar(text.utf8)
    }

    /// A string literal: `"` and `\` escaped, `\b \f \n \r \t` by name, other control characters
    /// as `\u00xx`, everything else (slashes and non-ASCII text included) as it is.
    public mutating func value(_ text: String) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        // Most strings (keys, kinds, hashes, worker names) need no escape: appended whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "\""))
            separate = true
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        separate = true
    }

    private mutating func scalar(_ text: String.UTF8View) {
        comma()
        bytes.append(contentsOf: text)
        separate = true
    }

    private mutating func open(_ bracket: UInt8) {
        comma()
        bytes.append(bracket)
        separate = false
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        separate = true
    }

    private mutating func comma() {
        if separate { bytes.append(UInt8(ascii: ",")) }
    }
}

extension Int: JSONWritable { public func write(to json: inout JSONWriter) { json.value(self) } }
extension UInt64: JSONWritable { public func write(to json: inout JSONWriter) { json.value(self) } }
extension Double: JSONWritable { public func write(to json: inout JSONWriter) { json.value(self) } }
extension Bool: JSONWritable { public func write(to json: inout JSONWriter) { json.value(self) } }
extension String: JSONWritable { public func write(to json: inout JSONWriter) { json.value(self) } }

extension Array: JSONWritable where Element: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginArray()
        for element in self { element.write(to: &json) }
        json.endArray()
    }
}

/// A string enum writes its raw value, as its synthesized `Encodable` does.
extension JSONWritable where Self: RawRepresentable, RawValue == String {
    public func write(to json: inout JSONWriter) { json.value(rawValue) }
}
