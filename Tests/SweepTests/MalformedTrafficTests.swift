import Cell
import Foundation
import Store
import SweepProtocol
import Testing
import ZeroMQ

extension FailureTests.Recovery {
    /// RELIABILITY.md test 6: garbage from raw ZeroMQ clients never crashes the coordinator and never
    /// writes to its database.
    @Suite struct MalformedTrafficTests {
        static let jobs = 12
        static let grid = ["--trivial-ms", "0", "--lr", "0.1,0.2,0.3", "--batch", "8,16", "--seeds", "2"]

        /// `message`'s frames with the JSON body passed through `edit`.
        private func edited(_ message: Message, _ edit: (String) -> String) throws -> [[UInt8]] {
            var frames = try message.encode()
            frames[2] = Array(edit(String(decoding: frames[2], as: UTF8.self)).utf8)
            return frames
        }

        /// Replaces the value of `"key":` (a number) in a compact JSON body with `value`.
        private func number(_ key: String, _ value: String) -> (String) -> String {
            { body in
                guard let range = body.range(of: "\"\(key)\":") else { return body }
                let rest = body[range.upperBound...]
                let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
                return body.replacingCharacters(in: range.upperBound..<end, with: value)
            }
        }

        @Test func garbageLeavesTheCoordinatorUpAndTheDatabaseUntouched() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let sweep = try SweepProcess(Self.grid, in: scratch)
            defer { sweep.process.kill9() }
            let before = try DatabaseSnapshot(sweep.db)
            #expect(before.jobs.count == Self.jobs)

            let peer = try RawPeer(sweep.endpoint, name: "garbage")
            let ready = peer.ready()
            let result = trivialResult(JobRef(jobId: 1, attempt: 1))
            let beat = Message.heartbeat(Heartbeat(jobs: [JobProgress(jobId: 1, attempt: 1, step: 3, totalSteps: 10)]))

            // Each case, sent alone, is answered ERROR malformed (naming why), or REFUSE malformed
            // when it is a READY of this protocol, and admits no one.
            let valid = try ready.encode()
            let cases: [(String, [[UInt8]])] = [
                ("truncated JSON", [valid[0], valid[1], Array(valid[2].prefix(valid[2].count / 2))]),
                ("empty body", [valid[0], valid[1], []]),
                ("wrong version TSW0", [Array("TSW0".utf8)] + valid.dropFirst()),
                ("wrong version TSW1", [Array("TSW1".utf8)] + valid.dropFirst()),
                ("empty version", [[]] + valid.dropFirst()),
                ("unknown command", [valid[0], Array("FOO".utf8), Array("{}".utf8)]),
                ("lower-case command", [valid[0], Array("ready".utf8), valid[2]]),
                ("too few frames", [valid[0], valid[1]]),
                ("one frame", [valid[0]]),
                ("extra frame", valid + [Array("attachment".utf8)]),
                ("NaN in READY.cores", try edited(ready, number("cores", "NaN"))),
                ("Infinity in READY.slots", try edited(ready, number("slots", "Infinity"))),
                ("1e999 in READY.pid", try edited(ready, number("pid", "1e999"))),
                ("fraction in READY.slots", try edited(ready, number("slots", "1.5"))),
                ("NaN in RESULT.wallSeconds", try edited(result, number("wallSeconds", "NaN"))),
                ("NaN in HEARTBEAT step", try edited(beat, number("step", "NaN"))),
                ("unknown field", try edited(ready) { "{\"extra\":1," + $0.dropFirst() }),
                ("duplicate key", try edited(ready) { "{\"slots\":4," + $0.dropFirst() }),
                ("trailing comma", try edited(ready) { $0.dropLast() + ",}" }),
                ("byte-order mark", try edited(ready) { "\u{FEFF}" + $0 }),
                ("bad UTF-8", [valid[0], valid[1], valid[2] + [0xff, 0xfe]]),
                ("body above 1 MiB", [valid[0], Array("STATUS".utf8), Array(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)]),
                ("RESULT hash mismatch", try {
                    var frames = try result.encode()
                    frames[3][frames[3].count - 2] ^= 1
                    return frames
                }()),
            ]
            var refusedReadies = 0
            for (name, frames) in cases {
                #expect(try peer.sendRaw(frames), "\(name) not queued")
                let reply = try peer.receive(within: .seconds(10)) { $0 }
                if frames.count > 1 && frames[0] == Array(Wire.versionTag.utf8) && frames[1] == Array("READY".utf8) {
                    guard case .refuse(let refuse) = reply else {
                        Issue.record("\(name): expected REFUSE malformed, got \(String(describing: reply))")
                        continue
                    }
                    #expect(refuse.reason == .malformed && refuse.message.hasPrefix("READY refused: "), "\(name): \(refuse)")
                    refusedReadies += 1
                    continue
                }
                guard case .error(let error) = reply else {
                    Issue.record("\(name): expected ERROR malformed, got \(String(describing: reply))")
                    continue
                }
                #expect(error.code == .malformed, "\(name): \(error)")
            }
            #expect(refusedReadies == 13)

            // Well-formed but unwelcome: a READY of another version is refused; worker-bound
            // commands and a RESULT from a peer never admitted are answered, not acted on.
            try peer.send(peer.ready(version: "0.0.0 (another build)"))
            #expect(try peer.receive(asRefuse)?.reason == .version)
            try peer.send(result)
            #expect(try peer.receive(asError)?.code == .unknownPeer)
            try peer.send(.ack(JobRef(jobId: 1, attempt: 1)))
            #expect(try peer.receive(asError) != nil)

            // Seeded random traffic: pure noise, and valid messages with bytes flipped, cut or doubled.
            // READY carries a wrong version, so a mutation that stays valid is refused, not admitted.
            var rng = SplitMix64(seed: 20_261_129)
            let templates = try [peer.ready(version: "0.0.0 (fuzz)"), result, beat, .status(StatusRequest()),
                                 .bye(Bye(reason: "fuzz")), .error(ErrorReply(code: .malformed, message: "fuzz"))]
                .map { try $0.encode() }
            let commands = Command.allCases.map { Array($0.rawValue.utf8) }
            for _ in 0..<600 {
                var frames: [[UInt8]]
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    frames = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                        (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    }
                case 1:
                    frames = [valid[0], commands.randomElement(using: &rng) ?? [],
                              (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }]
                default:
                    frames = templates.randomElement(using: &rng) ?? valid
                    let f = Int.random(in: 0..<frames.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0 where !frames[f].isEmpty:
                        for _ in 0..<Int.random(in: 1...4, using: &rng) {
                            frames[f][Int.random(in: 0..<frames[f].count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                        }
                    case 1: frames[f] = Array(frames[f].prefix(Int.random(in: 0...frames[f].count, using: &rng)))
                    default: frames.insert(frames[f], at: f)
                    }
                }
                _ = try peer.sendRaw(frames)
                try peer.drain()
            }

            // A frame above the coordinator's ZMQ_MAXMSGSIZE cuts that sender off inside libzmq.
            let huge = try RawPeer(sweep.endpoint, name: "huge")
            let limit = Wire.maxCheckpointSize + Wire.maxBodySize
            #expect(try huge.sendRaw([valid[0], Array("RESULT".utf8), Array(repeating: 0x7b, count: limit + 1)]))
            #expect(try huge.receiveFrames(within: .seconds(3)) == nil)

            // Still serving: the garbage peer and a fresh one get STATUS; nobody was admitted.
            #expect(sweep.process.isRunning, "the coordinator died: \(sweep.process.stderr)")
            try peer.drain()
            let status = try #require(try peer.status(within: .seconds(10)))
            #expect(status.counts.total == Self.jobs && status.counts.queued == Self.jobs && status.counts.done == 0)
            #expect(status.workers.isEmpty)
            let fresh = try RawPeer(sweep.endpoint, name: "fresh")
            #expect(try fresh.status(within: .seconds(10))?.counts.total == Self.jobs)

            // The database: exactly as before.
            #expect(try DatabaseSnapshot(sweep.db) == before)
            // Each refusal is answered; the log takes at most 20 lines per 10 s of them (not ≈ 700).
            let logged = sweep.logLines(containing: "malformed message from").count
            #expect(logged >= 20 && logged <= 20 * 3, "\(logged) malformed-message lines")
            #expect(sweep.logLines(containing: "admitted").isEmpty)
            sweep.process.signal(SIGTERM)
            #expect(sweep.process.wait(timeout: 15) == 130)
            #expect(try DatabaseSnapshot(sweep.db) == before)
        }
    }
}
