// Whether bytes are UTF-8, without making a String of them. `String(validating:as:)` answers the
// same question by building the string: for a 45 kB result record that is an allocation and a copy
// per RESULT on the coordinator's loop, to learn one bit.

public enum UTF8Check {
    /// Whether `bytes` are well-formed UTF-8 (Unicode 15, table 3-7), exactly as
    /// `String(validating: bytes, as: UTF8.self) != nil` decides: no overlong forms, no surrogates,
    /// nothing above U+10FFFF, no truncated sequence.
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { isValid($0) }
    }

    /// The same over a buffer.
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            // Eight ASCII bytes at a time: the usual case for JSON.
            if i + 8 <= count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                    continue
                }
            }
            let lead = base[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            // The second byte's range depends on the lead byte (table 3-7); later bytes are 80…BF.
            let length: Int, low: UInt8, high: UInt8
            switch lead {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            default: return false
            }
            guard i + length <= count, base[i + 1] >= low, base[i + 1] <= high else { return false }
            for k in 2..<length where base[i + k] & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }
}
