import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IDX array of unsigned bytes (the format of the MNIST family) read from disk.
public struct IDXArray: Sendable {
    /// The path it was read from, as given.
    public let path: String
    /// Sizes, outermost first: `[count, rows, columns]` for images, `[count]` for labels.
    public let dimensions: [Int]
    /// The elements in row-major order; `payload.count` is the product of `dimensions`.
    public let payload: [UInt8]

    /// The header bytes of this array: `00 00 08 <rank>` then each dimension as big-endian UInt32.
    public var header: [UInt8] { IDX.header(dimensions: dimensions) }
}

/// Reading and writing IDX files, gzip-compressed or plain.
public enum IDX {
    /// IDX element type code for unsigned bytes, the only one supported.
    public static let unsignedByte: UInt8 = 0x08
    /// Largest accepted image side; the MNIST family uses 28.
    public static let maxImageSide = 1024

    /// Reads and checks the IDX file at `path`, which may be gzip-compressed (detected by its
    /// 1f 8b magic, not by its name) or plain; `rank` is the number of dimensions required.
    ///
    /// Throws `DataError` naming the file and the problem: unreadable, corrupt gzip stream, empty,
    /// wrong magic, type or rank, unreasonable dimensions, truncated payload, or trailing bytes.
    public static func read(path: String, rank: Int) throws(DataError) -> IDXArray {
        let file = try GzipFile(path: path)

        // 00 00 <type> <rank>
        var magic = [UInt8](repeating: 0, count: 4)
        let magicCount = try file.read(into: &magic, range: 0..<4)
        if magicCount == 0 { throw .emptyFile(path: path) }
        if magicCount >= 2 && (magic[0] != 0 || magic[1] != 0) || magicCount == 1 && magic[0] != 0 {
            throw .badMagic(path: path, bytes: Array(magic[0..<magicCount]))
        }
        if magicCount < 4 { throw .truncatedHeader(path: path, headerBytes: 4, fileBytes: magicCount) }
        if magic[2] != unsignedByte { throw .unsupportedType(path: path, code: magic[2]) }
        if Int(magic[3]) != rank { throw .wrongDimensionCount(path: path, expected: rank, found: Int(magic[3])) }

        // rank × big-endian UInt32
        var sizes = [UInt8](repeating: 0, count: 4 * rank)
        let sizesCount = try file.read(into: &sizes, range: 0..<sizes.count)
        if sizesCount < sizes.count {
            throw .truncatedHeader(path: path, headerBytes: 4 + sizes.count, fileBytes: 4 + sizesCount)
        }
        let dimensions = (0..<rank).map { d in
            sizes[4 * d..<4 * d + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        let expected = try payloadSize(path: path, dimensions: dimensions)

        // The payload, read in chunks so that a header promising far more than the file holds
        // costs no more memory than the file itself.
        let chunk = 1 << 24
        var payload = [UInt8]()
        payload.reserveCapacity(min(expected, 1 << 26))
        while payload.count < expected {
            let start = payload.count
            let want = min(chunk, expected - start)
            payload += [UInt8](repeating: 0, count: want)  // a memset and a memcpy, fast in debug too
            let got: Int
            do {
                got = try file.read(into: &payload, range: start..<start + want)
            } catch {
                throw error.afterDecompressing(4 + sizes.count + start)
            }
            if got < want {
                throw .truncated(path: path, dimensions: dimensions, expectedBytes: expected,
                                 foundBytes: start + got)
            }
        }

        // Nothing may follow the payload.
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var extra = 0
        while true {
            let got: Int
            do {
                got = try file.read(into: &scratch, range: 0..<scratch.count)
            } catch {
                throw error.afterDecompressing(4 + sizes.count + expected + extra)
            }
            if got == 0 { break }
            extra += got
        }
        if extra > 0 {
            throw .trailingBytes(path: path, dimensions: dimensions, expectedBytes: expected, extraBytes: extra)
        }
        return IDXArray(path: path, dimensions: dimensions, payload: payload)
    }

    /// Checks the dimensions and returns their product.
    static func payloadSize(path: String, dimensions: [Int]) throws(DataError) -> Int {
        if let zero = dimensions.firstIndex(of: 0) {
            throw .badDimensions(path: path, dimensions: dimensions, problem: "dimension \(zero) is 0")
        }
        if dimensions.count >= 2 {
            for side in dimensions.suffix(2) where side > maxImageSide {
                throw .badDimensions(path: path, dimensions: dimensions,
                                     problem: "image side \(side) exceeds \(maxImageSide)")
            }
        }
        var product = 1
        for size in dimensions {
            let (next, overflow) = product.multipliedReportingOverflow(by: size)
            // Far beyond any data set that fits in memory.
            if overflow || next > 1 << 40 {
                throw .badDimensions(path: path, dimensions: dimensions, problem: "the sizes multiply to over 2^40 bytes")
            }
            product = next
        }
        return product
    }

    /// Writes an unsigned-byte IDX file, gzip-compressed when `gzip` is true (the suffix of `path`
    /// is not consulted); used to export synthetic sets and to build test files.
    public static func write(path: String, dimensions: [Int], payload: [UInt8], gzip: Bool) throws(DataError) {
        let bytes = encode(dimensions: dimensions, payload: payload)
        errno = 0
        // "T": zlib's transparent write, no compression.
        guard let handle = gzopen(path, gzip ? "wb6" : "wbT") else {
            throw .writeFailed(path: path, reason: errno != 0 ? String(cString: strerror(errno)) : "gzopen failed")
        }
        var written = 0
        var failure: String?
        while written < bytes.count {
            let want = min(bytes.count - written, 1 << 30)
            let got = bytes.withUnsafeBytes { raw -> Int32 in
                guard let base = raw.baseAddress else { return 0 }
                return gzwrite(handle, base + written, UInt32(want))
            }
            if got <= 0 {
                var code: Int32 = 0
                failure = gzerror(handle, &code).map { String(cString: $0) } ?? "gzwrite failed"
                break
            }
            written += Int(got)
        }
        let closed = gzclose(handle)
        if let failure { throw .writeFailed(path: path, reason: failure) }
        if closed != Z_OK {
            throw .writeFailed(path: path, reason: closed == Z_ERRNO ? String(cString: strerror(errno)) : "gzclose \(closed)")
        }
    }

    /// The header of an unsigned-byte IDX array with these dimensions.
    public static func header(dimensions: [Int]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, unsignedByte, UInt8(dimensions.count)]
        for size in dimensions {
            precondition(size >= 0 && size <= Int(UInt32.max), "IDX dimension \(size) out of range")
            bytes += [UInt8(truncatingIfNeeded: size >> 24), UInt8(truncatingIfNeeded: size >> 16),
                      UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)]
        }
        return bytes
    }

    /// A complete unsigned-byte IDX file (header then payload), uncompressed.
    public static func encode(dimensions: [Int], payload: [UInt8]) -> [UInt8] {
        precondition(payload.count == dimensions.reduce(1, *),
                     "IDX payload of \(payload.count) bytes for dimensions \(dimensions)")
        return header(dimensions: dimensions) + payload
    }
}

extension DataError {
    /// The same error with the decompressed byte count filled in (the reader only knows its own).
    fileprivate func afterDecompressing(_ offset: Int) -> DataError {
        if case let .corruptGzip(path, message, cutOff, done) = self {
            return .corruptGzip(path: path, zlibMessage: message, cutOff: cutOff, decompressedBytes: offset + done)
        }
        return self
    }
}

/// A file opened through zlib's gz* API, which reads gzip streams (1f 8b) and plain files alike;
/// closes itself. Also the reader of the CIFAR-10 and .npy files (plain or gzip-compressed).
struct GzipFile: ~Copyable {
    let path: String
    private let handle: gzFile

    init(path: String) throws(DataError) {
        errno = 0
        guard let handle = gzopen(path, "rb") else {
            let reason = errno != 0 ? String(cString: strerror(errno)) : "zlib could not allocate its state"
            throw .cannotOpen(path: path, reason: reason)
        }
        // Larger than the 8 KiB default: fewer read calls for the 26 MB training images.
        gzbuffer(handle, 1 << 17)
        self.path = path
        self.handle = handle
    }

    deinit { gzclose(handle) }

    /// Fills `buffer[range]` until it is full or the data end; returns the number of bytes read.
    ///
    /// gzread loops over short reads itself; a 0 return is the end of the data, unless gzerror
    /// then reports a cut-off gzip stream (Z_BUF_ERROR), which gzread does not count as an error.
    func read(into buffer: inout [UInt8], range: Range<Int>) throws(DataError) -> Int {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count)
        var done = 0
        while done < range.count {
            // gzread takes an unsigned int length and returns an int.
            let want = min(range.count - done, 1 << 30)
            let start = range.lowerBound + done
            let got = buffer.withUnsafeMutableBytes { raw -> Int32 in
                guard let base = raw.baseAddress else { return 0 }  // only for an empty buffer
                return gzread(handle, base + start, UInt32(want))
            }
            if got < 0 { throw currentError(decompressed: done) }
            if got == 0 {
                var code: Int32 = 0
                _ = gzerror(handle, &code)
                if code != Z_OK { throw currentError(decompressed: done) }
                break
            }
            done += Int(got)
        }
        return done
    }

    /// The error zlib recorded, as a DataError.
    private func currentError(decompressed: Int) -> DataError {
        var code: Int32 = 0
        var message = gzerror(handle, &code).map { String(cString: $0) } ?? "unknown error"
        // zlib prefixes the path, which our message already leads with.
        if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
        switch code {
        case Z_ERRNO where errno == EISDIR:
            return .cannotOpen(path: path, reason: "it is a directory, not an IDX file")
        case Z_ERRNO:
            return .readFailed(path: path, reason: String(cString: strerror(errno)))
        case Z_BUF_ERROR:
            return .corruptGzip(path: path, zlibMessage: message, cutOff: true, decompressedBytes: decompressed)
        default:
            return .corruptGzip(path: path, zlibMessage: message, cutOff: false, decompressedBytes: decompressed)
        }
    }
}
