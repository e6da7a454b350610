import Cell
import Foundation
@testable import SweepProtocol
import Testing

/// The bodies read per job read themselves (`ObjectReader`); they must take what the strict
/// `Decodable` reader takes, as the same value, and refuse what it refuses, with the same kind and
/// field. Checked on every fixture of those commands and on every mutation below of each.
@Suite struct BodyReaderTests {
    /// The outcome of one reader: the value, or the refusal's kind and field.
    enum Outcome<T: Equatable>: Equatable {
        case value(T)
        case refused(ProtocolError.Kind, String?)
    }

    static func outcome<T: Equatable>(_ read: () throws -> T) -> Outcome<T> {
        do { return .value(try read()) } catch {
            let refusal = Message.protocolError(error, command: nil)
            return .refused(refusal.kind, refusal.field)
        }
    }

    /// Both readers on `bytes`; the number of refusals, so that a test can say it saw some.
    @discardableResult
    static func expectSame<T: MessageBody & ObjectReadable & Equatable>(_ type: T.Type, _ bytes: [UInt8],
                                                                         sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let reference = outcome { try JSONReader.decode(T.self, from: bytes, strict: true) }
        let own = outcome { try T.read(try JSONValue.parse(bytes)) }
        #expect(own == reference, "\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        if case .refused = reference { return true }
        return false
    }

    /// Values that each field is set to in turn: of every JSON type, fractions, out of range.
    nonisolated(unsafe) static let replacements: [Any] = [NSNull(), "x", "", 1, 0, -1, 1.5, 2.0, 1e300, Double(Int64.max) * 4, true,
                                      [Any](), [String: Any](), ["jobId": 1], "measure", "done", "shuffle", "expired"]

    /// `object` changed in every way this test tries: each key removed, set to each replacement,
    /// and an unknown key added; the same inside each object of an array field.
    static func mutations(_ object: [String: Any]) -> [[String: Any]] {
        var all: [[String: Any]] = []
        for key in object.keys {
            var removed = object
            removed[key] = nil
            all.append(removed)
            for value in replacements {
                var changed = object
                changed[key] = value
                all.append(changed)
            }
            if let items = object[key] as? [[String: Any]] {
                for (i, item) in items.enumerated() {
                    for inner in mutations(item) {
                        var changed = object, list = items
                        list[i] = inner
                        changed[key] = list
                        all.append(changed)
                    }
                }
            }
        }
        var unknown = object
        unknown["atempt"] = 1
        all.append(unknown)
        return all
    }

    static func bytes(_ object: Any) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]))
    }

    static func check<T: MessageBody & ObjectReadable & Equatable>(_ type: T.Type, _ body: [UInt8]) throws -> (Int, Int) {
        var checked = 0, refused = 0
        if expectSame(T.self, body) { refused += 1 }
        checked += 1
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        for mutation in mutations(object) {
            if expectSame(T.self, try bytes(mutation)) { refused += 1 }
            checked += 1
        }
        for other in ["[]", "1", "\"x\"", "null", "{}", "[{}]"] {
            if expectSame(T.self, Array(other.utf8)) { refused += 1 }
            checked += 1
        }
        return (checked, refused)
    }

    @Test func everyFixtureAndItsMutationsReadAlike() throws {
        var checked = 0, refused = 0
        for message in Fixtures.all + [.heartbeat(Heartbeat(jobs: [JobProgress(jobId: 1, attempt: 1, step: 0, totalSteps: 1)]))] {
            let body = try message.encode()[2]
            let counts: (Int, Int)
            switch message {
            case .job: counts = try Self.check(JobLease.self, body)
            case .result: counts = try Self.check(JobResult.self, body)
            case .ack: counts = try Self.check(JobRef.self, body)
            case .cancel: counts = try Self.check(Cancel.self, body)
            case .heartbeat: counts = try Self.check(Heartbeat.self, body)
            default: continue
            }
            checked += counts.0
            refused += counts.1
        }
        // Most mutations are refusals, and some are not (2.0 for an integer, a known optional
        // field removed): both sides of the comparison are exercised.
        #expect(checked > 1_500 && refused > 1_000 && checked - refused > 100, "\(checked) checked, \(refused) refused")
    }
}
