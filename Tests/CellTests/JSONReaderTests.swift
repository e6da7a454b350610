// The one JSON reader decodes what Foundation's JSONDecoder decodes, to the same values, refuses
// what it refuses, and refuses more where RFC 8259 or strict reading asks.
import Cell
import Foundation
import Testing

@Suite struct JSONReaderTests {
    /// Re-encoded with sorted keys, both decodings give the same bytes.
    func same<T: Codable>(_ type: T.Type, _ json: String) throws {
        let bytes = Array(json.utf8)
        let reference = try JSONDecoder().decode(T.self, from: Data(bytes))
        let fast = try JSONReader.decode(T.self, from: bytes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(reference) == encoder.encode(fast))
    }

    struct Sample: Codable, Equatable {
        var text: String
        var list: [Double?]
        var big: UInt64
        var negative: Int
        var flag: Bool
        var nested: [String: [Int]]
        var missing: Double?
    }

    @Test func stringsNumbersAndNestingMatch() throws {
        try same(Sample.self, #"""
            { "text": "tab\t quote\" slash\/ back\\ é \u00e9 \ud83d\ude00 \n", "list": [1, -0.0, 2.5e-7, 1E+3, null, 123456789012345678901234],
              "big": 18446744073709551615, "negative": -42, "flag": false, "nested": {"a": [1, 2], "b": []} }
            """#)
        let s = try JSONReader.decode(Sample.self, from: Array(#"{"text":"x","list":[0.1],"big":7,"negative":0,"flag":true,"nested":{},"missing":null}"#.utf8))
        #expect(s.list == [0.1] && s.big == 7 && s.missing == nil)
    }

    @Test func numbersReadBackBitForBit() throws {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 1, 0.1, 1e-5, 7.480877431130349e-05, 0.0027537699402002897, 9007199254740993,
                                1e22, 1e23, 2.2250738585072014e-308, 5e-324, 1.7976931348623157e308, 123456789012345678]
        for _ in 0..<20_000 {
            let bits = UInt64.random(in: 0...UInt64.max, using: &rng)
            let d = Double(bitPattern: bits)
            if d.isFinite { values.append(d) }
            values.append(Double.random(in: -1e3...1e3, using: &rng))
            values.append(Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 1000)
        }
        for v in values {
            for text in [v.description, String(format: "%.17g", v), String(format: "%.6e", v)] {
                let parsed = try JSONReader.decode([Double].self, from: Array("[\(text)]".utf8))
                let expected = try #require(Double(text))
                #expect(parsed[0].bitPattern == expected.bitPattern, "\(text) read as \(parsed[0])")
            }
        }
    }

    @Test func malformedInputIsRefused() {
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"abc", "[1 2]", "{\"a\" 1}", "nul", "[1]x",
                    "\"\\ud800\"", "\"\\q\"", "\"a\u{01}\""] {
            #expect(throws: (any Error).self, "accepted \(bad)") { _ = try JSONReader.decode([Int].self, from: Array(bad.utf8)) }
        }
        // Type errors: a string for a number, a fraction for an integer, null for a non-optional.
        #expect(throws: DecodingError.self) { _ = try JSONReader.decode([Int].self, from: Array("[\"1\"]".utf8)) }
        #expect(throws: DecodingError.self) { _ = try JSONReader.decode([Int].self, from: Array("[1.5]".utf8)) }
        #expect(throws: DecodingError.self) { _ = try JSONReader.decode([Int].self, from: Array("[null]".utf8)) }
        #expect(throws: DecodingError.self) { _ = try JSONReader.decode(Sample.self, from: Array("{}".utf8)) }
    }

    struct Inner: Codable { var x: Int }
    struct Outer: Codable { var inner: [Inner]; var name: String? }

    @Test func strictReadingNamesUnknownKeysAtAnyDepth() throws {
        let bytes = Array(#"{"inner":[{"x":1},{"x":2,"y":3}],"name":"n"}"#.utf8)
        // Plain reading ignores the extra key, as JSONDecoder does.
        #expect(try JSONReader.decode(Outer.self, from: bytes).inner.map(\.x) == [1, 2])
        let error = try #require(throws: JSONUnknownKeyError.self) { try JSONReader.decode(Outer.self, from: bytes, strict: true) }
        #expect(error.field == "inner[1].y")
        let top = try #require(throws: JSONUnknownKeyError.self) {
            try JSONReader.decode(Outer.self, from: Array(#"{"inner":[],"nmae":"n"}"#.utf8), strict: true)
        }
        #expect(top.field == "nmae")
        // A dictionary has no fixed keys: none of its keys is unknown.
        #expect(try JSONReader.decode([String: Int].self, from: Array(#"{"a":1,"b":2}"#.utf8), strict: true) == ["a": 1, "b": 2])
    }

    @Test func aKeyTwiceInOneObjectIsRefusedNamingIt() throws {
        let small = try #require(throws: JSONParseError.self) { try JSONValue.parse(Array(#"{"a":1,"b":{"c":1,"c":2}}"#.utf8)) }
        #expect(small.duplicateKey == "c")
        // Past 16 keys the check keeps a set; the same key in sibling objects is no duplicate.
        let keys = (0..<40).map { "\"k\($0)\":\($0)" }
        let large = try #require(throws: JSONParseError.self) {
            try JSONValue.parse(Array(("{" + (keys + ["\"k7\":0"]).joined(separator: ",") + "}").utf8))
        }
        #expect(large.duplicateKey == "k7")
        let siblings = "[{" + keys.joined(separator: ",") + "},{" + keys.joined(separator: ",") + "}]"
        #expect(throws: Never.self) { try JSONValue.parse(Array(siblings.utf8)) }
    }

    @Test func numbersThatDoNotFitTheirFieldAreNamed() throws {
        for (json, field) in [(#"{"inner":[{"x":1.5}]}"#, "inner[0].x"), (#"{"inner":[{"x":99999999999999999999}]}"#, "inner[0].x")] {
            let error = try #require(throws: DecodingError.self) { try JSONReader.decode(Outer.self, from: Array(json.utf8)) }
            guard case .dataCorrupted(let context) = error else { Issue.record("\(error)"); continue }
            #expect(JSONReader.path(context.codingPath) == field)
        }
        // Beyond Double's range: JSON allows it, a Double cannot hold it.
        let huge = try #require(throws: DecodingError.self) { try JSONReader.decode([Double].self, from: Array("[1e400]".utf8)) }
        guard case .dataCorrupted(let context) = huge else { Issue.record("\(huge)"); return }
        #expect(JSONReader.path(context.codingPath) == "[0]")
        #expect(throws: DecodingError.self) { try JSONReader.decode([Float].self, from: Array("[1e39]".utf8)) }
    }

    /// The string literal writer gives JSONEncoder's bytes (slashes as they are) for every ASCII
    /// character and for characters past it.
    @Test func stringLiteralsAreJSONEncodersBytes() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let texts = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
            + ["", "trivial/lr=0.05/b=32/seed=1", #"a "quoted" \ key"#, "\u{7F}\u{2028}η😀\u{FEFF}", "tab\tline\n\u{1}\u{1F}"]
        for text in texts {
            #expect(JSONValue.stringLiteral(text) == String(decoding: try encoder.encode(text), as: UTF8.self),
                    "\(Array(text.unicodeScalars.map(\.value)))")
        }
    }

    /// What a parse gives: its error, or the top level's keys and scalars (containers by key only).
    private func outcome(_ parse: ([UInt8]) throws(JSONParseError) -> JSONValue, _ bytes: [UInt8]) -> String {
        do {
            guard case .object(let pairs) = try parse(bytes) else { return "not an object" }
            return pairs.map { key, value -> String in
                switch value {
                case .object, .array, .null: return key  // built by one, not the other
                default: return "\(key)=\(value)"
                }
            }.joined(separator: ",")
        } catch {
            return "\(error)"
        }
    }

    /// `parseTopLevel` refuses exactly what `parse` refuses, at the same byte and for the same
    /// reason, and reads the same top-level scalars: over a document with every kind of value and
    /// escape, nested, and 3,000 one-byte mutations of it.
    @Test func theTopLevelIsCheckedAsTheWholeIs() throws {
        let document = Array(#"""
            {"format": "thermosweep-cell/1", "n": -12, "x": 2.5e-7, "big": 18446744073709551615, "t": true, "z": null,
             "s": "tab\t é \u00e9 \ud83d\ude00", "list": [1, -0.0, [2, {"k": "v\"q", "k2": [null, false]}], "w"],
             "obj": {"a": {"b": [1.5, "c\n", {"d": {}}], "e": []}, "f": "g"}, "empty": {}, "last": "end"}
            """#.utf8)
        var rng = SeededRNG(seed: 52_944)
        let alphabet = Array(#"{}[]",:\"u0123456789abcdefnrt-+.eE tfl"#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
        var refused = 0
        for round in 0..<3_001 {
            var bytes = document
            if round > 0 {
                let at = rng.int(below: bytes.count)
                switch rng.int(below: 3) {
                case 0: bytes[at] = alphabet[rng.int(below: alphabet.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[rng.int(below: alphabet.count)], at: at)
                }
            }
            let whole = outcome(JSONValue.parse, bytes), top = outcome(JSONValue.parseTopLevel, bytes)
            #expect(whole == top, "\(String(decoding: bytes, as: UTF8.self))")
            if whole.hasPrefix("invalid JSON") { refused += 1 }
        }
        #expect(refused > 1_000, "the mutations should break most documents: \(refused)")
        #expect(outcome(JSONValue.parseTopLevel, document).contains("format=string(\"thermosweep-cell/1\")"))
        // Below the top level: a key twice among more than 16 (checked through a set), the same key
        // spelled with an escape, nesting past the limit, and an end inside an unbuilt container.
        let many = (0..<20).map { "\"k\($0)\": \($0)" }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        // The limit reached by a member's value after a space: refused at the same byte.
        let limit = #"{"a":"# + String(repeating: "[", count: 510) + #"{"b": 1}"# + String(repeating: "]", count: 510) + "}"
        let limitInArray = #"{"a":"# + String(repeating: "[", count: 511) + " 1" + String(repeating: "]", count: 511) + "}"
        for text in [#"{"a": {"# + many.joined(separator: ", ") + #", "k3": 0}}"#,
                     #"{"a": {"# + many.joined(separator: ", ") + #"}, "b": {"# + many.joined(separator: ", ") + "}}",
                     #"{"a": {"x": 1, "\u0078": 2}}"#, #"{"a": "# + deep + "}", #"{"a": [["# + deep + "]]}",
                     #"{"a": {"b": [1, 2"#, #"{"a": {"b": "#, #"{"a": [{"b": 1}, {"b": 2, "b": 3}]}"#, limit, limitInArray] {
            let bytes = Array(text.utf8)
            #expect(outcome(JSONValue.parse, bytes) == outcome(JSONValue.parseTopLevel, bytes), "\(text.prefix(80))")
        }
    }

    /// Numbers below the top level are checked eight digits at a time: every digit count up to 40,
    /// with a fraction and an exponent, followed by each byte around the digits' range (and bytes
    /// past ASCII), and cut at every length, are refused or accepted at the same byte as `parse`.
    @Test func unbuiltNumbersAreCheckedAsBuiltOnes() {
        let neighbours: [UInt8] = [0x2F, 0x3A, 0x2E, 0x65, 0x45, 0x2C, 0x5D, 0x20, 0x00, 0x80, 0xB0, 0xFF]
        var checked = 0
        for digits in 1...40 {
            let run = (0..<digits).map { UInt8(0x30 + ($0 * 7 + 1) % 10) }
            for number in [run, run + Array(".".utf8) + run, [0x2D] + run + Array("e-".utf8) + run] {
                for next in neighbours {
                    let document = Array(#"{"a":{"b":["#.utf8) + number + [next] + Array("]}}".utf8)
                    for length in stride(from: document.count, through: 10, by: -7) {
                        let bytes = Array(document.prefix(length))
                        #expect(outcome(JSONValue.parse, bytes) == outcome(JSONValue.parseTopLevel, bytes),
                                "\(String(decoding: bytes, as: UTF8.self))")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 5_000)
    }

    /// A number that ends the document is read whole, also where it needs strtod (more than 19
    /// digits, or a mantissa past 2^53): nothing past the buffer is read.
    @Test func aNumberAtTheEndIsReadWhole() throws {
        for text in ["0.12345678901234567891", "-98765432109876543210.5", "1.7976931348623157e308", "5e-324",
                     "0.30000000000000004", "123456789012345678901234567890"] {
            let value = try JSONValue.parse(Array(text.utf8))
            #expect(value.double == Double(text), "\(text)")
        }
    }
}
