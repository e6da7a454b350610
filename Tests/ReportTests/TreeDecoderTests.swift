// The fast JSON reader decodes what Foundation's JSONDecoder decodes, to the same values, and
// refuses what it refuses.
import Foundation
import Testing
import Thermometer
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
