// The fast JSON reader decodes what Foundation's JSONDecoder decodes, to the same values, and
// refuses what it refuses.
import Cell
import Foundation
import Testing
@testable import Report

@Suite struct TreeDecoderTests {
    /// Re-encoded with sorted keys, both decodings give the same bytes.
    func same<T: Codable>(_ type: T.Type, _ json: String) throws {
        let bytes = Array(json.utf8)
        let reference = try JSONDecoder().decode(T.self, from: Data(bytes))
        let fast = try TreeDecoder.decode(T.self, from: bytes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(reference) == encoder.encode(fast))
    }

    @Test func cellResultsDecodeAsWithJSONDecoder() throws {
        var sweep = SyntheticSweep()
        sweep.diverged = [SyntheticSweep.key(0.2, 8, 1)]
        sweep.nonStationary = [SyntheticSweep.key(0.1, 8, 1)]
        for (lr, b) in [(0.2, 8), (0.1, 8), (0.05, 32)] {
            try same(CellResult.self, sweep.cellJSON(lr: lr, batch: b, seed: 1, key: SyntheticSweep.key(lr, b, 1)))
        }
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
        let s = try TreeDecoder.decode(Sample.self, from: Array(#"{"text":"x","list":[0.1],"big":7,"negative":0,"flag":true,"nested":{},"missing":null}"#.utf8))
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
                let parsed = try TreeDecoder.decode([Double].self, from: Array("[\(text)]".utf8))
                let expected = try #require(Double(text))
                #expect(parsed[0].bitPattern == expected.bitPattern, "\(text) read as \(parsed[0])")
            }
        }
    }

    @Test func malformedInputIsRefused() {
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"abc", "[1 2]", "{\"a\" 1}", "nul", "[1]x",
                    "\"\\ud800\"", "\"\\q\"", "\"a\u{01}\""] {
            #expect(throws: (any Error).self, "accepted \(bad)") { _ = try TreeDecoder.decode([Int].self, from: Array(bad.utf8)) }
        }
        // Type errors: a string for a number, a fraction for an integer, null for a non-optional.
        #expect(throws: DecodingError.self) { _ = try TreeDecoder.decode([Int].self, from: Array("[\"1\"]".utf8)) }
        #expect(throws: DecodingError.self) { _ = try TreeDecoder.decode([Int].self, from: Array("[1.5]".utf8)) }
        #expect(throws: DecodingError.self) { _ = try TreeDecoder.decode([Int].self, from: Array("[null]".utf8)) }
        #expect(throws: DecodingError.self) { _ = try TreeDecoder.decode(Sample.self, from: Array("{}".utf8)) }
    }
}
