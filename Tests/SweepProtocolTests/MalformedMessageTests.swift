import Cell
import Foundation
import Testing
@testable import SweepProtocol

/// Every way a message can be wrong, and the typed error that names it.
@Suite("Malformed messages")
struct MalformedMessageTests {
    typealias Kind = ProtocolError.Kind

    private func expectRefused(_ frames: [[UInt8]], _ kind: Kind, field: String? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error = Fixtures.refusal(frames) else {
            Issue.record("accepted; expected \(kind)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
        #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
        // What arrives is read as a batch: that reader must refuse it too.
        #expect((try? Message.decodeBatch(frames)) == nil, "accepted as a batch", sourceLocation: sourceLocation)
    }

    private let ack = #"{"attempt":1,"jobId":1}"#

    @Test("too few frames")
    func tooFewFrames() {
        expectRefused([], .tooFewFrames)
        expectRefused([Array("TSW6".utf8)], .tooFewFrames)
        expectRefused([Array("TSW6".utf8), Array("ACK".utf8)], .tooFewFrames)
    }

    @Test("wrong protocol version, named in the error")
    func wrongVersion() {
        for tag in ["TSW1", "TSW2", "TSW3", "TSW4", "TSW5", "tsw6", "", "TSW6 ", "TSW"] {
            var frames = Fixtures.frames("ACK", ack)
            frames[0] = Array(tag.utf8)
            expectRefused(frames, .wrongVersion)
        }
        var frames = Fixtures.frames("ACK", ack)
        frames[0] = Array("TSW1".utf8)
        #expect(Fixtures.refusal(frames)?.description.contains("TSW1") == true)
        frames[0] = [0xFF, 0x00]
        #expect(Fixtures.refusal(frames)?.description.contains("\\xff\\x00") == true)
    }

    @Test("unknown command")
    func unknownCommand() {
        for command in ["ack", "ACK ", "FOO", "", "STATUS_REPLY"] {
            expectRefused(Fixtures.frames(command, ack), .unknownCommand)
        }
        var frames = Fixtures.frames("ACK", ack)
        frames[1] = [0x41, 0xC3]  // "A" and a truncated UTF-8 sequence
        expectRefused(frames, .unknownCommand)
    }

    @Test("wrong frame count for the command and body")
    func wrongFrameCount() throws {
        expectRefused(Fixtures.frames("ACK", ack, [[1]]), .wrongFrameCount)
        expectRefused(Fixtures.frames("HEARTBEAT", #"{"jobs":[]}"#, [[], []]), .wrongFrameCount)
        var measure = try Message.job(Fixtures.measureJob).encode()
        measure.removeLast()
        expectRefused(measure, .wrongFrameCount)
        var warm = try Message.job(Fixtures.warmJob).encode()
        warm.append(Fixtures.checkpoint)
        expectRefused(warm, .wrongFrameCount)
        var done = try Message.result(.done(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1, result: Fixtures.cellResult)).encode()
        done.removeLast()
        expectRefused(done, .wrongFrameCount)
        var warmDone = try Message.result(.done(jobId: 1, attempt: 1, kind: .warmStart, wallSeconds: 1,
                                                result: Fixtures.warmResult, checkpoint: [1, 2])).encode()
        warmDone.removeLast()
        expectRefused(warmDone, .wrongFrameCount)
        var failed = try Message.result(.failed(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1,
                                                errorKind: .transient, message: "x")).encode()
        failed.append([])
        expectRefused(failed, .wrongFrameCount)
    }

    @Test("oversized body")
    func oversized() {
        let padding = String(repeating: " ", count: Wire.maxBodySize)
        expectRefused(Fixtures.frames("ACK", ack + padding), .frameTooLarge)
        // Exactly at the limit is not refused for size.
        let atLimit = ack + String(repeating: " ", count: Wire.maxBodySize - ack.utf8.count)
        #expect(Fixtures.refusal(Fixtures.frames("ACK", atLimit)) == nil)
    }

    @Test("bad UTF-8 in the body or the result record")
    func badUTF8() throws {
        for bytes: [UInt8] in [[0xFF], [0x7B, 0xC0, 0xAF, 0x7D], [0x7B, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D]] {
            var frames = Fixtures.frames("ACK", "")
            frames[2] = bytes
            expectRefused(frames, .badUTF8)
        }
        let record: [UInt8] = [0x7B, 0xFF, 0x7D]
        var frames = try Message.result(.done(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1, result: Fixtures.cellResult)).encode()
        frames[3] = record
        frames[2] = try Fixtures.withBody(.ack(JobRef(jobId: 1, attempt: 1)), [
            "jobId": 1, "attempt": 1, "kind": "measure", "outcome": "done", "wallSeconds": 1,
            "resultBytes": record.count, "resultHash": AttachmentChecksum.hex(record),
        ])[2]
        expectRefused(frames, .badUTF8, field: "result")
    }

    @Test("bad or truncated JSON, NaN and Infinity literals, numbers out of Double range")
    func badJSON() throws {
        for body in ["", "{", "}", "[1]", "null", "1", "\"x\"", #"{"attempt":1,"jobId":1} x"#, #"{"attempt":1,"jobId":1,}"#,
                     "\u{FEFF}" + ack, #"{"attempt":1,"jobId":1,"x":[1,]}"#, #"{"a\"#, #"{""#, #"{"\""#, "{\"a\":\"\\",
                     #"{"attempt":1 "jobId":1}"#, #"{attempt:1,jobId:1}"#, String(repeating: "[", count: 10_000),
                     String(repeating: "{\"a\":", count: 5_000)] {
            expectRefused(Fixtures.frames("ACK", body), .badJSON)
        }
        func reply(_ uptime: String) -> [[UInt8]] {
            Fixtures.frames("STATUS-REPLY", #"{"done":0,"failed":0,"queued":0,"running":0,"specHash":"0123456789abcdef","#
                + #""total":0,"uptimeSeconds":\#(uptime),"workers":[]}"#)
        }
        for number in ["NaN", "Infinity", "-Infinity", "nan", "inf"] {
            expectRefused(reply(number), .badJSON)
        }
        // A number JSON allows but Double cannot hold.
        expectRefused(reply("1e400"), .invalidValue, field: "uptimeSeconds")
        #expect(Fixtures.refusal(reply("1e2")) == nil)
        // Every proper prefix of every sample body is refused.
        for message in Fixtures.all {
            let frames = try message.encode()
            for length in 0..<frames[2].count {
                var cut = frames
                cut[2] = Array(frames[2].prefix(length))
                #expect(Fixtures.refusal(cut) != nil, "\(message.command) prefix \(length)")
            }
        }
    }

    @Test("missing fields, also nested")
    func missingField() throws {
        expectRefused(Fixtures.frames("ACK", #"{"jobId":1}"#), .missingField, field: "attempt")
        #expect(Fixtures.refusal(Fixtures.frames("STATUS", "{}")) == nil)
        let welcome = Message.welcome(Welcome(coordinator: "c0ffee00", grid: Fixtures.grid))
        var body = try Fixtures.bodyObject(welcome)
        var grid = try #require(body["grid"] as? [String: Any])
        var cell = try #require(grid["cell"] as? [String: Any])
        cell["momentum"] = nil
        grid["cell"] = cell
        body["grid"] = grid
        var frames = try Fixtures.withBody(welcome, body)
        expectRefused(frames, .missingField, field: "grid.cell.momentum")
        var heartbeat = try Fixtures.bodyObject(.heartbeat(Fixtures.heartbeat))
        var jobs = try #require(heartbeat["jobs"] as? [[String: Any]])
        jobs[1]["step"] = nil
        heartbeat["jobs"] = jobs
        frames = try Fixtures.withBody(.heartbeat(Fixtures.heartbeat), heartbeat)
        expectRefused(frames, .missingField, field: "jobs[1].step")
    }

    @Test("unknown fields are refused, at any depth, and so is a non-empty STATUS request")
    func unknownField() throws {
        expectRefused(Fixtures.frames("ACK", #"{"attempt":1,"jobId":1,"atempt":2}"#), .unknownField, field: "atempt")
        expectRefused(Fixtures.frames("STATUS", #"{"verbose":true}"#), .unknownField, field: "verbose")
        let welcome = Message.welcome(Welcome(coordinator: "c0ffee00", grid: Fixtures.grid))
        var body = try Fixtures.bodyObject(welcome)
        var grid = try #require(body["grid"] as? [String: Any])
        var warm = try #require(grid["warmStart"] as? [String: Any])
        warm["momentum"] = 0.9
        grid["warmStart"] = warm
        body["grid"] = grid
        expectRefused(try Fixtures.withBody(welcome, body), .unknownField, field: "grid.warmStart.momentum")
    }

    @Test("duplicate keys are refused (JSONDecoder alone would keep the first)")
    func duplicateField() {
        expectRefused(Fixtures.frames("ACK", #"{"jobId":1,"jobId":2,"attempt":1}"#), .duplicateField, field: "jobId")
        expectRefused(Fixtures.frames("ACK", #"{"jobId":1,"attempt":1,"attempt":1}"#), .duplicateField, field: "attempt")
        expectRefused(Fixtures.frames("HEARTBEAT", #"{"jobs":[{"attempt":1,"jobId":1,"step":1,"step":2,"totalSteps":10}]}"#),
                      .duplicateField, field: "step")
        // The same key spelled with an escape is the same key.
        expectRefused(Fixtures.frames("ACK", #"{"jobId":1,"job\u0049d":2,"attempt":1}"#), .duplicateField, field: "jobId")
        // The same key in sibling objects, or as a string value, is no duplicate.
        #expect(Fixtures.refusal(Fixtures.frames("HEARTBEAT",
            #"{"jobs":[{"attempt":1,"jobId":1,"step":1,"totalSteps":10},{"attempt":1,"jobId":2,"step":1,"totalSteps":10}]}"#)) == nil)
        #expect(Fixtures.refusal(Fixtures.frames("BYE", #"{"reason":"reason"}"#)) == nil)
        #expect(Fixtures.refusal(Fixtures.frames("BYE", #"{"reason":"a \"reason\": x"}"#)) == nil)
    }

    @Test("wrong types and nulls")
    func wrongType() {
        expectRefused(Fixtures.frames("ACK", #"{"attempt":"1","jobId":1}"#), .wrongType, field: "attempt")
        expectRefused(Fixtures.frames("ACK", #"{"attempt":1.5,"jobId":1}"#), .invalidValue, field: "attempt")
        expectRefused(Fixtures.frames("ACK", #"{"attempt":null,"jobId":1}"#), .wrongType, field: "attempt")
        expectRefused(Fixtures.frames("ACK", #"{"attempt":true,"jobId":1}"#), .wrongType, field: "attempt")
        expectRefused(Fixtures.frames("HEARTBEAT", #"{"jobs":{}}"#), .wrongType, field: "jobs")
        expectRefused(Fixtures.frames("HEARTBEAT", #"{"jobs":[1]}"#), .wrongType, field: "jobs[0]")
        // An absent optional field is left out, not written as null.
        expectRefused(Fixtures.frames("RESULT", #"{"attempt":1,"errorKind":"transient","jobId":1,"kind":"trivial","#
                                          + #""message":"x","outcome":"failed","resultBytes":null,"wallSeconds":1}"#),
                      .wrongType, field: "resultBytes")
    }

    @Test("free text holds no control characters; the encoder makes any error text fit")
    func controlCharactersInMessages() throws {
        expectRefused(Fixtures.frames("ERROR", #"{"code":"malformed","message":"a\nb"}"#), .invalidValue, field: "message")
        expectRefused(Fixtures.frames("BYE", #"{"reason":"tab\there"}"#), .invalidValue, field: "reason")
        // A multi-line error of any length from a job still travels, as one line within the limit.
        let text = "first line\nsecond line\u{7}" + String(repeating: "é", count: Wire.maxMessageText)
        let frames = try Message.result(.failed(jobId: 1, attempt: 1, kind: .trivial, wallSeconds: 1, errorKind: .transient,
                                                message: text)).encode()
        guard case .result(let decoded) = try Message.decode(frames), let message = decoded.message else {
            Issue.record("the failed result did not round-trip")
            return
        }
        #expect(message.hasPrefix("first line second line ") && message.hasSuffix("…"))
        #expect(message.utf8.count <= Wire.maxMessageText)
    }

    @Test("values out of range: negative, zero, oversized, inconsistent, unknown words, bad hashes")
    func invalidValue() throws {
        expectRefused(Fixtures.frames("ACK", #"{"attempt":0,"jobId":1}"#), .invalidValue, field: "attempt")
        expectRefused(Fixtures.frames("ACK", #"{"attempt":1,"jobId":-5}"#), .invalidValue, field: "jobId")
        expectRefused(Fixtures.frames("ACK", #"{"attempt":1,"jobId":99999999999}"#), .invalidValue, field: "jobId")
        // Larger than Int: refused, never wrapped.
        #expect(Fixtures.refusal(Fixtures.frames("ACK", #"{"attempt":1,"jobId":99999999999999999999}"#)) != nil)
        expectRefused(Fixtures.frames("HEARTBEAT", #"{"jobs":[{"attempt":1,"jobId":1,"step":11,"totalSteps":10}]}"#),
                      .invalidValue, field: "jobs[0].step")
        expectRefused(Fixtures.frames("HEARTBEAT", #"{"jobs":[{"attempt":1,"jobId":1,"step":-1,"totalSteps":10}]}"#),
                      .invalidValue, field: "jobs[0].step")
        expectRefused(Fixtures.frames("HEARTBEAT",
                                      #"{"jobs":[{"attempt":1,"jobId":1,"step":1,"totalSteps":10},{"attempt":2,"jobId":1,"step":1,"totalSteps":10}]}"#),
                      .invalidValue, field: "jobs[1].jobId")
        expectRefused(Fixtures.frames("CANCEL", #"{"attempt":1,"jobId":1,"reason":"bored"}"#), .invalidValue, field: "reason")
        expectRefused(Fixtures.frames("ERROR", #"{"code":"oops","message":"x"}"#), .invalidValue, field: "code")
        expectRefused(Fixtures.frames("BYE", "{\"reason\":\"" + String(repeating: "x", count: 5_000) + "\"}"),
                      .invalidValue, field: "reason")

        func mutated(_ message: Message, _ change: (inout [String: Any]) -> Void) throws -> [[UInt8]] {
            var body = try Fixtures.bodyObject(message)
            change(&body)
            return try Fixtures.withBody(message, body)
        }
        let ready = Message.ready(Fixtures.ready)
        expectRefused(try mutated(ready) { $0["slots"] = 0 }, .invalidValue, field: "slots")
        expectRefused(try mutated(ready) { $0["pid"] = -1 }, .invalidValue, field: "pid")
        expectRefused(try mutated(ready) { $0["name"] = "" }, .invalidValue, field: "name")
        expectRefused(try mutated(ready) { $0["host"] = "a\nb" }, .invalidValue, field: "host")
        expectRefused(try mutated(ready) { $0["name"] = String(repeating: "n", count: 300) }, .invalidValue, field: "name")
        expectRefused(try mutated(ready) { $0["datasets"] = [["name": "fashion-mnist", "hash": "XYZ"]] },
                      .invalidValue, field: "datasets[0].hash")
        let job = Message.job(Fixtures.measureJob)
        expectRefused(try mutated(job) { $0["kind"] = "warmstart" }, .invalidValue, field: "kind")
        expectRefused(try mutated(job) { $0["expectedCost"] = -1 }, .invalidValue, field: "expectedCost")
        // The cell a JOB names: the contract's ranges here; whether it is a cell of WELCOME's grid
        // is for the worker (`Job.init(_:in:)`), which holds the grid.
        expectRefused(try mutated(job) { $0["learningRate"] = 0 }, .invalidValue, field: "learningRate")
        expectRefused(try mutated(job) { $0["learningRate"] = -0.1 }, .invalidValue, field: "learningRate")
        expectRefused(try mutated(job) { $0["learningRate"] = 5e-7 }, .invalidValue, field: "learningRate")
        expectRefused(try mutated(job) { $0["learningRate"] = nil }, .missingField, field: "learningRate")
        expectRefused(try mutated(job) { $0["batchSize"] = 4097 }, .invalidValue, field: "batchSize")
        expectRefused(try mutated(job) { $0["batchSize"] = 0 }, .invalidValue, field: "batchSize")
        expectRefused(try mutated(job) { $0["seedIndex"] = 0 }, .invalidValue, field: "seedIndex")
        expectRefused(try mutated(job) { $0["momentum"] = 1 }, .invalidValue, field: "momentum")
        expectRefused(try mutated(job) { $0["batchMode"] = "random" }, .invalidValue, field: "batchMode")
        let welcome = Message.welcome(Welcome(coordinator: "c0ffee00", grid: Fixtures.grid))
        expectRefused(try mutated(welcome) { body in
            var grid = body["grid"] as? [String: Any] ?? [:]
            grid["format"] = "thermosweep-grid/0"
            body["grid"] = grid
        }, .invalidValue, field: "grid.format")
        expectRefused(try mutated(welcome) { body in
            var grid = body["grid"] as? [String: Any] ?? [:]
            grid["seeds"] = nil
            body["grid"] = grid
        }, .missingField, field: "grid.seeds")

        let failed = Message.result(.failed(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1, errorKind: .transient, message: "m"))
        expectRefused(try mutated(failed) { $0["errorKind"] = nil }, .invalidValue, field: "errorKind")
        expectRefused(try mutated(failed) { $0["message"] = nil }, .invalidValue, field: "message")
        expectRefused(try mutated(failed) { $0["wallSeconds"] = -1 }, .invalidValue, field: "wallSeconds")
        expectRefused(try mutated(failed) { $0["resultBytes"] = 0; $0["resultHash"] = AttachmentChecksum.hex([]) },
                      .invalidValue, field: "resultBytes")
        let done = Message.result(.done(jobId: 1, attempt: 1, kind: .measure, wallSeconds: 1, result: Fixtures.cellResult))
        expectRefused(try mutated(done) { $0["errorKind"] = "transient" }, .invalidValue, field: "errorKind")
        expectRefused(try mutated(done) { $0["resultHash"] = "0123" }, .invalidValue, field: "resultHash")
        expectRefused(try mutated(done) { $0["resultBytes"] = Wire.maxResultSize + 1 }, .invalidValue, field: "resultBytes")
        let reply = Message.statusReply(StatusReply(specHash: "0123456789abcdef",
                                                    counts: StatusCounts(total: 3, done: 1, failed: 0, running: 1, queued: 1),
                                                    workers: [], uptimeSeconds: 1))
        expectRefused(try mutated(reply) { $0["queued"] = 2 }, .invalidValue, field: "total")
    }

    @Test("attachments that differ from their declaration, or result records that are not what the kind needs")
    func badAttachment() throws {
        var frames = try Message.job(Fixtures.measureJob).encode()
        frames[3][0] ^= 1
        expectRefused(frames, .badAttachment, field: "checkpointHash")
        frames[3].removeLast()
        expectRefused(frames, .badAttachment, field: "checkpointBytes")

        func result(_ kind: JobKind, _ record: String) throws -> [[UInt8]] {
            let valid = kind == .measure ? Fixtures.cellResult : kind == .warmStart ? Fixtures.warmResult : Fixtures.trivialResult
            return try Message.result(.done(jobId: 1, attempt: 1, kind: kind, wallSeconds: 1, result: valid,
                                     checkpoint: kind == .warmStart ? [1] : nil)).encode().enumerated().map { i, frame in
                i == 3 ? Array(record.utf8) : i == 2 ? try redeclare(frame, Array(record.utf8)) : frame
            }
        }
        func redeclare(_ body: [UInt8], _ record: [UInt8]) throws -> [UInt8] {
            var object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] ?? [:]
            object["resultBytes"] = record.count
            object["resultHash"] = AttachmentChecksum.hex(record)
            return Array(try JSONSerialization.data(withJSONObject: object))
        }
        expectRefused(try result(.measure, "[1,2]"), .badAttachment, field: "result")
        expectRefused(try result(.measure, "{\"format\":"), .badAttachment, field: "result")
        expectRefused(try result(.measure, #"{"spec":{}}"#), .badAttachment, field: "result.format")
        expectRefused(try result(.measure, #"{"format":"thermosweep-cell/2"}"#), .badAttachment, field: "result.format")
        expectRefused(try result(.warmStart, #"{"format":"thermosweep-cell/1"}"#), .badAttachment, field: "result.format")
        #expect(Fixtures.refusal(try result(.trivial, #"{"format":"thermosweep-trivial/1"}"#)) == nil)
        // A byte-order mark before the record, or a key twice inside it.
        expectRefused(try result(.trivial, "\u{FEFF}" + #"{"format":"thermosweep-trivial/1"}"#), .badAttachment, field: "result")
        expectRefused(try result(.trivial, #"{"format":"thermosweep-trivial/1","a":1,"a":2}"#), .badAttachment,
                      field: "result")

        var warm = try Message.result(.done(jobId: 1, attempt: 1, kind: .warmStart, wallSeconds: 1,
                                            result: Fixtures.warmResult, checkpoint: Fixtures.checkpoint)).encode()
        warm[4] = Array(warm[4].reversed())
        expectRefused(warm, .badAttachment, field: "checkpointHash")
    }

    @Test("errors read as sentences naming the command and field")
    func errorText() {
        let error = Fixtures.refusal(Fixtures.frames("ACK", #"{"attempt":0,"jobId":1}"#))
        #expect(error?.description == "TSW6 ACK field 'attempt': 0 is out of range 1...1000")
    }
}
