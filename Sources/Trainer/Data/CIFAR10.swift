import Cell
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CIFAR-10 (Krizhevsky 2009: 60 000 RGB 32×32 images in 10 classes) in its binary version: five
/// training batches and one test batch, each a run of 3073-byte records (a label byte, then the
/// 1024 red, 1024 green and 1024 blue bytes of the image, row-major: already C×H×W).
public enum CIFAR10 {
    public static let classes = 10
    public static let channels = 3
    public static let side = 32
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"]
    /// Bytes per record: one label, then the image.
    public static let recordBytes = 1 + channels * side * side
    public static let trainFileNames = (1...5).map { "data_batch_\($0).bin" }
    public static let testFileName = "test_batch.bin"
    /// The folder the official archive (`cifar-10-binary.tar.gz`) unpacks to.
    public static let archiveFolder = "cifar-10-batches-bin"

    /// Where the batch files are: `directory` itself, or its `cifar-10-batches-bin` folder; nil when
    /// neither holds any of them.
    public static func root(of directory: String) -> String? {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        for candidate in [base, base + "/" + archiveFolder] {
            if (trainFileNames + [testFileName]).contains(where: { access(candidate + "/" + $0, F_OK) == 0 }) {
                return candidate
            }
        }
        return nil
    }

    /// Loads the 50 000 training and 10 000 test images (any number of records per file) from
    /// `directory` or its `cifar-10-batches-bin` folder. Every file's size is checked before any is
    /// read; pixels stay bytes (184 MB for the whole set), read straight into place.
    ///
    /// Throws `DataError` naming the file: missing, unreadable, not a whole number of records, or
    /// holding a label outside 0..<10.
    public static func load(directory: String) throws(DataError) -> (train: Dataset, test: Dataset) {
        let root = root(of: directory) ?? directory
        let names = trainFileNames + [testFileName]
        let missing = names.filter { access(root + "/" + $0, F_OK) != 0 }
        if !missing.isEmpty { throw .formatFilesMissing(directory: root, format: "cifar10", missing: missing) }
        let paths = names.map { root + "/" + $0 }
        var records: [Int] = []
        for path in paths {
            let bytes = try fileSize(path)
            if bytes == 0 { throw .emptyFile(path: path) }
            if bytes % recordBytes != 0 { throw .badRecordSize(path: path, fileBytes: bytes, recordBytes: recordBytes) }
            records.append(bytes / recordBytes)
        }
        var hasher = FNV1a()
        hasher.combine(Array("cifar10-binary".utf8))
        let train = try read(paths: Array(paths.prefix(5)), records: records.prefix(5).reduce(0, +),
                             name: "cifar-10/train", hasher: &hasher)
        let test = try read(paths: [paths[5]], records: records[5], name: "cifar-10/test", hasher: &hasher)
        let hash = hasher.hex
        let trainSet = Dataset(name: "cifar-10/train", count: train.labels.count, channels: channels, rows: side,
                               columns: side, classes: classes, pixels: train.pixels, labels: train.labels,
                               contentHash: hash)
        let testSet = Dataset(name: "cifar-10/test", count: test.labels.count, channels: channels, rows: side,
                              columns: side, classes: classes, pixels: test.pixels, labels: test.labels,
                              contentHash: hash, statistics: trainSet.statistics)
        return (trainSet, testSet)
    }

    /// The records of `paths`, in order, as pixels (C×H×W per image) and checked labels.
    private static func read(paths: [String], records: Int, name: String,
                             hasher: inout FNV1a) throws(DataError) -> (pixels: [UInt8], labels: [Int32]) {
        let imageBytes = recordBytes - 1
        var pixels = [UInt8]()
        pixels.reserveCapacity(records * imageBytes)
        var labels = [Int32]()
        labels.reserveCapacity(records)
        let chunkRecords = 1024
        var buffer = [UInt8](repeating: 0, count: chunkRecords * recordBytes)
        for path in paths {
            let file = try GzipFile(path: path)
            var index = 0
            while true {
                let got = try file.read(into: &buffer, range: 0..<buffer.count)
                if got == 0 { break }
                // The size was checked; a file that shrank while read is cut off.
                if got % recordBytes != 0 {
                    throw .badRecordSize(path: path, fileBytes: index * recordBytes + got, recordBytes: recordBytes)
                }
                hasher.combine(Array(buffer[0..<got]))
                for r in 0..<got / recordBytes {
                    let start = r * recordBytes
                    let label = buffer[start]
                    if Int(label) >= classes {
                        throw .labelOutOfRange(path: path, index: index, value: Int(label), classes: classes)
                    }
                    labels.append(Int32(label))
                    pixels.append(contentsOf: buffer[start + 1..<start + recordBytes])
                    index += 1
                }
                if got < buffer.count { break }
            }
        }
        return (pixels, labels)
    }

    /// The size of the plain file at `path` in bytes.
    static func fileSize(_ path: String) throws(DataError) -> Int {
        var info = stat()
        if stat(path, &info) != 0 { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .cannotOpen(path: path, reason: "it is a directory, not a file") }
        return Int(info.st_size)
    }
}
