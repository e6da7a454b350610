import Cell
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A data set saved from Python with `numpy.save`: `train_x.npy` (uint8, N×H×W or N×H×W×C),
/// `train_y.npy` (integer labels, N), and the `test_` pair. Images N×H×W×C are transposed on load
/// to C×H×W, which the network reads. Classes are 0..<(largest training label + 1).
public enum NumPyDataset {
    public static let fileNames = ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"]
    /// Most channels accepted per image (grey, grey + alpha, RGB, RGBA).
    public static let maxChannels = 4
    /// Largest label accepted; far more classes than any network here has outputs.
    public static let maxLabel = 65_535

    /// Loads the four files from `directory`, named `name/train` and `name/test`; the test set is
    /// standardised with the training set's statistics.
    ///
    /// Throws `DataError` naming the file and the offending value: a header this reader does not
    /// take (with the numpy call that fixes it), a truncated file, counts or image sizes that do
    /// not match, a label outside the classes.
    public static func load(directory: String, name: String) throws(DataError) -> (train: Dataset, test: Dataset) {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let missing = fileNames.filter { access(base + "/" + $0, F_OK) != 0 }
        if !missing.isEmpty { throw .formatFilesMissing(directory: directory, format: "npy", missing: missing) }
        let paths = fileNames.map { base + "/" + $0 }
        var hasher = FNV1a()
        hasher.combine(Array("npy".utf8))
        let trainImages = try readImages(path: paths[0], hasher: &hasher)
        let trainLabels = try readLabels(path: paths[1], hasher: &hasher)
        let testImages = try readImages(path: paths[2], hasher: &hasher)
        let testLabels = try readLabels(path: paths[3], hasher: &hasher)
        for (images, labels) in [(trainImages, trainLabels), (testImages, testLabels)]
        where images.count != labels.values.count {
            throw .countMismatch(imagesPath: images.path, images: images.count, labelsPath: labels.path,
                                 labels: labels.values.count)
        }
        if trainImages.shape.dropFirst() != testImages.shape.dropFirst() {
            throw .shapeMismatch(trainPath: paths[0], trainShape: Array(trainImages.shape.dropFirst()),
                                 testPath: paths[2], testShape: Array(testImages.shape.dropFirst()))
        }
        for labels in [trainLabels, testLabels] {
            if let bad = labels.values.firstIndex(where: { $0 < 0 || $0 > Int64(maxLabel) }) {
                throw .labelOutOfRange(path: labels.path, index: bad, value: Int(labels.values[bad]),
                                       classes: maxLabel + 1)
            }
        }
        let classes = Int(trainLabels.values.max() ?? 0) + 1
        if classes < 2 {
            throw .badNpy(path: paths[1], problem: "every label is 0: a classifier needs at least 2 classes "
                          + "(labels 0..<classes, one integer per image).")
        }
        if let bad = testLabels.values.firstIndex(where: { $0 >= Int64(classes) }) {
            throw .labelOutOfRange(path: paths[3], index: bad, value: Int(testLabels.values[bad]), classes: classes)
        }
        let hash = hasher.hex
        let train = Dataset(name: name + "/train", count: trainImages.count, channels: trainImages.channels,
                            rows: trainImages.rows, columns: trainImages.columns, classes: classes,
                            pixels: trainImages.pixels, labels: trainLabels.values.map { Int32($0) },
                            contentHash: hash)
        let test = Dataset(name: name + "/test", count: testImages.count, channels: testImages.channels,
                           rows: testImages.rows, columns: testImages.columns, classes: classes,
                           pixels: testImages.pixels, labels: testLabels.values.map { Int32($0) },
                           contentHash: hash, statistics: train.statistics)
        return (train, test)
    }

    /// Images as C×H×W bytes, with the file's own shape.
    struct Images {
        let path: String
        let shape: [Int]
        let count: Int, rows: Int, columns: Int, channels: Int
        let pixels: [UInt8]
    }

    struct Labels {
        let path: String
        let values: [Int64]
    }

    /// Reads a uint8 array N×H×W or N×H×W×C, transposing N×H×W×C to C×H×W image by image (no
    /// second copy of the whole array: a worker holding CIFAR-10 stays small).
    static func readImages(path: String, hasher: inout FNV1a) throws(DataError) -> Images {
        let file = try GzipFile(path: path)
        let header = try NpyHeader.read(file, path: path, hasher: &hasher)
        guard header.kind == "u" && header.itemBytes == 1 else {
            throw .badNpy(path: path, problem: "pixels of dtype '\(header.descr)' are not supported: save them "
                          + "as uint8 0..255, e.g. numpy.save('\(basename(path))', (x * 255).round().astype(numpy.uint8)) "
                          + "for floats in [0, 1].")
        }
        let shape = header.shape
        guard shape.count == 3 || shape.count == 4 else {
            throw .badNpy(path: path, problem: "images of shape \(header.shapeText) are not supported: give "
                          + "N×H×W (grey) or N×H×W×C (C channels last).")
        }
        let channels = shape.count == 4 ? shape[3] : 1
        if shape.count == 4 && !(1...maxChannels).contains(channels) {
            let hint = (1...maxChannels).contains(shape[1])
                ? " It looks channels-first: save numpy.transpose(x, (0, 2, 3, 1))." : ""
            throw .badNpy(path: path, problem: "images of shape \(header.shapeText) have \(channels) channels "
                          + "in the last dimension; N×H×W×C needs C in 1...\(maxChannels).\(hint)")
        }
        if let zero = shape.firstIndex(of: 0) {
            throw .badNpy(path: path, problem: "shape \(header.shapeText) has a 0 in dimension \(zero): no images.")
        }
        for side in shape[1...2] where side > IDX.maxImageSide {
            throw .badNpy(path: path, problem: "image side \(side) in shape \(header.shapeText) exceeds "
                          + "\(IDX.maxImageSide).")
        }
        let count = shape[0], rows = shape[1], columns = shape[2]
        let imageBytes = rows * columns * channels
        let (total, overflow) = count.multipliedReportingOverflow(by: imageBytes)
        if overflow || total > 1 << 40 {
            throw .badNpy(path: path, problem: "shape \(header.shapeText) is over 2^40 bytes.")
        }
        var pixels = [UInt8](repeating: 0, count: total)
        let chunkImages = max(1, (1 << 22) / imageBytes)
        var buffer = [UInt8](repeating: 0, count: chunkImages * imageBytes)
        var done = 0
        while done < count {
            let images = min(chunkImages, count - done)
            let want = images * imageBytes
            let got = try file.read(into: &buffer, range: 0..<want)
            if got < want {
                throw .npySize(path: path, shape: shape, expectedBytes: total, foundBytes: done * imageBytes + got)
            }
            hasher.combine(Array(buffer[0..<want]))
            let plane = rows * columns
            pixels.withUnsafeMutableBufferPointer { out in
                buffer.withUnsafeBufferPointer { src in
                    for i in 0..<images {
                        let from = i * imageBytes, to = (done + i) * imageBytes
                        if channels == 1 {
                            for k in 0..<imageBytes { out[to + k] = src[from + k] }
                        } else {
                            // (H, W, C) → (C, H, W)
                            for p in 0..<plane {
                                for c in 0..<channels { out[to + c * plane + p] = src[from + p * channels + c] }
                            }
                        }
                    }
                }
            }
            done += images
        }
        try expectEnd(file, path: path, shape: shape, expected: total)
        return Images(path: path, shape: shape, count: count, rows: rows, columns: columns, channels: channels,
                      pixels: pixels)
    }

    /// Reads integer labels of shape (N) or (N, 1), of any integer dtype and byte order.
    static func readLabels(path: String, hasher: inout FNV1a) throws(DataError) -> Labels {
        let file = try GzipFile(path: path)
        let header = try NpyHeader.read(file, path: path, hasher: &hasher)
        guard (header.kind == "u" || header.kind == "i") && [1, 2, 4, 8].contains(header.itemBytes) else {
            throw .badNpy(path: path, problem: "labels of dtype '\(header.descr)' are not supported: save "
                          + "integers, e.g. numpy.save('\(basename(path))', y.astype(numpy.int64)).")
        }
        let shape = header.shape
        guard shape.count == 1 || shape.count == 2 && shape[1] == 1 else {
            throw .badNpy(path: path, problem: "labels of shape \(header.shapeText) are not supported: give one "
                          + "integer per image, shape (N,) (numpy.save('\(basename(path))', y.reshape(-1))).")
        }
        let count = shape[0], size = header.itemBytes
        guard count <= 1 << 32 else {
            throw .badNpy(path: path, problem: "\(count) labels in shape \(header.shapeText) are too many.")
        }
        let total = count * size
        var bytes = [UInt8](repeating: 0, count: total)
        let got = try file.read(into: &bytes, range: 0..<total)
        if got < total { throw .npySize(path: path, shape: shape, expectedBytes: total, foundBytes: got) }
        hasher.combine(bytes)
        try expectEnd(file, path: path, shape: shape, expected: total)
        var values = [Int64](repeating: 0, count: count)
        for i in 0..<count {
            var raw: UInt64 = 0
            for b in 0..<size {
                let byte = UInt64(bytes[i * size + (header.bigEndian ? b : size - 1 - b)])
                raw = raw << 8 | byte
            }
            if header.kind == "i" && size < 8 && raw >> (8 * size - 1) & 1 == 1 {
                raw |= ~0 << (8 * size)  // sign-extend
            }
            // An unsigned value above Int64.max reads as negative: out of range either way.
            values[i] = Int64(bitPattern: raw)
        }
        return Labels(path: path, values: values)
    }

    /// Checks that nothing follows the data.
    private static func expectEnd(_ file: borrowing GzipFile, path: String, shape: [Int],
                                  expected: Int) throws(DataError) {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var extra = 0
        while true {
            let got = try file.read(into: &scratch, range: 0..<scratch.count)
            if got == 0 { break }
            extra += got
        }
        if extra > 0 { throw .npySize(path: path, shape: shape, expectedBytes: expected, foundBytes: expected + extra) }
    }

    private static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// The header of a `.npy` file (format versions 1.0 to 3.0): magic `\x93NUMPY`, version, header
/// length, then a Python dict literal `{'descr': '<i8', 'fortran_order': False, 'shape': (N,), }`.
struct NpyHeader {
    let descr: String
    /// `u` (unsigned) or `i` (signed) or another numpy kind letter.
    let kind: Character
    let itemBytes: Int
    let bigEndian: Bool
    let shape: [Int]

    var shapeText: String { "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")") }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads the header from the start of `file`, feeding its bytes to `hasher`.
    static func read(_ file: borrowing GzipFile, path: String, hasher: inout FNV1a) throws(DataError) -> NpyHeader {
        var preamble = [UInt8](repeating: 0, count: 8)
        let got = try file.read(into: &preamble, range: 0..<8)
        if got == 0 { throw .emptyFile(path: path) }
        if got < 8 || Array(preamble[0..<6]) != magic {
            throw .badNpy(path: path, problem: "not a .npy file: it does not start with \\x93NUMPY. "
                          + DataError.npyHint)
        }
        let major = preamble[6]
        guard (1...3).contains(major) else {
            throw .badNpy(path: path, problem: ".npy format version \(major).\(preamble[7]) is not supported "
                          + "(1.0 to 3.0 are). " + DataError.npyHint)
        }
        let lengthBytes = major == 1 ? 2 : 4
        var lengthField = [UInt8](repeating: 0, count: lengthBytes)
        if try file.read(into: &lengthField, range: 0..<lengthBytes) < lengthBytes {
            throw .badNpy(path: path, problem: "the file ends inside the .npy header. " + DataError.npyHint)
        }
        let length = lengthField.reversed().reduce(0) { $0 << 8 | Int($1) }
        guard length <= 1 << 20 else {
            throw .badNpy(path: path, problem: "a .npy header of \(length) bytes is not believable. " + DataError.npyHint)
        }
        var text = [UInt8](repeating: 0, count: length)
        if try file.read(into: &text, range: 0..<length) < length {
            throw .badNpy(path: path, problem: "the file ends inside the .npy header. " + DataError.npyHint)
        }
        hasher.combine(preamble + lengthField + text)
        return try parse(String(decoding: text, as: UTF8.self), path: path)
    }

    /// Parses the dict literal; only the three keys numpy writes are read.
    static func parse(_ text: String, path: String) throws(DataError) -> NpyHeader {
        func fail(_ what: String) -> DataError {
            .badNpy(path: path, problem: "cannot read the .npy header (\(what)): \(text.trimmingSpaces). "
                    + DataError.npyHint)
        }
        func value(after key: String) -> Substring? {
            for quote in ["'", "\""] {
                if let range = text.range(of: quote + key + quote) {
                    var rest = text[range.upperBound...].drop { $0 == " " }
                    guard rest.first == ":" else { return nil }
                    rest = rest.dropFirst().drop { $0 == " " }
                    return rest
                }
            }
            return nil
        }
        guard let descrStart = value(after: "descr"), let quote = descrStart.first, quote == "'" || quote == "\"",
              let end = descrStart.dropFirst().firstIndex(of: quote) else { throw fail("no 'descr'") }
        let descr = String(descrStart[descrStart.index(after: descrStart.startIndex)..<end])
        guard let fortran = value(after: "fortran_order") else { throw fail("no 'fortran_order'") }
        if fortran.hasPrefix("True") {
            throw .badNpy(path: path, problem: "the array is in Fortran order; save numpy.ascontiguousarray(x) "
                          + "instead (C order).")
        }
        guard fortran.hasPrefix("False") else { throw fail("'fortran_order' is neither True nor False") }
        guard let shapeStart = value(after: "shape"), shapeStart.first == "(",
              let close = shapeStart.firstIndex(of: ")") else { throw fail("no 'shape' tuple") }
        var shape: [Int] = []
        for item in shapeStart[shapeStart.index(after: shapeStart.startIndex)..<close].split(separator: ",") {
            var digits = item.trimmingSpaces
            if digits.hasSuffix("L") { digits.removeLast() }  // Python 2 longs
            guard let size = Int(digits), size >= 0 else { throw fail("shape entry '\(item)'") }
            shape.append(size)
        }

        // descr: an optional byte order (< > | =), a kind letter, an item size in bytes.
        var body = Substring(descr)
        var bigEndian = false
        if let order = body.first, "<>|=".contains(order) {
            bigEndian = order == ">"
            body = body.dropFirst()
        }
        guard let kind = body.first, let size = Int(body.dropFirst()), size > 0 else {
            throw .badNpy(path: path, problem: "dtype '\(descr)' is not a plain number type. " + DataError.npyHint)
        }
        return NpyHeader(descr: descr, kind: kind, itemBytes: size, bigEndian: bigEndian, shape: shape)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and newlines.
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" }
        return String(String(self.drop(while: isSpace)).reversed().drop(while: isSpace).reversed())
    }
}
