/// Why a message was refused by the decoder (or by the encoder's own check): the kind, the command
/// when known, the field path (`spec.learningRate`, `jobs[2].step`) when one is at fault, and a
/// sentence naming the offending value.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// Fewer than the three frames every message has.
        case tooFewFrames
        /// Frame 0 is not `Wire.versionTag`.
        case wrongVersion
        /// Frame 1 names no known command.
        case unknownCommand
        /// More or fewer attachment frames than the command and body call for.
        case wrongFrameCount
        /// A frame above its size limit.
        case frameTooLarge
        /// The body or a JSON attachment is not valid UTF-8.
        case badUTF8
        /// The body is not one well-formed JSON object (truncated, trailing bytes, NaN literal, …).
        case badJSON
        case missingField
        case unknownField
        case duplicateField
        /// A field of the wrong JSON type, or null where a value is required.
        case wrongType
        /// A field of the right type with a value out of range (negative, too large, not finite,
        /// too long, not one of the allowed words, inconsistent with another field).
        case invalidValue
        /// An attachment whose length or hash differs from what the body declares, or a result
        /// attachment that is not a JSON object with a `format`.
        case badAttachment
    }

    public var kind: Kind
    public var command: Command?
    public var field: String?
    public var detail: String

    public init(_ kind: Kind, command: Command? = nil, field: String? = nil, _ detail: String) {
        self.kind = kind
        self.command = command
        self.field = field
        self.detail = detail
    }

    public var description: String {
        var text = Wire.versionTag
        if let command { text += " \(command.rawValue)" }
        if let field { text += " field '\(field)'" }
        return text + ": " + detail
    }
}

/// Printable form of untrusted bytes for an error message: at most `limit` bytes, non-printable
/// ones as `\xNN`.
func printable(_ bytes: [UInt8], limit: Int = 40) -> String {
    var text = ""
    for byte in bytes.prefix(limit) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let hex = String(byte, radix: 16)
            text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return bytes.count > limit ? text + "… (\(bytes.count) bytes)" : text
}
