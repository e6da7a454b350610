import Cell
import Foundation
import Testing
import Trainer

/// Writers of small data sets in each format, as Python and the CIFAR-10 archive write them.
enum DataFormatTestSupport {
    /// A `.npy` file (format 1.0, as `numpy.save` writes it): magic, version, header length, the
    /// header dict padded with spaces to a multiple of 64 bytes and ended by a newline, the data.
    static func npy(descr: String, shape: [Int], data: [UInt8], fortran: Bool = false) -> [UInt8] {
        let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 255), UInt8(length >> 8)] + Array(header.utf8) + data
    }

    /// Int64 little-endian bytes of `values` (numpy's default integer on Linux, '<i8').
    static func int64(_ values: [Int]) -> [UInt8] {
        values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: Int64(v) >> (8 * $0)) } }
    }

    /// Images N×H×W×C (channels last) whose byte at (i, y, x, c) is a fixed function of all four.
    static func channelsLast(count: Int, rows: Int, columns: Int, channels: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * rows * columns * channels)
        for i in 0..<count { for y in 0..<rows { for x in 0..<columns { for c in 0..<channels {
            bytes.append(UInt8((i * 31 + y * 7 + x * 3 + c * 90) % 256))
        } } } }
        return bytes
    }

    /// Writes the four `.npy` files; labels are `i % classes`.
    @discardableResult
    static func writeNumPy(in dir: DataTestDirectory, train: Int = 12, test: Int = 5, rows: Int = 4, columns: Int = 3,
                           channels: Int? = nil, classes: Int = 3) throws -> [String] {
        func shape(_ n: Int) -> [Int] { [n, rows, columns] + (channels.map { [$0] } ?? []) }
        let c = channels ?? 1
        return [
            try dir.write("train_x.npy", bytes: npy(descr: "|u1", shape: shape(train),
                                                     data: channelsLast(count: train, rows: rows, columns: columns, channels: c))),
            try dir.write("train_y.npy", bytes: npy(descr: "<i8", shape: [train], data: int64((0..<train).map { $0 % classes }))),
            try dir.write("test_x.npy", bytes: npy(descr: "|u1", shape: shape(test),
                                                    data: channelsLast(count: test, rows: rows, columns: columns, channels: c))),
            try dir.write("test_y.npy", bytes: npy(descr: "<i8", shape: [test], data: int64((0..<test).map { $0 % classes }))),
        ]
    }

    /// One CIFAR-10 binary file of `records` records: label `(first + r) % 10`, then 3072 bytes.
    static func cifarFile(records: Int, first: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records * 3073)
        for r in 0..<records {
            bytes.append(UInt8((first + r) % 10))
            for k in 0..<3072 { bytes.append(UInt8((k / 1024 * 80 + (first + r) * 13 + k % 97) % 256)) }
        }
        return bytes
    }

    /// Writes the five training batches and the test batch (`records` each) into `folder` of `dir`.
    @discardableResult
    static func writeCIFAR(in dir: DataTestDirectory, folder: String? = nil, records: Int = 4) throws -> [String] {
        let prefix = folder.map { $0 + "/" } ?? ""
        if let folder {
            try FileManager.default.createDirectory(atPath: dir.path + "/" + folder, withIntermediateDirectories: true)
        }
        var paths: [String] = []
        for (k, name) in (CIFAR10.trainFileNames + [CIFAR10.testFileName]).enumerated() {
            paths.append(try dir.write(prefix + name, bytes: cifarFile(records: records, first: k * records)))
        }
        return paths
    }
}

private func loadError(_ directory: String, format: DataFormat? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) -> DataError? {
    #expect(throws: DataError.self, sourceLocation: sourceLocation) {
        try DataDirectory.load(directory: directory, format: format)
    }
}

/// Per-channel mean and sd of C×H×W images by the plain definition (two passes, in Double).
private func referenceStatistics(_ pixels: [UInt8], channels: Int, plane: Int) -> (mean: [Double], std: [Double]) {
    let count = pixels.count / (channels * plane)
    var means: [Double] = [], stds: [Double] = []
    pixels.withUnsafeBufferPointer { bytes in
        for c in 0..<channels {
            var sum = 0.0
            for i in 0..<count { for k in 0..<plane { sum += Double(bytes[(i * channels + c) * plane + k]) / 255 } }
            let mean = sum / Double(count * plane)
            var squares = 0.0
            for i in 0..<count { for k in 0..<plane {
                let d = Double(bytes[(i * channels + c) * plane + k]) / 255 - mean
                squares += d * d
            } }
            means.append(mean)
            stds.append((squares / Double(count * plane)).squareRoot())
        }
    }
    return (means, stds)
}

@Suite("Input statistics")
struct InputStatisticsTests {
    @Test("statistics are rounded to 4 decimals; a constant channel is only centred")
    func rounding() {
        let s = InputStatistics(exactMean: [0.28604060, 0.49139968], exactStd: [0.35302424, 0.00004])
        #expect(s.mean == [0.286, 0.4914])
        #expect(s.std == [0.353, 1])
        #expect(s.floatMean(0) == Float(0.2860) && s.floatStd(0) == Float(0.3530))
        #expect(s.floatMean(1) == Float(0.4914))
    }

    @Test("Fashion-MNIST's rounded statistics give exactly the 0.1.0 inputs, bit for bit")
    func fashionMNISTLookup() {
        // 0.28604060 and 0.35302424: Fashion-MNIST's training set, computed with numpy.
        let s = InputStatistics(exactMean: [0.28604060], exactStd: [0.35302424])
        let data = Dataset(name: "x", count: 1, rows: 1, columns: 1, classes: 2, pixels: [0], labels: [0],
                           contentHash: "x", statistics: s)
        #expect(data.pixelLookup.map(\.bitPattern) == Normalization.pixelValues.map(\.bitPattern))
    }

    @Test("a set's own statistics match the plain definition, per channel of C×H×W images")
    func perChannel() {
        var pixels: [UInt8] = []
        for k in 0..<120 { pixels.append(UInt8((k * 37 + k / 8 * 50) % 256)) }
        let data = Dataset(name: "rgb", count: 5, channels: 3, rows: 4, columns: 2, classes: 2, pixels: pixels,
                           labels: [0, 1, 0, 1, 0], contentHash: "rgb")
        let reference = referenceStatistics(pixels, channels: 3, plane: 8)
        #expect(data.statistics == InputStatistics(exactMean: reference.mean, exactStd: reference.std))
        let distinct = Set(data.statistics.mean).count
        #expect(distinct == 3, "channels differ: \(data.statistics.mean)")
        #expect(data.pixelLookup.count == 3 * 256 && data.imageSize == 24)
        // Image 2, channel 1, pixel 5 goes through channel 1's entries.
        let byte = pixels[2 * 24 + 8 + 5]
        let expected = (Float(byte) / 255 - data.statistics.floatMean(1)) / data.statistics.floatStd(1)
        #expect(data.image(2)[8 + 5] == expected)
        // A subset keeps the set's statistics.
        #expect(data.subset(0..<1).statistics == data.statistics)
    }
}

@Suite("Data formats")
struct DataFormatTests {
    @Test("NumPy N×H×W arrays load with classes from the labels and the training set's statistics")
    func numPyGrey() throws {
        let dir = try DataTestDirectory()
        try DataFormatTestSupport.writeNumPy(in: dir, classes: 3)
        #expect(try DataDirectory.detect(dir.path) == .npy)
        let (train, test) = try DataDirectory.load(directory: dir.path)
        #expect(train.count == 12 && test.count == 5 && train.channels == 1 && train.rows == 4 && train.columns == 3)
        #expect(train.classes == 3 && test.classes == 3)
        #expect(train.labels == (0..<12).map { Int32($0 % 3) })
        #expect(train.pixels == DataFormatTestSupport.channelsLast(count: 12, rows: 4, columns: 3, channels: 1))
        let reference = referenceStatistics(train.pixels, channels: 1, plane: 12)
        #expect(train.statistics == InputStatistics(exactMean: reference.mean, exactStd: reference.std))
        #expect(test.statistics == train.statistics, "the test set uses the training set's statistics")
        #expect(train.contentHash == test.contentHash && train.contentHash.count == 16)
        let name = URL(fileURLWithPath: dir.path).lastPathComponent
        #expect(train.name == name + "/train" && test.name == name + "/test")
    }

    @Test("NumPy N×H×W×C arrays are transposed to C×H×W")
    func numPyChannelsLast() throws {
        let dir = try DataTestDirectory()
        try DataFormatTestSupport.writeNumPy(in: dir, rows: 4, columns: 3, channels: 3)
        let train = try DataDirectory.load(directory: dir.path, format: .npy).train
        #expect(train.channels == 3 && train.imageSize == 36)
        let source = DataFormatTestSupport.channelsLast(count: 12, rows: 4, columns: 3, channels: 3)
        for i in [0, 7, 11] { for c in 0..<3 { for p in 0..<12 {
            #expect(train.pixels[i * 36 + c * 12 + p] == source[i * 36 + p * 3 + c])
        } } }
        #expect(train.statistics.channels == 3)
    }

    @Test("labels of any integer dtype and byte order read the same")
    func numPyLabelTypes() throws {
        let labels = [2, 0, 1, 1, 0]
        let encodings: [(String, [UInt8])] = [
            ("|u1", labels.map(UInt8.init)),
            (">i4", labels.flatMap { [0, 0, 0, UInt8($0)] }),
            ("<u2", labels.flatMap { [UInt8($0), 0] }),
            ("<i8", DataFormatTestSupport.int64(labels)),
        ]
        for (descr, bytes) in encodings {
            let dir = try DataTestDirectory()
            try DataFormatTestSupport.writeNumPy(in: dir, train: 5, test: 5)
            try dir.write("train_y.npy", bytes: DataFormatTestSupport.npy(descr: descr, shape: [5], data: bytes))
            let train = try DataDirectory.load(directory: dir.path).train
            #expect(train.labels == labels.map(Int32.init), "\(descr)")
        }
    }

    @Test("broken NumPy files are refused naming the file and the offending value")
    func numPyErrors() throws {
        typealias S = DataFormatTestSupport
        func withFile(_ name: String, _ bytes: [UInt8]) throws -> (DataError?, String) {
            let dir = try DataTestDirectory()
            try S.writeNumPy(in: dir)
            let path = try dir.write(name, bytes: bytes)
            return (loadError(dir.path), path)
        }
        let pixels = S.channelsLast(count: 12, rows: 4, columns: 3, channels: 1)
        // Truncated and overlong data.
        var (error, path) = try withFile("train_x.npy", S.npy(descr: "|u1", shape: [12, 4, 3], data: Array(pixels.dropLast(5))))
        #expect(error == .npySize(path: path, shape: [12, 4, 3], expectedBytes: 144, foundBytes: 139))
        #expect(error?.description.contains("truncated") == true)
        (error, path) = try withFile("train_x.npy", S.npy(descr: "|u1", shape: [12, 4, 3], data: pixels + [1, 2]))
        #expect(error == .npySize(path: path, shape: [12, 4, 3], expectedBytes: 144, foundBytes: 146))
        // Image and label counts that differ.
        (error, path) = try withFile("train_y.npy", S.npy(descr: "<i8", shape: [11], data: S.int64(Array(0..<11).map { $0 % 3 })))
        #expect(error == .countMismatch(imagesPath: pathIn(path, "train_x.npy"), images: 12, labelsPath: path, labels: 11))
        // Labels: negative in training, beyond the training classes in test.
        (error, path) = try withFile("train_y.npy", S.npy(descr: "<i8", shape: [12], data: S.int64([0, 1, 2, -1] + Array(repeating: 0, count: 8))))
        #expect(error == .labelOutOfRange(path: path, index: 3, value: -1, classes: NumPyDataset.maxLabel + 1))
        (error, path) = try withFile("test_y.npy", S.npy(descr: "<i8", shape: [5], data: S.int64([0, 1, 2, 3, 0])))
        #expect(error == .labelOutOfRange(path: path, index: 3, value: 3, classes: 3))
        #expect(error?.description.contains("label 3 at index 3 is outside 0..<3") == true)
        // Float pixels, Fortran order, channels first, a wrong magic: each says what to do.
        (error, path) = try withFile("test_x.npy", S.npy(descr: "<f4", shape: [5, 4, 3], data: [UInt8](repeating: 0, count: 240)))
        #expect(error?.description.contains("'<f4'") == true && error?.description.contains("astype(numpy.uint8)") == true)
        (error, path) = try withFile("train_x.npy", S.npy(descr: "|u1", shape: [12, 4, 3], data: pixels, fortran: true))
        #expect(error?.description.contains("numpy.ascontiguousarray") == true, "\(String(describing: error))")
        (error, path) = try withFile("train_x.npy", S.npy(descr: "|u1", shape: [2, 3, 4, 6], data: [UInt8](repeating: 0, count: 144)))
        #expect(error?.description.contains("numpy.transpose(x, (0, 2, 3, 1))") == true, "\(String(describing: error))")
        (error, path) = try withFile("train_x.npy", Array("PK\u{3}\u{4}not numpy".utf8))
        #expect(error?.description.hasPrefix(path + ": not a .npy file") == true, "\(String(describing: error))")
        (error, path) = try withFile("train_y.npy", S.npy(descr: "<i8", shape: [12], data: S.int64(Array(repeating: 0, count: 12))))
        #expect(error?.description.contains("at least 2 classes") == true)
        // A missing file.
        let dir = try DataTestDirectory()
        try S.writeNumPy(in: dir)
        try FileManager.default.removeItem(atPath: dir.path + "/test_y.npy")
        #expect(loadError(dir.path) == .formatFilesMissing(directory: dir.path, format: "npy", missing: ["test_y.npy"]))
    }

    @Test("CIFAR-10 binary batches load as 3-channel 32×32 images, from the folder or its archive folder")
    func cifar() throws {
        for folder in [nil, CIFAR10.archiveFolder] {
            let dir = try DataTestDirectory()
            try DataFormatTestSupport.writeCIFAR(in: dir, folder: folder, records: 4)
            #expect(try DataDirectory.detect(dir.path) == .cifar10)
            let (train, test) = try DataDirectory.load(directory: dir.path)
            #expect(train.count == 20 && test.count == 4)
            #expect(train.channels == 3 && train.rows == 32 && train.columns == 32 && train.classes == 10)
            #expect(train.name == "cifar-10/train" && test.name == "cifar-10/test")
            #expect(train.labels == (0..<20).map { Int32($0 % 10) } && test.labels == (20..<24).map { Int32($0 % 10) })
            // Image 6 is the third record of data_batch_2.bin.
            let record = DataFormatTestSupport.cifarFile(records: 3, first: 4).suffix(3073)
            #expect(Array(train.pixels[6 * 3072..<7 * 3072]) == Array(record.dropFirst()))
            let reference = referenceStatistics(train.pixels, channels: 3, plane: 1024)
            #expect(train.statistics == InputStatistics(exactMean: reference.mean, exactStd: reference.std))
            #expect(test.statistics == train.statistics)
        }
    }

    @Test("the CIFAR-10 hash covers every byte")
    func cifarHash() throws {
        let a = try DataTestDirectory(), b = try DataTestDirectory()
        try DataFormatTestSupport.writeCIFAR(in: a)
        let paths = try DataFormatTestSupport.writeCIFAR(in: b)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: paths[5])))
        bytes[100] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: paths[5]))
        let hashA = try DataDirectory.load(directory: a.path).train.contentHash
        #expect(hashA == (try DataDirectory.load(directory: a.path).train.contentHash))
        #expect(hashA != (try DataDirectory.load(directory: b.path).train.contentHash))
    }

    @Test("broken CIFAR-10 files are refused naming the file and the offending value")
    func cifarErrors() throws {
        var dir = try DataTestDirectory()
        var paths = try DataFormatTestSupport.writeCIFAR(in: dir, records: 3)
        try dir.write("data_batch_3.bin", bytes: Array(DataFormatTestSupport.cifarFile(records: 3).dropLast(10)))
        var error = loadError(dir.path)
        #expect(error == .badRecordSize(path: paths[2], fileBytes: 3 * 3073 - 10, recordBytes: 3073))
        #expect(error?.description.contains("2 records and 3063 bytes left over") == true, "\(String(describing: error))")

        dir = try DataTestDirectory()
        paths = try DataFormatTestSupport.writeCIFAR(in: dir, records: 3)
        var bytes = DataFormatTestSupport.cifarFile(records: 3)
        bytes[2 * 3073] = 10
        try dir.write("test_batch.bin", bytes: bytes)
        error = loadError(dir.path)
        #expect(error == .labelOutOfRange(path: paths[5], index: 2, value: 10, classes: 10))
        #expect(error?.description.contains("cifar-10-binary.tar.gz") == true)

        dir = try DataTestDirectory()
        paths = try DataFormatTestSupport.writeCIFAR(in: dir, records: 3)
        try FileManager.default.removeItem(atPath: paths[4])
        #expect(loadError(dir.path) == .formatFilesMissing(directory: dir.path, format: "cifar10",
                                                           missing: ["data_batch_5.bin"]))
    }

    @Test("the format is recognised by the file names; two formats in one folder need --data-format")
    func detection() throws {
        let dir = try DataTestDirectory()
        try DataFormatTestSupport.writeNumPy(in: dir)
        try DataFormatTestSupport.writeCIFAR(in: dir, records: 2)
        #expect(throws: DataError.ambiguousFormat(directory: dir.path, formats: ["cifar10", "npy"])) {
            try DataDirectory.detect(dir.path)
        }
        #expect(loadError(dir.path)?.description.contains("--data-format cifar10|npy") == true)
        #expect(try DataDirectory.load(directory: dir.path, format: .npy).train.channels == 1)
        #expect(try DataDirectory.load(directory: dir.path, format: .cifar10).train.channels == 3)
        // Forced to a format whose files are not there: the missing IDX files are named.
        if case .dataSetMissing(_, let missing)? = loadError(dir.path, format: .idx) {
            #expect(missing == FashionMNIST.fileNames)
        } else {
            Issue.record("expected missing IDX files")
        }
        // An empty folder, or one that does not exist, is named as such with every format's files.
        let empty = try DataTestDirectory()
        #expect(throws: DataError.noDataSet(directory: empty.path, found: .noDataSet)) { try DataDirectory.detect(empty.path) }
        let none = loadError(empty.path)?.description ?? ""
        #expect(none.hasPrefix("no data set in \(empty.path): it holds none of the four IDX files")
                && none.contains("test_batch.bin") && none.contains("train_x.npy"), "\(none)")
        let missing = loadError(empty.path + "/nowhere")?.description ?? ""
        #expect(missing.hasPrefix("no folder \(empty.path)/nowhere: give --data a folder holding"), "\(missing)")
        FileManager.default.createFile(atPath: empty.path + "/a-file", contents: Data([1]))
        let file = loadError(empty.path + "/a-file")?.description ?? ""
        #expect(file.hasPrefix("\(empty.path)/a-file is not a folder: give --data a folder holding"), "\(file)")
        // Fashion-MNIST's own folder, empty, still says how to install it.
        if access(FashionMNIST.defaultDirectory, F_OK) != 0 {
            #expect(try DataDirectory.detect(FashionMNIST.defaultDirectory) == .idx)
        }
    }

    @Test("other IDX sets are named after their folder, with their own statistics")
    func otherIDX() throws {
        let root = try DataTestDirectory()
        let mnist = root.path + "/mnist"
        try FileManager.default.createDirectory(atPath: mnist, withIntermediateDirectories: true)
        for (name, array) in [("train-images-idx3-ubyte", IDXTestSupport.images(count: 12)),
                              ("train-labels-idx1-ubyte", IDXTestSupport.labels(count: 12)),
                              ("t10k-images-idx3-ubyte", IDXTestSupport.images(count: 5)),
                              ("t10k-labels-idx1-ubyte", IDXTestSupport.labels(count: 5))] {
            try IDX.write(path: mnist + "/" + name + ".gz", dimensions: array.dimensions, payload: array.payload, gzip: true)
        }
        let (train, test) = try DataDirectory.load(directory: mnist + "/")
        #expect(train.name == "mnist/train" && test.name == "mnist/test" && train.classes == 10)
        let reference = referenceStatistics(train.pixels, channels: 1, plane: 12)
        #expect(train.statistics == InputStatistics(exactMean: reference.mean, exactStd: reference.std))
        #expect(train.statistics.mean != [Double(Normalization.mean)])
        #expect(test.statistics == train.statistics)
        // FashionMNIST.load keeps its name for any folder.
        #expect(try FashionMNIST.load(directory: mnist).train.name == "fashion-mnist/train")
    }

    @Test("the installed Fashion-MNIST gets 0.2860 and 0.3530 and the 0.1.0 inputs bit for bit",
          .enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory),
                   "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func fashionMNIST() throws {
        let (train, test) = try DataDirectory.load(directory: FashionMNIST.defaultDirectory)
        #expect(train.statistics.mean == [0.286] && train.statistics.std == [0.353])
        #expect(test.statistics == train.statistics)
        #expect(train.pixelLookup.map(\.bitPattern) == Normalization.pixelValues.map(\.bitPattern))
        #expect(train.contentHash == FashionMNIST.contentHash)
        #expect(train.name == "fashion-mnist/train" && test.name == "fashion-mnist/test")
        // The exact values, before rounding, are 0.28604… and 0.35302….
        let reference = referenceStatistics(train.pixels, channels: 1, plane: 784)
        #expect(abs(reference.mean[0] - 0.28604) < 1e-5 && abs(reference.std[0] - 0.35302) < 1e-5, "\(reference)")
    }
}

/// `name` in the folder of `path`.
private func pathIn(_ path: String, _ name: String) -> String {
    URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
}
