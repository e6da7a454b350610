import Cell
import Testing

@Suite("UTF-8 check")
struct UTF8CheckTests {
    private func reference(_ bytes: [UInt8]) -> Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// Every sequence of one and two bytes, and three-byte sequences past ASCII with every second
    /// byte and a third at each edge of the continuation range, are judged as
    /// `String(validating:)` judges them.
    @Test func agreesWithTheStandardLibraryOnEveryShortSequence() {
        var disagreements: [[UInt8]] = []
        for a in 0...255 {
            let one = [UInt8(a)]
            if UTF8Check.isValid(one) != reference(one) { disagreements.append(one) }
            for b in 0...255 {
                let two = [UInt8(a), UInt8(b)]
                if UTF8Check.isValid(two) != reference(two) { disagreements.append(two) }
                guard a >= 0xC0 else { continue }
                for c in [0x00, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF] {
                    let three = [UInt8(a), UInt8(b), UInt8(c)]
                    if UTF8Check.isValid(three) != reference(three) { disagreements.append(three) }
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    /// Four-byte sequences around every boundary of table 3-7, and long buffers: ASCII runs with a
    /// valid or broken sequence at every offset from an 8-byte boundary, cut at every length.
    @Test func agreesOnFourByteSequencesAndLongBuffers() {
        let edges: [UInt8] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
        for lead in UInt8(0xEE)...UInt8(0xFF) {
            for b in edges { for c in edges { for d in edges {
                let four = [lead, b, c, d]
                #expect(UTF8Check.isValid(four) == reference(four), "\(four)")
            } } }
        }
        let pieces: [[UInt8]] = [Array("é".utf8), Array("€".utf8), Array("😀".utf8), [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],
                                 [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xFF]]
        for piece in pieces {
            for offset in 0..<17 {
                let buffer = Array(repeating: UInt8(ascii: "a"), count: offset) + piece + Array(repeating: UInt8(ascii: "b"), count: 9)
                for length in 0...buffer.count {
                    let bytes = Array(buffer.prefix(length))
                    #expect(UTF8Check.isValid(bytes) == reference(bytes), "\(bytes)")
                }
            }
        }
    }
}
