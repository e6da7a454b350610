/// 64-bit FNV-1a: the content hash of every data set and the grid-spec hash (attachments are
/// checked by CRC-32 since protocol TSW4: `AttachmentChecksum`).
///
/// Written here (rather than taken from a library or `Hasher`, which is seeded per process) so
/// that every process, on any machine and Swift version, gets the same 16 hex digits for the same
/// bytes. Not cryptographic: it detects corruption and names versions; a full spec is always
/// stored and compared.
public struct FNV1a: Sendable {
    private var state: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// Feeds `bytes` in order.
    public mutating func combine(_ bytes: [UInt8]) {
        // Over a buffer pointer: same speed in release, ten times faster in debug builds.
        state = bytes.withUnsafeBufferPointer { buffer in
            var h = state
            for i in 0..<buffer.count {
                h = (h ^ UInt64(buffer[i])) &* 0x100_0000_01B3
            }
            return h
        }
    }

    /// The hash so far.
    public var value: UInt64 { state }

    /// The hash so far as 16 lowercase hex digits.
    public var hex: String {
        let digits = String(state, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The hash of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        var hasher = FNV1a()
        hasher.combine(bytes)
        return hasher.value
    }

    /// The hash of `bytes` as 16 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        var hasher = FNV1a()
        hasher.combine(bytes)
        return hasher.hex
    }
}
