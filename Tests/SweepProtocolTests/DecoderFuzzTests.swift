import Cell
import Foundation
import Testing
@testable import SweepProtocol

/// Seeded fuzzing of the decoder: random frame lists, byte-level mutations of valid messages and
/// field-level mutations of valid bodies. The decoder must never trap (a trap ends the test run),
/// and whatever it accepts must be a valid message: it re-encodes (the encoder re-checks every
/// field) and decodes to the same value.
@Suite("Decoder fuzzing")
struct DecoderFuzzTests {
    struct Tally {
        var accepted = 0
        var refused: [ProtocolError.Kind: Int] = [:]
        var summary: String {
            refused.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
        }
    }

    /// Decodes `frames`; if accepted, checks that the message is valid and stable.
    private func feed(_ frames: [[UInt8]], _ tally: inout Tally) {
        do {
            let message = try Message.decode(frames)
            tally.accepted += 1
            do {
                let again = try message.encode()
                #expect(try Message.decode(again) == message)
            } catch {
                Issue.record("accepted a message that does not re-encode: \(error)\n\(frames.map { printable($0) })")
            }
        } catch {
            tally.refused[error.kind, default: 0] += 1
        }
        // The batch reader, which is what reads the wire, must not trap either, and must keep
        // what it accepts.
        do {
            let messages = try Message.decodeBatch(frames)
            if let again = Message.encode(batch: messages, refused: { message, error in
                Issue.record("accepted a batch whose \(message.command) does not re-encode: \(error)")
            }) {
                #expect(try Message.decodeBatch(again.frames) == messages)
            }
        } catch {}
    }

    private static let samples: [[[UInt8]]] = Fixtures.all.compactMap { try? $0.encode() }

    private func randomBytes(_ rng: inout SplitMix64, _ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    @Test("random frame lists are all refused")
    func randomFrames() {
        var rng = SplitMix64(seed: 1)
        var tally = Tally()
        let commands = Command.allCases.map { Array($0.rawValue.utf8) }
        for i in 0..<4_000 {
            var frames = (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                randomBytes(&rng, Int.random(in: 0...48, using: &rng))
            }
            // Half with a valid tag and command, so the body parser is reached.
            if i % 2 == 0 && frames.count >= 3 {
                frames[0] = Array("TSW6".utf8)
                frames[1] = commands[Int.random(in: 0..<commands.count, using: &rng)]
            }
            feed(frames, &tally)
        }
        #expect(tally.accepted == 0)
        #expect(tally.refused.values.reduce(0, +) == 4_000)
    }

    @Test("byte-level mutations of valid messages never crash and are never accepted invalid")
    func byteMutations() {
        var rng = SplitMix64(seed: 2)
        var tally = Tally()
        for _ in 0..<6_000 {
            var frames = Self.samples[Int.random(in: 0..<Self.samples.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                mutate(&frames, &rng)
            }
            feed(frames, &tally)
        }
        print("byte mutations: \(tally.accepted) accepted (still valid), refused by kind: \(tally.summary)")
        #expect(tally.refused.values.reduce(0, +) > 5_000, "\(tally)")
        #expect(tally.refused.count >= 8, "\(tally.refused)")
    }

    @Test("field-level mutations of valid bodies never crash and are never accepted invalid")
    func fieldMutations() throws {
        var rng = SplitMix64(seed: 3)
        var tally = Tally()
        let weird: [Any] = [NSNull(), -1, 0, 1, Int.max, Int64.min, 1.5, -0.0, 1e300, "", "x", String(repeating: "y", count: 5_000),
                            true, [Any](), [1, 2], [String: Any](), ["jobId": 1], "warm-start", "0123456789abcdef", "\u{1}"]
        for _ in 0..<4_000 {
            let message = Fixtures.all[Int.random(in: 0..<Fixtures.all.count, using: &rng)]
            var body = try Fixtures.bodyObject(message)
            mutateObject(&body, weird, &rng, depth: 0)
            let frames = try Fixtures.withBody(message, body)
            feed(frames, &tally)
        }
        print("field mutations: \(tally.accepted) accepted (still valid), refused by kind: \(tally.summary)")
        #expect(tally.refused.values.reduce(0, +) > 2_000, "\(tally)")
    }

    private func mutate(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) {
        let op = Int.random(in: 0..<9, using: &rng)
        if frames.isEmpty {
            frames.append(randomBytes(&rng, 4))
            return
        }
        // Half of the mutations hit the body, where most of the decoder's checks are.
        let f = frames.count > 2 && Bool.random(using: &rng) ? 2 : Int.random(in: 0..<frames.count, using: &rng)
        switch op {
        case 0 where !frames[f].isEmpty:  // flip one bit
            let i = Int.random(in: 0..<frames[f].count, using: &rng)
            frames[f][i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
        case 1 where !frames[f].isEmpty:  // set a byte to something JSON-significant or invalid
            let i = Int.random(in: 0..<frames[f].count, using: &rng)
            frames[f][i] = Array("{}[]\":,-0123456789.eENaIfnul \u{0}".utf8).randomElement(using: &rng) ?? 0xFF
        case 2:  // truncate
            frames[f] = Array(frames[f].prefix(Int.random(in: 0...frames[f].count, using: &rng)))
        case 3:  // insert bytes
            let i = Int.random(in: 0...frames[f].count, using: &rng)
            frames[f].insert(contentsOf: randomBytes(&rng, Int.random(in: 1...4, using: &rng)), at: i)
        case 4:  // drop a frame
            frames.remove(at: f)
        case 5:  // duplicate a frame
            frames.insert(frames[f], at: f)
        case 6:  // swap two frames
            frames.swapAt(f, Int.random(in: 0..<frames.count, using: &rng))
        case 7:  // replace a digit run by an extreme number
            let text = String(decoding: frames[f], as: UTF8.self)
            let replacement = ["-1", "0", "1e999", "99999999999999999999999", "NaN", "-0", "1.5"].randomElement(using: &rng) ?? "0"
            if let range = text.range(of: "[0-9]+", options: .regularExpression) {
                frames[f] = Array(text.replacingCharacters(in: range, with: replacement).utf8)
            }
        default:  // append garbage frame
            frames.append(randomBytes(&rng, Int.random(in: 0...16, using: &rng)))
        }
    }

    /// Replaces, deletes or adds one field somewhere in `object`.
    private func mutateObject(_ object: inout [String: Any], _ weird: [Any], _ rng: inout SplitMix64, depth: Int) {
        let keys = object.keys.sorted()
        let op = Int.random(in: 0..<4, using: &rng)
        if op == 0 || keys.isEmpty {
            object["extra\(Int.random(in: 0..<3, using: &rng))"] = weird.randomElement(using: &rng) ?? 0
            return
        }
        let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
        if op == 1 {
            object[key] = nil
        } else if var nested = object[key] as? [String: Any], depth < 3, op == 2 {
            mutateObject(&nested, weird, &rng, depth: depth + 1)
            object[key] = nested
        } else if var list = object[key] as? [[String: Any]], !list.isEmpty, depth < 3, op == 2 {
            let i = Int.random(in: 0..<list.count, using: &rng)
            mutateObject(&list[i], weird, &rng, depth: depth + 1)
            object[key] = list
        } else {
            object[key] = weird.randomElement(using: &rng) ?? 0
        }
    }
}
