// What every protocol body is checked with: the strict JSON reader (`JSONReader`, in Cell; for the
// bodies sent per job `ObjectReader`, which takes and refuses the same) refuses unknown and
// duplicate keys and numbers that do not fit their field; each body's `validate()` checks ranges
// with `Check`, and the encoder runs the same `validate()`.
import Cell
import Foundation

/// A field that fails a check (or the reader); the message decoder turns it into a
/// `ProtocolError` with the command filled in.
struct FieldFailure: Error {
    let kind: ProtocolError.Kind
    let field: String
    let detail: String
}

/// `a.b[2].c` from a coding path.
func fieldPath(_ path: [any CodingKey]) -> String { JSONReader.path(path) }

/// Range checks for `validate()`: each throws a `FieldFailure` naming the field and value.
enum Check {
    static func fail(_ field: String, _ detail: String) -> FieldFailure {
        FieldFailure(kind: .invalidValue, field: field, detail: detail)
    }

    static func int(_ value: Int, _ field: @autoclosure () -> String, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw fail(field(), "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    static func double(_ value: Double, _ field: @autoclosure () -> String, _ range: ClosedRange<Double>) throws {
        guard value.isFinite else { throw fail(field(), "\(value) is not a finite number") }
        guard range.contains(value) else {
            throw fail(field(), "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// A string of 1 (or 0 when `allowEmpty`) to `maxLength` bytes without control characters.
    static func string(_ value: String, _ field: @autoclosure () -> String, maxLength: Int = Wire.maxShortString,
                       allowEmpty: Bool = false) throws {
        guard allowEmpty || !value.isEmpty else { throw fail(field(), "is empty") }
        guard value.utf8.count <= maxLength else {
            throw fail(field(), "is \(value.utf8.count) bytes long; the limit is \(maxLength)")
        }
        if value.unicodeScalars.contains(where: Wire.isControl) {
            throw fail(field(), "contains a control character")
        }
    }

    static func list(_ count: Int, _ field: @autoclosure () -> String, max: Int = Wire.maxListCount) throws {
        guard count <= max else { throw fail(field(), "has \(count) entries; the limit is \(max)") }
    }

    /// 16 lowercase hex digits (an FNV-1a-64 hash).
    static func hash(_ value: String, _ field: @autoclosure () -> String) throws {
        guard value.utf8.count == 16, value.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw fail(field(), "'\(value.prefix(40))' is not 16 lowercase hex digits") }
    }

    /// An attachment's checksum (`AttachmentChecksum`).
    static func checksum(_ value: String, _ field: @autoclosure () -> String) throws {
        guard value.utf8.count == 8, value.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw fail(field(), "'\(value.prefix(40))' is not 8 lowercase hex digits") }
    }

    static func require(_ condition: Bool, _ field: @autoclosure () -> String, _ detail: @autoclosure () -> String) throws {
        if !condition { throw fail(field(), detail()) }
    }
}

/// A command's body: its JSON, its range checks, and the attachment frames it declares.
protocol MessageBody: Codable, Sendable {
    /// The command whose body this is.
    static var command: Command { get }
    /// Range checks, run by the encoder and the decoder alike.
    func validate() throws
    /// Frames that follow the body (the body declares their lengths and hashes).
    var attachmentCount: Int { get }
    /// The attachment frames this value carries.
    var attachments: [[UInt8]] { get }
    /// Takes the frames that followed the body, checking them against its declaration.
    mutating func attach(_ frames: ArraySlice<[UInt8]>) throws
    /// The body in `bytes`, read strictly (no unknown or duplicate keys, numbers that fit their
    /// fields); ranges are for `validate()`. By default through `Decodable`; the bodies sent per
    /// job read themselves (`ObjectReader`).
    static func read(_ bytes: [UInt8]) throws -> Self
    /// The body's JSON: `.sortedKeys`, `.withoutEscapingSlashes`. By default through `Encodable`;
    /// the bodies sent per job write themselves (`JSONWritable`), chosen here when the type
    /// conforms rather than by a cast of each message at run time.
    func json() throws -> [UInt8]
}

/// A body that reads itself from its parsed JSON (`ObjectReader`).
protocol ObjectReadable {
    static func read(_ body: JSONValue) throws -> Self
}

extension MessageBody {
    static func read(_ bytes: [UInt8]) throws -> Self { try JSONReader.decode(Self.self, from: bytes, strict: true) }
    func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }
    var attachmentCount: Int { 0 }
    var attachments: [[UInt8]] { [] }
    mutating func attach(_ frames: ArraySlice<[UInt8]>) throws {}
}

extension MessageBody where Self: ObjectReadable {
    static func read(_ bytes: [UInt8]) throws -> Self { try read(JSONValue.parse(bytes)) }
}

extension MessageBody where Self: JSONWritable {
    func json() -> [UInt8] { JSONWriter.bytes(of: self) }
}

extension JobLease: ObjectReadable {}
extension JobResult: ObjectReadable {}
extension JobRef: ObjectReadable {}
extension Heartbeat: ObjectReadable {}
extension Cancel: ObjectReadable {}
