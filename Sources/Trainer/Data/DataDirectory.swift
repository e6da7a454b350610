#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file formats a data-set directory can hold.
public enum DataFormat: String, CaseIterable, Sendable {
    /// Four IDX files, `train-images-idx3-ubyte[.gz]` ...: Fashion-MNIST, MNIST, KMNIST.
    case idx
    /// CIFAR-10's binary batches `data_batch_1.bin` ... `test_batch.bin`, or their
    /// `cifar-10-batches-bin` folder.
    case cifar10
    /// NumPy arrays `train_x.npy`, `train_y.npy`, `test_x.npy`, `test_y.npy`.
    case npy

    public static var names: String { allCases.map(\.rawValue).joined(separator: "|") }
}

/// Loading a data set from a directory, in the format its files show or the one asked for.
public enum DataDirectory {
    /// The format of the files in `directory`: the only one whose files it holds; IDX when it holds
    /// none and is Fashion-MNIST's own folder (so that a missing Fashion-MNIST says how to install it).
    ///
    /// Throws `.ambiguousFormat` when it holds the files of more than one format, `.noDataSet` when
    /// another folder does not exist or holds none.
    public static func detect(_ directory: String) throws(DataError) -> DataFormat {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        func exists(_ name: String) -> Bool { access(base + "/" + name, F_OK) == 0 }
        var found: [DataFormat] = []
        if FashionMNIST.fileNames.contains(where: { exists($0) || exists($0 + ".gz") }) { found.append(.idx) }
        if CIFAR10.root(of: directory) != nil { found.append(.cifar10) }
        if NumPyDataset.fileNames.contains(where: exists) { found.append(.npy) }
        if found.count > 1 { throw .ambiguousFormat(directory: directory, formats: found.map(\.rawValue)) }
        if let format = found.first { return format }
        let fashion = FashionMNIST.defaultDirectory
        guard base == fashion || base == fashion + "/" else {
            var info = stat()
            guard stat(directory, &info) == 0 else { throw .noDataSet(directory: directory, found: .missing) }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw .noDataSet(directory: directory, found: .notAFolder) }
            throw .noDataSet(directory: directory, found: .noDataSet)
        }
        return .idx
    }

    /// Loads (train, test) from `directory` in `format`, or the detected one when nil. IDX and
    /// NumPy sets are named after the directory (`mnist/train`); Fashion-MNIST's own files keep
    /// the name `fashion-mnist` wherever they lie, CIFAR-10 is `cifar-10`.
    public static func load(directory: String, format: DataFormat? = nil) throws(DataError) -> (train: Dataset, test: Dataset) {
        let chosen: DataFormat
        if let format { chosen = format } else { chosen = try detect(directory) }
        switch chosen {
        case .idx:
            return try FashionMNIST.loadIDX(directory: directory, name: nil)
        case .cifar10:
            return try CIFAR10.load(directory: directory)
        case .npy:
            return try NumPyDataset.load(directory: directory, name: name(of: directory))
        }
    }

    /// The last component of the directory's real path (`/data/mnist/` → `mnist`).
    static func name(of directory: String) -> String {
        var path = directory
        if let real = realpath(directory, nil) {
            path = String(cString: real)
            free(real)
        }
        let last = path.split(separator: "/").last.map(String.init) ?? ""
        return last.isEmpty ? "data" : last
    }
}
