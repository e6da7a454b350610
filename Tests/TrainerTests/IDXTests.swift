import Cell
import Foundation
import Testing
import Trainer

/// A fresh temporary directory, removed when the value goes away.
final class DataTestDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("thermosweep-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes raw bytes to `name` and returns the full path.
    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let full = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        return full
    }

    /// Gzip-compresses `bytes` through zlib (by writing a file and reading it back).
    func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
        let full = path + "/gzip-\(UUID().uuidString)"
        try IDXTestSupport.gzipFile(path: full, bytes: bytes)
        return try Array(Data(contentsOf: URL(fileURLWithPath: full)))
    }
}

enum IDXTestSupport {
    /// Writes `bytes` gzip-compressed with the `gzip` command (independent of our zlib writer).
    static func gzipFile(path: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + ".raw"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -c -n '\(path).raw' > '\(path)' && rm '\(path).raw'"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "gzip failed")
    }

    /// An images file's bytes: `count × rows × columns` with pixel k = k mod 251.
    static func images(count: Int, rows: Int = 4, columns: Int = 3) -> (dimensions: [Int], payload: [UInt8]) {
        let dims = [count, rows, columns]
        return (dims, (0..<(count * rows * columns)).map { UInt8($0 % 251) })
    }

    /// A labels file's bytes: label k = k mod 10.
    static func labels(count: Int) -> (dimensions: [Int], payload: [UInt8]) {
        ([count], (0..<count).map { UInt8($0 % 10) })
    }
}

/// Reads `path` expecting a DataError and returns it.
func expectDataError(_ path: String, rank: Int, sourceLocation: SourceLocation = #_sourceLocation) -> DataError? {
    #expect(throws: DataError.self, sourceLocation: sourceLocation) { try IDX.read(path: path, rank: rank) }
}

@Suite("IDX reader")
struct IDXTests {
    @Test("plain and gzip files round-trip and hash the same decompressed bytes")
    func roundTrip() throws {
        let dir = try DataTestDirectory()
        let (dims, payload) = IDXTestSupport.images(count: 5)
        try IDX.write(path: dir.path + "/plain", dimensions: dims, payload: payload, gzip: false)
        try IDX.write(path: dir.path + "/packed.bin", dimensions: dims, payload: payload, gzip: true)
        // Compressed by the gzip tool, named without .gz: detection goes by the magic bytes.
        try IDXTestSupport.gzipFile(path: dir.path + "/tool", bytes: IDX.encode(dimensions: dims, payload: payload))
        let raw = try Array(Data(contentsOf: URL(fileURLWithPath: dir.path + "/packed.bin")))
        #expect(raw.starts(with: [0x1F, 0x8B]))
        let plainRaw = try Array(Data(contentsOf: URL(fileURLWithPath: dir.path + "/plain")))
        #expect(plainRaw == IDX.encode(dimensions: dims, payload: payload))

        for name in ["plain", "packed.bin", "tool"] {
            let array = try IDX.read(path: dir.path + "/" + name, rank: 3)
            #expect(array.dimensions == [5, 4, 3])
            #expect(array.payload == payload)
            #expect(array.header == Array(plainRaw.prefix(16)))
        }
        var hasher = FNV1a()
        hasher.combine(plainRaw)
        #expect(IDX.contentHash([(dims, payload)]) == hasher.hex)
    }

    @Test("FNV-1a 64 matches published test vectors")
    func fnvVectors() {
        #expect(FNV1a().hex == "cbf29ce484222325")
        var a = FNV1a()
        a.combine(Array("a".utf8))
        #expect(a.hex == "af63dc4c8601ec8c")
        var foobar = FNV1a()
        foobar.combine(Array("foo".utf8))
        foobar.combine(Array("bar".utf8))
        #expect(foobar.hex == "85944171f73967e8")
    }

    @Test("a missing file names the path and the system's reason")
    func missingFile() throws {
        let dir = try DataTestDirectory()
        let path = dir.path + "/nope-idx3-ubyte.gz"
        let error = expectDataError(path, rank: 3)
        guard case .cannotOpen(let p, let reason)? = error else {
            Issue.record("expected cannotOpen, got \(String(describing: error))"); return
        }
        #expect(p == path)
        #expect(reason.contains("No such file"))
        #expect(error?.description.contains(path) == true)
    }

    @Test("an empty file, plain or gzip-compressed, is reported as empty")
    func emptyFile() throws {
        let dir = try DataTestDirectory()
        let plain = try dir.write("empty", bytes: [])
        let gz = try dir.write("empty.gz", bytes: try dir.gzipped([]))
        for path in [plain, gz] {
            let error = expectDataError(path, rank: 1)
            #expect(error == .emptyFile(path: path))
            #expect(error?.description.contains("empty") == true)
        }
    }

    @Test("a file that does not start with 00 00 is not IDX, with a guess for HTML")
    func wrongMagic() throws {
        let dir = try DataTestDirectory()
        let html = try dir.write("page", bytes: Array("<!DOCTYPE html><html>".utf8))
        let error = expectDataError(html, rank: 3)
        #expect(error == .badMagic(path: html, bytes: [0x3C, 0x21, 0x44, 0x4F]))
        #expect(error?.description.contains("3C 21 44 4F") == true)
        #expect(error?.description.contains("HTML") == true)
        let other = try dir.write("other", bytes: [0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7])
        #expect(expectDataError(other, rank: 1) == .badMagic(path: other, bytes: [0x01, 0x00, 0x08, 0x01]))
    }

    @Test("a header cut short is reported with the byte counts")
    func truncatedHeader() throws {
        let dir = try DataTestDirectory()
        let short = try dir.write("short", bytes: [0, 0, 8])
        #expect(expectDataError(short, rank: 1) == .truncatedHeader(path: short, headerBytes: 4, fileBytes: 3))
        let dims = try dir.write("dims", bytes: [0, 0, 8, 3, 0, 0, 0, 5, 0, 0])
        #expect(expectDataError(dims, rank: 3) == .truncatedHeader(path: dims, headerBytes: 16, fileBytes: 10))
    }

    @Test("element types other than unsigned byte are refused by name")
    func wrongTypeCode() throws {
        let dir = try DataTestDirectory()
        let path = try dir.write("floats", bytes: [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0])
        let error = expectDataError(path, rank: 1)
        #expect(error == .unsupportedType(path: path, code: 0x0D))
        #expect(error?.description.contains("0x0D (32-bit float)") == true)
        #expect(error?.description.contains("0x08 (unsigned byte)") == true)
    }

    @Test("a labels file where images are expected is refused (and vice versa)")
    func wrongDimensionCount() throws {
        let dir = try DataTestDirectory()
        let (ld, lp) = IDXTestSupport.labels(count: 6)
        let labels = try dir.write("labels", bytes: IDX.encode(dimensions: ld, payload: lp))
        let error = expectDataError(labels, rank: 3)
        #expect(error == .wrongDimensionCount(path: labels, expected: 3, found: 1))
        #expect(error?.description.contains("swapped") == true)
        let (id, ip) = IDXTestSupport.images(count: 2)
        let images = try dir.write("images", bytes: IDX.encode(dimensions: id, payload: ip))
        #expect(expectDataError(images, rank: 1) == .wrongDimensionCount(path: images, expected: 1, found: 3))
    }

    @Test("zero or oversized dimensions are refused before any payload is read")
    func badDimensions() throws {
        let dir = try DataTestDirectory()
        let zero = try dir.write("zero", bytes: [0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 28])
        #expect(expectDataError(zero, rank: 3) == .badDimensions(path: zero, dimensions: [5, 0, 28],
                                                                 problem: "dimension 1 is 0"))
        // 2000 columns: over the 1024 limit.
        let wide = try dir.write("wide", bytes: [0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0x07, 0xD0])
        let error = expectDataError(wide, rank: 3)
        guard case .badDimensions(_, [5, 28, 2000], let problem)? = error else {
            Issue.record("expected badDimensions, got \(String(describing: error))"); return
        }
        #expect(problem.contains("2000"))
        // 4 × 10⁹ images of 1024 × 1024: refused without trying to allocate.
        let huge = try dir.write("huge", bytes: [0, 0, 8, 3, 0xEE, 0x6B, 0x28, 0x00, 0, 0, 4, 0, 0, 0, 4, 0])
        guard case .badDimensions? = expectDataError(huge, rank: 3) else {
            Issue.record("expected badDimensions for a 4e9×1024×1024 header"); return
        }
    }

    @Test("a payload shorter than the header promises, plain and gzip")
    func truncatedPayload() throws {
        let dir = try DataTestDirectory()
        let (dims, payload) = IDXTestSupport.images(count: 5, rows: 28, columns: 28)
        let bytes = Array(IDX.encode(dimensions: dims, payload: payload).prefix(16 + 1234))
        let plain = try dir.write("train-images-idx3-ubyte", bytes: bytes)
        let gz = try dir.write("train-images-idx3-ubyte.gz", bytes: try dir.gzipped(bytes))
        for path in [plain, gz] {
            let error = expectDataError(path, rank: 3)
            #expect(error == .truncated(path: path, dimensions: [5, 28, 28], expectedBytes: 3920, foundBytes: 1234))
            #expect(error?.description == "\(path): truncated: header promises 5×28×28 = 3920 pixel bytes, "
                + "file has 1234. Re-download the file or reinstall the data set "
                + "(apt-get install --reinstall dataset-fashion-mnist).")
        }
    }

    @Test("bytes after the payload are an error, plain and gzip")
    func trailingBytes() throws {
        let dir = try DataTestDirectory()
        let (dims, payload) = IDXTestSupport.labels(count: 10)
        let bytes = IDX.encode(dimensions: dims, payload: payload) + [1, 2, 3]
        let plain = try dir.write("labels", bytes: bytes)
        let gz = try dir.write("labels.gz", bytes: try dir.gzipped(bytes))
        for path in [plain, gz] {
            let error = expectDataError(path, rank: 1)
            #expect(error == .trailingBytes(path: path, dimensions: [10], expectedBytes: 10, extraBytes: 3))
            #expect(error?.description.contains("3 unexpected bytes after the payload") == true)
            #expect(error?.description.contains("file has 13") == true)
        }
    }

    @Test("a damaged gzip stream is reported as corrupt, a cut one as cut off")
    func corruptGzip() throws {
        let dir = try DataTestDirectory()
        let (dims, payload) = IDXTestSupport.images(count: 50, rows: 28, columns: 28)
        let gz = try dir.gzipped(IDX.encode(dimensions: dims, payload: payload))
        // Byte 10 starts the deflate data after gzip's 10-byte header: 0xFF is a block of the
        // reserved type 3.
        var damaged = gz
        damaged[10] = 0xFF
        let path = try dir.write("damaged.gz", bytes: damaged)
        let error = expectDataError(path, rank: 3)
        guard case .corruptGzip(path, let message, false, _)? = error else {
            Issue.record("expected corruptGzip, got \(String(describing: error))"); return
        }
        #expect(message == "invalid block type")
        #expect(error?.description.contains("gzip stream is corrupt") == true)

        // A flipped byte in the CRC trailer: every byte decodes, the check at the end fails.
        var badCRC = gz
        badCRC[gz.count - 6] ^= 0xFF
        let crcPath = try dir.write("crc.gz", bytes: badCRC)
        guard case .corruptGzip(_, let crcMessage, false, _)? = expectDataError(crcPath, rank: 3) else {
            Issue.record("expected corruptGzip for a bad CRC"); return
        }
        #expect(crcMessage == "incorrect data check")

        let cut = try dir.write("cut.gz", bytes: Array(gz.prefix(gz.count / 2)))
        let cutError = expectDataError(cut, rank: 3)
        guard case .corruptGzip(cut, _, true, _)? = cutError else {
            Issue.record("expected a cut-off gzip stream, got \(String(describing: cutError))"); return
        }
        #expect(cutError?.description.contains("cut off") == true)
    }

    @Test("a directory given as a file is a read error, not a crash")
    func directoryAsFile() throws {
        let dir = try DataTestDirectory()
        let error = expectDataError(dir.path, rank: 3)
        #expect(error == .cannotOpen(path: dir.path, reason: "it is a directory, not an IDX file"))
    }

    @Test("a gzip file cut inside its 8-byte trailer, after a complete payload, is still refused")
    func gzipCutInTrailer() throws {
        let dir = try DataTestDirectory()
        let (dims, payload) = IDXTestSupport.labels(count: 1000)
        let gz = try dir.gzipped(IDX.encode(dimensions: dims, payload: payload))
        let path = try dir.write("cut-trailer.gz", bytes: Array(gz.dropLast(4)))
        let error = expectDataError(path, rank: 1)
        guard case .corruptGzip(path, _, true, let offset)? = error else {
            Issue.record("expected a cut-off gzip stream, got \(String(describing: error))"); return
        }
        #expect(offset == 1008)
    }
}
