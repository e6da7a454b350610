/// What `--data DIR` names when it holds no data set.
public enum DataFolder: Sendable, Equatable {
    /// Nothing exists at the path.
    case missing
    /// A file or anything else that is not a directory.
    case notAFolder
    /// A folder without the files of any format.
    case noDataSet
}

/// Why a data set could not be loaded; each message names the file, what is wrong and what to do.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The data-set directory does not exist, or lacks some files (each listed by its plain name).
    case dataSetMissing(directory: String, missing: [String])
    /// `--data DIR` names no folder holding a data set: see `DataFolder`.
    case noDataSet(directory: String, found: DataFolder)
    /// The file could not be opened (`reason` is the system's, e.g. "Permission denied").
    case cannotOpen(path: String, reason: String)
    /// The operating system reported a read error.
    case readFailed(path: String, reason: String)
    /// The file starts like gzip (1f 8b) but its compressed stream is damaged or cut off.
    case corruptGzip(path: String, zlibMessage: String, cutOff: Bool, decompressedBytes: Int)
    /// Zero bytes (after decompression).
    case emptyFile(path: String)
    /// The file ends inside the IDX header.
    case truncatedHeader(path: String, headerBytes: Int, fileBytes: Int)
    /// The first two bytes are not 00 00 (`bytes` holds up to the first four).
    case badMagic(path: String, bytes: [UInt8])
    /// An IDX element type other than 0x08 (unsigned byte).
    case unsupportedType(path: String, code: UInt8)
    /// Images need 3 dimensions, labels 1.
    case wrongDimensionCount(path: String, expected: Int, found: Int)
    /// A dimension is zero, too large, or the sizes overflow.
    case badDimensions(path: String, dimensions: [Int], problem: String)
    /// The payload is shorter than the header promises.
    case truncated(path: String, dimensions: [Int], expectedBytes: Int, foundBytes: Int)
    /// Bytes follow the payload the header promises.
    case trailingBytes(path: String, dimensions: [Int], expectedBytes: Int, extraBytes: Int)
    /// The images file and the labels file hold different numbers of items.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label outside `0..<classes`.
    case labelOutOfRange(path: String, index: Int, value: Int, classes: Int)
    /// Writing an IDX file failed.
    case writeFailed(path: String, reason: String)
    /// Train and test images differ in size.
    case shapeMismatch(trainPath: String, trainShape: [Int], testPath: String, testShape: [Int])
    /// The directory lacks some files of `format` (`cifar10`, `npy`).
    case formatFilesMissing(directory: String, format: String, missing: [String])
    /// The directory holds the files of more than one format; `--data-format` picks one.
    case ambiguousFormat(directory: String, formats: [String])
    /// A CIFAR-10 binary file whose size is not a whole number of records.
    case badRecordSize(path: String, fileBytes: Int, recordBytes: Int)
    /// A `.npy` file that is not one this reader takes (`problem` says why and what to do).
    case badNpy(path: String, problem: String)
    /// A `.npy` file whose data are shorter or longer than its header's shape promises.
    case npySize(path: String, shape: [Int], expectedBytes: Int, foundBytes: Int)

    /// What to do about a damaged file.
    static let reinstallHint =
        "Re-download the file or reinstall the data set (apt-get install --reinstall dataset-fashion-mnist)."
    /// Where the official CIFAR-10 binary files come from.
    static let cifarHint = "Re-download CIFAR-10's binary version (cifar-10-binary.tar.gz from "
        + "https://www.cs.toronto.edu/~kriz/cifar.html) and unpack it with `tar xzf`."
    /// The data-set formats besides IDX, as the messages list them.
    static let otherFormats = "CIFAR-10's binary batches (data_batch_1.bin ... test_batch.bin) or NumPy files "
        + "(train_x.npy, train_y.npy, test_x.npy, test_y.npy)"
    static let npyHint = "Write the file again with numpy.save (pixels as uint8, labels as integers)."

    /// What to do about a damaged file at `path`, by its format.
    static func hint(_ path: String) -> String {
        if path.hasSuffix(".npy") || path.hasSuffix(".npy.gz") { return npyHint }
        if path.hasSuffix(".bin") || path.hasSuffix(".bin.gz") { return cifarHint }
        return reinstallHint
    }

    public var description: String {
        switch self {
        case let .dataSetMissing(directory, missing):
            let files = missing.map { "\($0)[.gz]" }.joined(separator: ", ")
            return "Fashion-MNIST not found in \(directory): missing \(files). "
                + "Install it with `apt-get install dataset-fashion-mnist` "
                + "or pass `--data DIR` with a directory holding the four IDX files (gzip-compressed or plain), "
                + Self.otherFormats + "."
        case let .noDataSet(directory, found):
            let idx = FashionMNIST.fileNames.map { "\($0)[.gz]" }.joined(separator: ", ")
            let formats = "the four IDX files (\(idx)), " + Self.otherFormats
            let what: String
            switch found {
            case .missing: what = "no folder \(directory): give --data a folder holding \(formats). "
            case .notAFolder: what = "\(directory) is not a folder: give --data a folder holding \(formats). "
            case .noDataSet: what = "no data set in \(directory): it holds none of \(formats). "
            }
            return what
                + "Fashion-MNIST installs with `apt-get install dataset-fashion-mnist` (then leave --data out)."
        case let .cannotOpen(path, reason):
            return "\(path): cannot open: \(reason). Check that the file exists and is readable, "
                + "or pass `--data DIR` to use another copy."
        case let .readFailed(path, reason):
            return "\(path): read error: \(reason). " + Self.hint(path)
        case let .corruptGzip(path, message, cutOff, done):
            let what = cutOff
                ? "the gzip stream ends early (the .gz file is cut off)"
                : "the gzip stream is corrupt"
            return "\(path): \(what) at or after decompressed byte \(done) (zlib: \(message)). " + Self.hint(path)
        case let .emptyFile(path):
            return "\(path): the file is empty (0 bytes after decompression). " + Self.hint(path)
        case let .truncatedHeader(path, header, have):
            return "\(path): truncated IDX header: needs \(header) bytes, file has \(have). " + Self.reinstallHint
        case let .badMagic(path, bytes):
            let hex = bytes.map { hexByte($0) }.joined(separator: " ")
            var guess = ""
            if bytes.first == UInt8(ascii: "<") {
                guess = " (it looks like an HTML page: a failed download?)"
            } else if bytes.starts(with: [0x50, 0x4B]) {
                guess = " (it looks like a zip archive: unzip it first)"
            }
            return "\(path): not an IDX file: it starts with \(hex)\(guess), an IDX file starts with "
                + "00 00 <type> <rank>. " + Self.reinstallHint
        case let .unsupportedType(path, code):
            return "\(path): IDX element type 0x\(hexByte(code)) (\(idxTypeName(code))) is not supported; "
                + "only 0x08 (unsigned byte), which Fashion-MNIST uses. " + Self.reinstallHint
        case let .wrongDimensionCount(path, expected, found):
            let kind = expected == 3 ? "an images file" : expected == 1 ? "a labels file" : "this file"
            return "\(path): has \(found) dimension\(found == 1 ? "" : "s"), \(kind) needs \(expected). "
                + "Are the images and labels files swapped? " + Self.reinstallHint
        case let .badDimensions(path, dimensions, problem):
            return "\(path): bad IDX dimensions \(shape(dimensions)): \(problem). " + Self.reinstallHint
        case let .truncated(path, dimensions, expected, found):
            return "\(path): truncated: header promises \(shape(dimensions)) = \(expected) "
                + "\(payloadNoun(dimensions)), file has \(found). " + Self.reinstallHint
        case let .trailingBytes(path, dimensions, expected, extra):
            return "\(path): \(extra) unexpected byte\(extra == 1 ? "" : "s") after the payload: header promises "
                + "\(shape(dimensions)) = \(expected) \(payloadNoun(dimensions)), file has \(expected + extra). "
                + "The header or the file is wrong. " + Self.reinstallHint
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels; "
                + "the two files must come from the same split. " + Self.hint(labelsPath)
        case let .labelOutOfRange(path, index, value, classes):
            return "\(path): label \(value) at index \(index) is outside 0..<\(classes); "
                + "this is not a \(classes)-class labels file or it is corrupt. " + Self.hint(path)
        case let .writeFailed(path, reason):
            return "\(path): cannot write: \(reason). Check the directory exists, is writable and has free space."
        case let .shapeMismatch(trainPath, trainShape, testPath, testShape):
            return "\(trainPath) holds \(shape(trainShape)) images but \(testPath) holds \(shape(testShape)); "
                + "train and test images must have the same size. " + Self.hint(testPath)
        case let .formatFilesMissing(directory, format, missing):
            return "\(directory): missing \(missing.joined(separator: ", ")) for the \(format) format. "
                + (format == "cifar10" ? Self.cifarHint
                    : "Write the four arrays with numpy.save: train_x.npy, train_y.npy, test_x.npy, test_y.npy.")
        case let .ambiguousFormat(directory, formats):
            return "\(directory) holds files of several formats (\(formats.joined(separator: ", "))): "
                + "pass --data-format \(formats.joined(separator: "|")) to pick one."
        case let .badRecordSize(path, bytes, record):
            let extra = bytes % record
            return "\(path): \(bytes) bytes is not a whole number of \(record)-byte CIFAR-10 records "
                + "(1 label byte + 3072 pixel bytes): \(bytes / record) records and \(extra) byte\(extra == 1 ? "" : "s") "
                + "left over, so the file is cut off or not CIFAR-10's binary version. " + Self.cifarHint
        case let .badNpy(path, problem):
            return "\(path): \(problem)"
        case let .npySize(path, shape, expected, found):
            let what = found < expected ? "truncated" : "\(found - expected) unexpected bytes after the data"
            return "\(path): \(what): the header promises shape (\(shape.map(String.init).joined(separator: ", "))) "
                + "= \(expected) data bytes, the file has \(found). " + Self.npyHint
        }
    }
}

/// `60000×28×28`.
private func shape(_ dimensions: [Int]) -> String {
    dimensions.map(String.init).joined(separator: "×")
}

private func payloadNoun(_ dimensions: [Int]) -> String {
    switch dimensions.count {
    case 3: return "pixel bytes"
    case 1: return "label bytes"
    default: return "bytes"
    }
}

private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// The element types the IDX format defines.
private func idxTypeName(_ code: UInt8) -> String {
    switch code {
    case 0x08: return "unsigned byte"
    case 0x09: return "signed byte"
    case 0x0B: return "16-bit integer"
    case 0x0C: return "32-bit integer"
    case 0x0D: return "32-bit float"
    case 0x0E: return "64-bit float"
    default: return "not an IDX type"
    }
}
