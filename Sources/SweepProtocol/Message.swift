// Messages ↔ frames: one ZeroMQ message is the tag, then one or more protocol messages, each
// `[COMMAND] [JSON body] [attachment …]` (PROTOCOL.md, "Frames"); its body says how many
// attachments follow. The decoder refuses anything that is not exactly a valid batch, with a typed
// error; it never traps, whatever the bytes. The encoder runs the same checks, so nothing leaves
// that a peer would refuse.
import Cell
import Foundation

/// A protocol message: one case per command.
public enum Message: Sendable, Equatable {
    case ready(Ready)
    case welcome(Welcome)
    case refuse(Refuse)
    case heartbeat(Heartbeat)
    case job(JobLease)
    case result(JobResult)
    case ack(JobRef)
    case cancel(Cancel)
    case status(StatusRequest)
    case statusReply(StatusReply)
    case error(ErrorReply)
    case bye(Bye)

    public var command: Command { type(of: body).command }

    private static let tagBytes = Array(Wire.versionTag.utf8)

    /// The body, whatever the command.
    var body: any MessageBody {
        switch self {
        case .ready(let b): return b
        case .welcome(let b): return b
        case .refuse(let b): return b
        case .heartbeat(let b): return b
        case .job(let b): return b
        case .result(let b): return b
        case .ack(let b): return b
        case .cancel(let b): return b
        case .status(let b): return b
        case .statusReply(let b): return b
        case .error(let b): return b
        case .bye(let b): return b
        }
    }

    /// The frames of this message alone (tag first); throws if a field is out of range (the
    /// receiver would refuse it).
    public func encode() throws(ProtocolError) -> [[UInt8]] {
        [Self.tagBytes] + (try parts())
    }

    /// This message's frames after the tag: command, body, attachments. A batch is `tagFrame`
    /// followed by the parts of each of its messages, in order.
    public func parts() throws(ProtocolError) -> [[UInt8]] {
        let command = self.command
        do {
            let body = self.body
            try body.validate()
            let attachments = body.attachments
            try Check.require(attachments.count == body.attachmentCount, "attachments",
                              "this \(command.rawValue) carries \(attachments.count) attachment frames; "
                                  + "its body declares \(body.attachmentCount)")
            return [Array(command.rawValue.utf8), try body.json()] + attachments
        } catch {
            throw Self.protocolError(error, command: command)
        }
    }

    /// Frame 0 of every ZeroMQ message of this protocol.
    public static var tagFrame: [UInt8] { tagBytes }

    /// The frames of `messages` as one batch, tag first, and the messages in it: one that cannot
    /// be encoded is left out and handed to `refused`. Nil when none is left.
    public static func encode(batch messages: some Sequence<Message>,
                              refused: (Message, ProtocolError) -> Void) -> (frames: [[UInt8]], sent: [Message])? {
        var frames = [tagBytes]
        var sent: [Message] = []
        for message in messages {
            do {
                frames += try message.parts()
                sent.append(message)
            } catch {
                refused(message, error)
            }
        }
        return sent.isEmpty ? nil : (frames, sent)
    }

    /// "JOB", or "3 messages (ACK, JOB)": what a batch holds, for a log line.
    public static func describe(_ messages: [Message]) -> String {
        if messages.count == 1 { return messages[0].command.rawValue }
        var names: [String] = []
        for message in messages where !names.contains(message.command.rawValue) { names.append(message.command.rawValue) }
        return "\(messages.count) messages (\(names.joined(separator: ", ")))"
    }

    /// The one message in `frames` (routing id already removed), or the reason it is refused; a
    /// batch of several is refused (`wrongFrameCount`: frames past the first message).
    public static func decode(_ frames: [[UInt8]]) throws(ProtocolError) -> Message {
        try checkTag(frames)
        var next = 1
        return try decodeMessage(frames, at: &next, inBatch: false)
    }

    /// The messages of one ZeroMQ message, in order: all of them, or the reason the whole batch is
    /// refused (then none of it is used). At most `Wire.maxBatch` messages.
    public static func decodeBatch(_ frames: [[UInt8]]) throws(ProtocolError) -> [Message] {
        try checkTag(frames)
        var messages: [Message] = []
        var next = 1
        while next < frames.count {
            guard messages.count < Wire.maxBatch else {
                throw ProtocolError(.wrongFrameCount, "more than \(Wire.maxBatch) messages in one batch; "
                                        + "the limit is \(Wire.maxBatch)")
            }
            do {
                messages.append(try decodeMessage(frames, at: &next, inBatch: true))
            } catch where !messages.isEmpty {
                var error = error
                error.detail = "message \(messages.count + 1) of a batch: " + error.detail
                throw error
            }
        }
        return messages
    }

    private static func checkTag(_ frames: [[UInt8]]) throws(ProtocolError) {
        guard frames.count >= 3 else {
            throw ProtocolError(.tooFewFrames, "\(frames.count) frames; every message has at least 3 (tag, command, body)")
        }
        guard frames[0] == tagBytes else {
            throw ProtocolError(.wrongVersion, "protocol tag '\(printable(frames[0]))'; this build speaks \(Wire.versionTag)")
        }
    }

    /// The message whose command is `frames[next]`; moves `next` past it. Alone (not `inBatch`),
    /// the message must end the frames.
    private static func decodeMessage(_ frames: [[UInt8]], at next: inout Int,
                                      inBatch: Bool) throws(ProtocolError) -> Message {
        guard frames.count - next >= 2 else {
            throw ProtocolError(.tooFewFrames, "\(frames.count - next) frame(s) after the last message; "
                                    + "every message has at least 2 after the tag (command, body)")
        }
        guard let command = Command(frame: frames[next]) else {
            throw ProtocolError(.unknownCommand, "unknown command '\(printable(frames[next]))'")
        }
        let body = frames[next + 1]
        guard body.count <= Wire.maxBodySize else {
            throw ProtocolError(.frameTooLarge, command: command,
                                "body of \(body.count) bytes; the limit is \(Wire.maxBodySize)")
        }
        guard isValidUTF8(body) else {
            throw ProtocolError(.badUTF8, command: command, "body is not valid UTF-8")
        }
        let following = frames[(next + 2)...]
        do {
            // Order: body syntax, body fields, frame count (which the body decides), attachments.
            func read<Body: MessageBody>(_ wrap: (Body) -> Message) throws -> Message {
                var value = try Body.read(body)
                try value.validate()
                let count = value.attachmentCount
                // In a batch the next message's frames may follow; only too few is wrong there.
                try checkCount(command, inBatch ? min(following.count, count) : following.count, count)
                try value.attach(following.prefix(count))
                next += 2 + count
                return wrap(value)
            }
            switch command {
            case .ready: return try read(Message.ready)
            case .welcome: return try read(Message.welcome)
            case .refuse: return try read(Message.refuse)
            case .heartbeat: return try read(Message.heartbeat)
            case .job: return try read(Message.job)
            case .result: return try read(Message.result)
            case .ack: return try read(Message.ack)
            case .cancel: return try read(Message.cancel)
            case .status: return try read(Message.status)
            case .statusReply: return try read(Message.statusReply)
            case .error: return try read(Message.error)
            case .bye: return try read(Message.bye)
            }
        } catch {
            throw protocolError(error, command: command)
        }
    }

    private static func checkCount(_ command: Command, _ got: Int, _ expected: Int) throws {
        guard got == expected else {
            throw ProtocolError(.wrongFrameCount, command: command,
                                "\(3 + got) frames; this \(command.rawValue) has \(3 + expected) (\(expected) attachments)")
        }
    }

    /// The body as `T`, read strictly (no unknown or duplicate keys, numbers that fit their
    /// fields). Ranges are checked by the body's `validate()`.
    static func decodeBody<T: Decodable>(_ body: [UInt8]) throws -> T {
        try JSONReader.decode(T.self, from: body, strict: true)
    }

    /// Any error of decoding or checking as a `ProtocolError` of `command`.
    static func protocolError(_ error: any Error, command: Command?) -> ProtocolError {
        switch error {
        case var error as ProtocolError:
            error.command = command
            return error
        case let failure as JSONParseError:
            if let key = failure.duplicateKey {
                return ProtocolError(.duplicateField, command: command, field: key, "appears twice in one object")
            }
            return ProtocolError(.badJSON, command: command, "the body is not valid JSON: \(failure)")
        case is BodyShapeError:
            return ProtocolError(.badJSON, command: command, "the body is not a JSON object")
        case let unknown as JSONUnknownKeyError:
            return ProtocolError(.unknownField, command: command, field: unknown.field,
                                 "is not a field of this body")
        case let failure as FieldFailure:
            return ProtocolError(failure.kind, command: command, field: failure.field.isEmpty ? nil : failure.field,
                                 failure.detail)
        case DecodingError.keyNotFound(let key, let context):
            return ProtocolError(.missingField, command: command, field: fieldPath(context.codingPath + [key]),
                                 "is missing")
        case DecodingError.typeMismatch(let type, let context):
            if context.codingPath.isEmpty {
                return ProtocolError(.badJSON, command: command, "the body is not a JSON object")
            }
            return ProtocolError(.wrongType, command: command, field: fieldPath(context.codingPath),
                                 "is not of type \(type)")
        case DecodingError.valueNotFound(_, let context):
            if context.codingPath.isEmpty {
                return ProtocolError(.badJSON, command: command, "the body is not a JSON object")
            }
            return ProtocolError(.wrongType, command: command, field: fieldPath(context.codingPath),
                                 context.debugDescription)
        case DecodingError.dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return ProtocolError(.badJSON, command: command, "the body is not valid JSON: \(context.debugDescription)")
            }
            return ProtocolError(.invalidValue, command: command, field: fieldPath(context.codingPath),
                                 context.debugDescription)
        case let error as EncodingError:
            return ProtocolError(.invalidValue, command: command, "cannot encode: \(error)")
        default:
            return ProtocolError(.badJSON, command: command, "\(error)")
        }
    }
}

/// The format a job kind's result record must declare.
func resultFormat(_ kind: JobKind) -> String {
    switch kind {
    case .warmStart: return FormatTag.warmStart
    case .measure: return FormatTag.cell
    case .trivial: return FormatTag.trivial
    }
}

/// Refuses a result attachment that is not a UTF-8 JSON object whose `format` matches the job kind.
/// The record is otherwise opaque here: the Store keeps it as text, the Report reads it.
func checkResultRecord(_ bytes: [UInt8], kind: JobKind) throws {
    let expected = resultFormat(kind)
    guard isValidUTF8(bytes) else {
        throw FieldFailure(kind: .badUTF8, field: "result", detail: "the result frame is not valid UTF-8")
    }
    let record: JSONValue
    do {
        record = try JSONValue.parseTopLevel(bytes)
    } catch {
        throw FieldFailure(kind: .badAttachment, field: "result", detail: "the result frame is not valid JSON: \(error)")
    }
    guard case .object = record else {
        throw FieldFailure(kind: .badAttachment, field: "result", detail: "the result frame is not a JSON object")
    }
    guard case .string(expected) = record["format"] else {
        throw FieldFailure(kind: .badAttachment, field: "result.format",
                           detail: "a \(kind.rawValue) result must have format \(expected)")
    }
}

/// Whether `bytes` are valid UTF-8, checked in place: `String(validating:as:)` copied them into a
/// new string and instantiated its generic codec at run time, a tenth of a small RESULT's decode.
func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    (try? UTF8Span(validating: bytes.span)) != nil
}

extension Command {
    private static let frames = allCases.map { (Array($0.rawValue.utf8), $0) }

    /// The command whose name `frame` holds (its bytes compared, no string made), or nil.
    init?(frame: [UInt8]) {
        guard let match = Self.frames.first(where: { $0.0 == frame }) else { return nil }
        self = match.1
    }
}
