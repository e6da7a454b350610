import Cell
import Testing
@testable import SweepProtocol

/// Several messages in one ZeroMQ message: the tag, then each message's command, body and the
/// attachments its body declares (PROTOCOL.md, "Frames").
@Suite("Batches")
struct BatchTests {
    private static let ack = Message.ack(JobRef(jobId: 1, attempt: 1))

    private static func batch(_ messages: [Message]) throws -> [[UInt8]] {
        try [Message.tagFrame] + messages.flatMap { try $0.parts() }
    }

    /// Why the batch reader refuses `frames`; nil (and an issue) when it accepts them.
    private static func refusal(_ frames: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
        do {
            let messages = try Message.decodeBatch(frames)
            Issue.record("accepted: \(messages.map(\.command))", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test("every sample message, attachments and all, in one batch decodes to the same list in order")
    func everyMessageInOneBatch() throws {
        let messages = Fixtures.all + Fixtures.all.reversed()
        let frames = try Self.batch(messages)
        #expect(try Message.decodeBatch(frames) == messages)
        let encoded = Message.encode(batch: messages) { message, error in Issue.record("\(message.command): \(error)") }
        #expect(encoded?.frames == frames)
        #expect(encoded?.sent == messages)
        // One message alone is a batch of one.
        for message in Fixtures.all {
            #expect(try Message.decodeBatch(message.encode()) == [message])
        }
    }

    @Test("the single-message decoder refuses a batch of two")
    func aBatchIsNotOneMessage() throws {
        let frames = try Self.batch([Self.ack, Self.ack])
        #expect(Fixtures.refusal(frames)?.kind == .wrongFrameCount)
    }

    @Test("one malformed message refuses the whole batch, naming its place")
    func oneBadMessageRefusesTheBatch() throws {
        var frames = try Self.batch([Self.ack])
        frames += Fixtures.frames("HEARTBEAT", #"{"jobs":[],"extra":1}"#).dropFirst()
        frames += try Self.ack.parts()
        let error = Self.refusal(frames)
        #expect(error?.kind == .unknownField)
        #expect(error?.field == "extra")
        #expect(error?.command == .heartbeat)
        #expect(error?.detail.hasPrefix("message 2 of a batch: ") == true, "\(String(describing: error))")
    }

    @Test("each message's attachments are counted from its own body")
    func attachmentsArePerMessage() throws {
        let result = Message.result(.done(jobId: 3, attempt: 1, kind: .trivial, wallSeconds: 0.5,
                                          result: Fixtures.trivialResult))
        let frames = try Self.batch([result, Self.ack, .job(Fixtures.measureJob), Self.ack])
        #expect(try Message.decodeBatch(frames) == [result, Self.ack, .job(Fixtures.measureJob), Self.ack])
        // The RESULT without its record: the ACK's command frame would be read as the record.
        var missing = try result.parts()
        missing.removeLast()
        let swallowed = Self.refusal([Message.tagFrame] + missing + (try Self.ack.parts()))
        #expect(swallowed?.kind == .badAttachment, "\(String(describing: swallowed))")
        // A RESULT whose record is missing at the end of the batch: too few frames for it.
        let short = Self.refusal([Message.tagFrame] + (try Self.ack.parts()) + missing)
        #expect(short?.kind == .wrongFrameCount, "\(String(describing: short))")
        #expect(short?.detail.hasPrefix("message 2 of a batch: ") == true, "\(String(describing: short))")
    }

    @Test("a frame left over after the last message is refused")
    func trailingFrame() throws {
        let error = Self.refusal(try Self.batch([Self.ack]) + [Array("ACK".utf8)])
        #expect(error?.kind == .tooFewFrames, "\(String(describing: error))")
    }

    @Test("at most Wire.maxBatch messages in one batch")
    func batchLimit() throws {
        let full = try Self.batch(Array(repeating: Self.ack, count: Wire.maxBatch))
        #expect(try Message.decodeBatch(full).count == Wire.maxBatch)
        let error = Self.refusal(full + (try Self.ack.parts()))
        #expect(error?.kind == .wrongFrameCount)
        #expect(error?.detail.contains("\(Wire.maxBatch)") == true, "\(String(describing: error))")
    }

    @Test("a message that cannot be encoded is left out of its batch and reported")
    func encodeLeavesOutWhatItCannotEncode() throws {
        let bad = Message.ack(JobRef(jobId: 1, attempt: 0))
        var refused: [Message] = []
        let batch = Message.encode(batch: [Self.ack, bad, .heartbeat(Heartbeat())]) { message, error in
            #expect(error.field == "attempt")
            refused.append(message)
        }
        #expect(refused == [bad])
        #expect(batch?.sent == [Self.ack, .heartbeat(Heartbeat())])
        #expect(try batch.map { try Message.decodeBatch($0.frames) } == [Self.ack, .heartbeat(Heartbeat())])
        #expect(Message.encode(batch: [bad]) { _, _ in } == nil)
        #expect(Message.describe([Self.ack, .job(Fixtures.trivialJob), Self.ack]) == "3 messages (ACK, JOB)")
        #expect(Message.describe([Self.ack]) == "ACK")
    }
}
