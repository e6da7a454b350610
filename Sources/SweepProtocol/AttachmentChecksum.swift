// The checksum an attachment frame is declared with (`resultHash`, `checkpointHash`): CRC-32 as
// zlib computes it (ISO-HDLC, the checksum of gzip and PNG; `zlib.crc32` in Python), 8 lowercase
// hex digits.
//
// Until protocol TSW3 it was FNV-1a-64, which multiplies once per byte and cannot overlap one byte's
// step with the next: 65–70 µs of the coordinator's CPU for each 44 kB result record, against
// about 20 µs for zlib's CRC-32, and 1.5 ms each way for a 1.2 MB checkpoint. The checksum
// catches a frame that is not the one its body describes (a truncated or swapped attachment); the
// transport (TCP, and CURVE's authenticator where it is on) already guards the bytes themselves.
import CZlib

public enum AttachmentChecksum {
    /// The checksum of `bytes` as 8 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        let value = bytes.withUnsafeBufferPointer { buffer -> UInt32 in
            var crc = crc32(0, nil, 0)
            var offset = 0
            // zlib takes a 32-bit length: feed larger frames in pieces.
            while offset < buffer.count {
                let count = min(buffer.count - offset, 1 << 30)
                crc = crc32(crc, buffer.baseAddress! + offset, uInt(count))
                offset += count
            }
            return UInt32(truncatingIfNeeded: crc)
        }
        // Written digit by digit: `String(radix:)` and padding took as long as the CRC of a small record.
        var text = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { text[i] = digits[Int(value >> (28 - 4 * UInt32(i))) & 15] }
        return String(decoding: text, as: UTF8.self)
    }

    private static let digits = Array("0123456789abcdef".utf8)
}
