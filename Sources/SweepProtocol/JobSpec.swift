// What a worker needs to run one job: the cell contract's spec (module Cell) and the data set.
import Cell
import Foundation

/// The kind of a job on the wire.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    /// Trains a seed's shared starting checkpoint; its RESULT carries the checkpoint.
    case warmStart = "warm-start"
    /// Measures one cell from its seed's checkpoint (sent with the JOB).
    case measure
    /// Does no training: waits `trivialMillis` with heartbeats; for tests of the machinery.
    case trivial
}

extension JobKind: JSONWritable {}

/// Which data set a sweep trains on.
public struct DatasetSelection: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case fashionMNIST = "fashion-mnist"
        case synthetic
    }

    public var kind: Kind
    /// Folder of the IDX files (fashion-mnist only), as the user gave it.
    public var directory: String?
    /// Seed and training-image count of the synthetic set (synthetic only).
    public var seed: UInt64?
    public var count: Int?
    /// The format of the files (`--data-format`: `idx`, `cifar10` or `npy`, Trainer's `DataFormat`)
    /// when it was given; nil when they were recognised by their names. Left out of the JSON when
    /// nil, so a grid without it keeps the bytes and hash it always had.
    public var format: String?

    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public static func fashionMNIST(directory: String = defaultDirectory, format: String? = nil) -> DatasetSelection {
        DatasetSelection(kind: .fashionMNIST, directory: directory, seed: nil, count: nil, format: format)
    }

    public static func synthetic(seed: UInt64 = 1, count: Int = 12_000) -> DatasetSelection {
        DatasetSelection(kind: .synthetic, directory: nil, seed: seed, count: count)
    }

    /// The name workers offer in READY: `fashion-mnist` or `synthetic/seed=1/count=12000`.
    public var name: String {
        switch kind {
        case .fashionMNIST: return "fashion-mnist"
        case .synthetic: return "synthetic/seed=\(seed ?? 0)/count=\(count ?? 0)"
        }
    }

    /// Training images: 60,000 for Fashion-MNIST, `count` for the synthetic set.
    public var trainCount: Int {
        switch kind {
        case .fashionMNIST: return 60_000
        case .synthetic: return count ?? 0
        }
    }

    func validate(_ prefix: @autoclosure () -> String) throws {
        switch kind {
        case .fashionMNIST:
            guard let directory else { throw Check.fail(prefix() + "directory", "is required for fashion-mnist") }
            try Check.string(directory, prefix() + "directory", maxLength: 4096)
            try Check.require(seed == nil, prefix() + "seed", "applies only to the synthetic set")
            try Check.require(count == nil, prefix() + "count", "applies only to the synthetic set")
            if let format { try Check.string(format, prefix() + "format", maxLength: 32) }
        case .synthetic:
            try Check.require(directory == nil, prefix() + "directory", "applies only to fashion-mnist")
            try Check.require(format == nil, prefix() + "format", "applies only to data files, not to the synthetic set")
            try Check.require(seed != nil, prefix() + "seed", "is required for the synthetic set")
            guard let count else { throw Check.fail(prefix() + "count", "is required for the synthetic set") }
            try Check.int(count, prefix() + "count", 100...1_000_000)
        }
    }
}


/// Everything a worker needs to run one job; a pure function of the grid spec and the job: the
/// cell contract's own spec (`cell` or `warmStart`) and what only the wire needs.
public struct JobSpec: Codable, Sendable, Hashable {
    /// The cell of a measure or trivial job; nil for a warm start.
    public var cell: CellSpec?
    /// The run of a warm-start job; nil for the others.
    public var warmStart: WarmStart?
    public var dataset: DatasetSelection
    /// The training set's content hash the job needs; nil accepts any (trivial jobs, tests).
    public var datasetHash: String?
    /// How long a trivial job takes; nil for others.
    public var trivialMillis: Int?

    public init(cell: CellSpec? = nil, warmStart: WarmStart? = nil, dataset: DatasetSelection,
                datasetHash: String? = nil, trivialMillis: Int? = nil) {
        (self.cell, self.warmStart, self.dataset, self.datasetHash, self.trivialMillis)
            = (cell, warmStart, dataset, datasetHash, trivialMillis)
    }

    /// The spec of a job of `kind` about `cell` (a warm start trains the cell's warm-start run).
    public init(kind: JobKind, cell: CellSpec, dataset: DatasetSelection, datasetHash: String? = nil,
                trivialMillis: Int? = nil) {
        self.init(cell: kind == .warmStart ? nil : cell, warmStart: kind == .warmStart ? cell.warmStartRun : nil,
                  dataset: dataset, datasetHash: datasetHash, trivialMillis: kind == .trivial ? trivialMillis : nil)
    }

    /// The model the job trains.
    public var model: ModelKind? { cell?.model ?? warmStart?.model }

    /// Samples the job trains (the dispatch priority and the ETA unit); a trivial job counts as the
    /// measure job of its cell. The spec must be valid.
    public var cost: Int {
        if let warmStart { return warmStart.cost(trainCount: dataset.trainCount) }
        return cell?.cost ?? 0
    }
}

