// The grid of a sweep: its axes, the protocol every cell follows, the data. A database holds one
// grid; a resume with a different one is refused with `GridSpec.differences` (PROTOCOL.md, "Grid").
import Cell
import Foundation

/// A grid spec that cannot be used; the message names the value and what to give instead.
public struct GridSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    /// The cell setting out of range, when that is the reason (a command names its own option).
    public let cell: CellSpecError?

    public init(_ description: String) {
        self.description = description
        cell = nil
    }

    public init(_ cell: CellSpecError) {
        description = cell.description
        self.cell = cell
    }
}

/// What the jobs of a grid do.
public enum GridJobKind: String, Codable, Sendable, CaseIterable {
    /// Warm-start and measure jobs that train.
    case train
    /// Jobs that only wait (`trivialMillis`): tests of the distributed machinery.
    case trivial
}

/// A sweep's grid: η × |B| (× momentum × batch mode) × seeds, and everything that makes its results
/// what they are.
public struct GridSpec: Codable, Sendable, Hashable {
    public var format = FormatTag.grid
    public var model: ModelKind
    public var learningRates: [Double]
    public var batchSizes: [Int]
    /// Number of seeds; seed index s = 1…seeds trains with seed gridSeed + s.
    public var seeds: Int
    public var gridSeed: UInt64
    public var jobKind: GridJobKind
    public var dataset: DatasetSelection
    /// The training set's content hash the sweep needs (filled in by `sweep` after loading the
    /// data); nil accepts any.
    public var datasetHash: String?
    public var warmStart: WarmStartSpec
    public var cell: CellSettings
    /// The momentum axis when it has more than one value (then `cell.momentum` is its smallest);
    /// nil when every cell has `cell.momentum`, so a grid of one momentum encodes, hashes and
    /// names its jobs as before the axis existed. Set it through `momentumValues`.
    public var momenta: [Double]?
    /// The batch-mode axis when it has more than one value (then `cell.batchMode` is its first);
    /// nil when every cell has `cell.batchMode`, so a grid of one batch mode encodes, hashes and
    /// names its jobs as before the axis existed. Set it through `batchModeValues`.
    public var batchModes: [BatchMode]?
    /// Duration of one trivial job.
    public var trivialMillis: Int

    /// The physics default grid: η ∈ {0.0125 … 0.2} × |B| ∈ {8 … 128}, factor 2 on both axes.
    public static let defaultLearningRates = [0.0125, 0.025, 0.05, 0.1, 0.2]
    public static let defaultBatchSizes = [8, 16, 32, 64, 128]

    public init(model: ModelKind = .lenet816, learningRates: [Double] = GridSpec.defaultLearningRates,
                batchSizes: [Int] = GridSpec.defaultBatchSizes, seeds: Int = 3, gridSeed: UInt64 = 0,
                jobKind: GridJobKind = .train, dataset: DatasetSelection = .fashionMNIST(),
                datasetHash: String? = nil, warmStart: WarmStartSpec = WarmStartSpec(),
                cell: CellSettings = CellSettings(), trivialMillis: Int = 200) {
        self.model = model
        self.learningRates = learningRates
        self.batchSizes = batchSizes
        self.seeds = seeds
        self.gridSeed = gridSeed
        self.jobKind = jobKind
        self.dataset = dataset
        self.datasetHash = datasetHash
        self.warmStart = warmStart
        self.cell = cell
        self.trivialMillis = trivialMillis
    }

    /// Every momentum of the grid: the axis, or `cell.momentum` alone. Setting one value stores
    /// it as `cell.momentum` (no axis); several, as the axis.
    public var momentumValues: [Double] {
        get { momenta ?? [cell.momentum] }
        set { Self.store(newValue, axis: &momenta, cellValue: &cell.momentum, first: newValue.min()) }
    }

    /// Whether the grid varies the momentum (more than one value): its job keys, exports and fits
    /// then name m.
    public var variesMomentum: Bool { momentumValues.count > 1 }

    /// Every batch mode of the grid: the axis, or `cell.batchMode` alone. Setting one value stores
    /// it as `cell.batchMode` (no axis); several, as the axis.
    public var batchModeValues: [BatchMode] {
        get { batchModes ?? [cell.batchMode] }
        set {
            Self.store(newValue, axis: &batchModes, cellValue: &cell.batchMode,
                       first: newValue.min(by: BatchMode.ascending))
        }
    }

    /// Whether the grid varies the batch mode: its job keys, exports and fits then name it.
    public var variesBatchMode: Bool { batchModeValues.count > 1 }

    /// One value is the cell's setting (no axis); several are the axis, and the cell holds `first`.
    private static func store<T>(_ values: [T], axis: inout [T]?, cellValue: inout T, first: T?) {
        if values.count == 1 {
            axis = nil
            cellValue = values[0]
        } else {
            axis = values
            if let first { cellValue = first }
        }
    }

    /// Number of jobs: one per cell and seed, plus one warm start per seed for a train grid.
    public var jobCount: Int {
        let cells = learningRates.count * batchSizes.count * momentumValues.count * batchModeValues.count * seeds
        return jobKind == .train ? cells + seeds : cells
    }

    /// Throws a message naming the offending value and what to give instead.
    public func validate() throws(GridSpecError) {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(GridSpecError) {
            if !ok { throw GridSpecError(message()) }
        }
        try check(format == FormatTag.grid, "grid format '\(format)' is not \(FormatTag.grid); this build cannot read it.")
        try check(!learningRates.isEmpty, "no learning rates: give --lr, e.g. 0.0125:0.2:x2.")
        try check(!batchSizes.isEmpty, "no batch sizes: give --batch, e.g. 8:128:x2.")
        if let lr = firstDuplicate(learningRates) { try check(false, "--lr: learning rate \(lr) is listed twice.") }
        if let b = firstDuplicate(batchSizes) { try check(false, "--batch: batch size \(b) is listed twice.") }
        try check(momenta.map { !$0.isEmpty } ?? true, "no momentum values: give --momentum, e.g. 0 or 0,0.5,0.9.")
        if let m = firstDuplicate(momentumValues) { try check(false, "--momentum: momentum \(m) is listed twice.") }
        try check(batchModes.map { !$0.isEmpty } ?? true, "no batch modes: give --batch-mode, e.g. iid or iid,shuffle.")
        if let mode = firstDuplicate(batchModeValues) {
            try check(false, "--batch-mode: batch mode \(mode.rawValue) is listed twice.")
        }
        try check((1...10_000).contains(seeds), "--seeds \(seeds) is out of range: give 1 to 10000 seeds.")
        try check(gridSeed <= UInt64.max - UInt64(max(seeds, 0)),
                  "--grid-seed \(gridSeed) is too large: seeds grid-seed + 1 … grid-seed + \(seeds) would overflow.")
        let cells = learningRates.count.multipliedReportingOverflow(by: batchSizes.count)
        let withMomenta = cells.partialValue.multipliedReportingOverflow(by: momentumValues.count)
        let withModes = withMomenta.partialValue.multipliedReportingOverflow(by: batchModeValues.count)
        let jobs = withModes.partialValue.multipliedReportingOverflow(by: seeds)
        let momentaText = variesMomentum ? "\(momentumValues.count) momenta (--momentum) × " : ""
        let modesText = variesBatchMode ? "\(batchModeValues.count) batch modes (--batch-mode) × " : ""
        try check(!cells.overflow && !withMomenta.overflow && !withModes.overflow && !jobs.overflow
                      && jobCount <= GridLimits.maxJobs,
                  "\(learningRates.count) learning rates (--lr) × \(batchSizes.count) batch sizes (--batch) × \(momentaText)"
                      + "\(modesText)\(seeds) seeds (--seeds) is too many jobs: at most \(GridLimits.maxJobs).")
        try check((0...3_600_000).contains(trivialMillis), "--trivial-ms \(trivialMillis) is out of range: give 0 to 3600000.")
        if let datasetHash {
            do { try Check.hash(datasetHash, "datasetHash") } catch {
                throw GridSpecError("data-set hash '\(datasetHash)' is not 16 lowercase hex digits.")
            }
        }
        do { try dataset.validate("dataset.") } catch let failure as FieldFailure {
            let option = ["dataset.count": "--synthetic-count", "dataset.seed": "--synthetic-seed",
                          "dataset.directory": "--data", "dataset.format": "--data-format"][failure.field] ?? failure.field
            throw GridSpecError("\(option) \(failure.detail).")
        } catch {
            throw GridSpecError("\(error)")
        }
        // Every cell is checked by the cell contract, as the worker will check it.
        for lr in learningRates {
            for b in batchSizes {
                for m in momentumValues {
                    do throws(CellSpecError) {
                        try cell(learningRate: lr, batchSize: b, momentum: m, seedIndex: 1).validate()
                    } catch {
                        throw GridSpecError(error)
                    }
                }
            }
        }
    }

    /// The same grid with every axis sorted ascending: a grid is a set of cells, so the order the
    /// user typed them in does not change its identity. A momentum or batch-mode axis of one value
    /// is no axis.
    public var normalized: GridSpec {
        var copy = self
        copy.learningRates.sort()
        copy.batchSizes.sort()
        if let momenta, !momenta.isEmpty { copy.momentumValues = momenta.sorted() }
        if let batchModes, !batchModes.isEmpty { copy.batchModeValues = batchModes.sorted(by: BatchMode.ascending) }
        return copy
    }

    /// Canonical JSON of the normalized spec: sorted keys, no whitespace, shortest round-trip
    /// numbers. Equal grids give equal bytes.
    public func canonicalJSON() throws(GridSpecError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(normalized))
        } catch {
            throw GridSpecError("the grid cannot be written as JSON: \(error)")
        }
    }

    /// FNV-1a-64 of the canonical JSON, 16 hex digits: a short name for the grid. Collisions do
    /// not matter: the database stores the whole spec and resume compares specs.
    public func hash() throws(GridSpecError) -> String {
        FNV1a.hex(try canonicalJSON())
    }

    /// Reads a spec written by `canonicalJSON()` (or by hand), strictly, and validates it.
    public static func decode(_ bytes: [UInt8]) throws(GridSpecError) -> GridSpec {
        let spec: GridSpec
        do {
            spec = try Message.decodeBody(bytes)
        } catch {
            throw GridSpecError("grid spec refused: \(Message.protocolError(error, command: nil).fieldText)")
        }
        try spec.validate()
        return spec
    }

    /// The training seed of seed index `s` (1-based).
    public func trainingSeed(_ seedIndex: Int) -> UInt64 {
        gridSeed &+ UInt64(seedIndex)
    }

    /// The cell (η, |B|, m, batch mode) of seed index `seedIndex`; m nil: `cell.momentum`, batch
    /// mode nil: `cell.batchMode`.
    public func cell(learningRate: Double, batchSize: Int, momentum: Double? = nil, batchMode: BatchMode? = nil,
                     seedIndex: Int) -> CellSpec {
        var settings = cell
        if let momentum { settings.momentum = momentum }
        if let batchMode { settings.batchMode = batchMode }
        return CellSpec(model: model, learningRate: learningRate, batchSize: batchSize, seed: trainingSeed(seedIndex),
                        warmStart: warmStart, settings: settings)
    }

    /// The job spec of the job of `kind` about that cell (a warm start trains the cell's seed's,
    /// with plain SGD and i.i.d. batches whatever the cell's momentum and batch mode).
    public func spec(kind: JobKind, seedIndex: Int, learningRate: Double, batchSize: Int,
                     momentum: Double? = nil, batchMode: BatchMode? = nil) -> JobSpec {
        JobSpec(kind: kind, cell: cell(learningRate: learningRate, batchSize: batchSize, momentum: momentum,
                                       batchMode: batchMode, seedIndex: seedIndex),
                dataset: dataset, datasetHash: datasetHash, trivialMillis: trivialMillis)
    }

    /// One line per difference, `label: old → new`, labels as the CLI options; empty if equal.
    public static func differences(_ old: GridSpec, _ new: GridSpec) -> [String] {
        let before = old.normalized.labelledValues, after = new.normalized.labelledValues
        var lines: [String] = []
        for ((label, a), (_, b)) in zip(before, after) where a != b {
            lines.append("\(label): \(a) → \(b)")
        }
        return lines
    }

    /// The `sweep` flags that give this grid (those whose value is not the default), so that
    /// `thermosweep sweep --db DB` and these resumes it. Timing and workers are not part of a grid.
    public var sweepArguments: [String] { gridArguments(includingDefaults: false) }

    /// The `sweep` flags that give this grid, each option once; `includingDefaults`: also those
    /// whose value is the default (`GridFile.text` writes them all). Burn-in and measure steps
    /// left to their rule of η and flags that are off are never given.
    public func gridArguments(includingDefaults: Bool) -> [String] {
        let grid = normalized, plain = GridSpec(), cell = CellSettings(), warm = WarmStartSpec()
        var arguments: [String] = []
        func add(_ flag: String, _ value: String, unless isDefault: Bool) {
            if includingDefaults || !isDefault { arguments += [flag, value] }
        }
        func list<T>(_ values: [T]) -> String { values.map { "\($0)" }.joined(separator: ",") }
        add("--model", grid.model.rawValue, unless: grid.model == plain.model)
        add("--lr", list(grid.learningRates), unless: grid.learningRates == plain.learningRates)
        add("--batch", list(grid.batchSizes), unless: grid.batchSizes == plain.batchSizes)
        add("--seeds", "\(grid.seeds)", unless: grid.seeds == plain.seeds)
        add("--grid-seed", "\(grid.gridSeed)", unless: grid.gridSeed == plain.gridSeed)
        if grid.jobKind == .trivial { arguments += ["--trivial-ms", "\(grid.trivialMillis)"] }
        switch grid.dataset.kind {
        case .fashionMNIST:
            let directory = grid.dataset.directory ?? DatasetSelection.defaultDirectory
            add("--data", directory, unless: directory == DatasetSelection.defaultDirectory)
            if let format = grid.dataset.format { arguments += ["--data-format", format] }
        case .synthetic:
            let synthetic = DatasetSelection.synthetic()
            arguments.append("--synthetic")
            add("--synthetic-seed", "\(grid.dataset.seed ?? 0)", unless: grid.dataset.seed == synthetic.seed)
            add("--synthetic-count", "\(grid.dataset.count ?? 0)", unless: grid.dataset.count == synthetic.count)
        }
        add("--warm-lr", "\(grid.warmStart.learningRate)", unless: grid.warmStart.learningRate == warm.learningRate)
        add("--warm-batch", "\(grid.warmStart.batchSize)", unless: grid.warmStart.batchSize == warm.batchSize)
        add("--warm-epochs", "\(grid.warmStart.epochs)", unless: grid.warmStart.epochs == warm.epochs)
        add("--momentum", list(grid.momentumValues), unless: grid.momentumValues == [cell.momentum])
        if grid.variesBatchMode {
            arguments += ["--batch-mode", grid.batchModeValues.map(\.rawValue).joined(separator: ",")]
        } else if grid.cell.batchMode == .shuffle {
            arguments.append("--shuffle")
        }
        if let steps = grid.cell.burnInSteps { arguments += ["--burn-in-steps", "\(steps)"] }
        if let steps = grid.cell.measureSteps { arguments += ["--measure-steps", "\(steps)"] }
        add("--calibration-probes", "\(grid.cell.calibrationProbes)",
            unless: grid.cell.calibrationProbes == cell.calibrationProbes)
        add("--probe-batch", "\(grid.cell.probeBatchSize)", unless: grid.cell.probeBatchSize == cell.probeBatchSize)
        return arguments
    }

    /// `thermosweep sweep --db DATABASE` with `sweepArguments`, quoted for a POSIX shell: the
    /// command that creates or resumes this grid's sweep.
    public func sweepCommand(database: String) -> String {
        (["thermosweep", "sweep", "--db", database] + sweepArguments).map(Self.shellQuoted).joined(separator: " ")
    }

    /// `word` as is when a shell reads it so, else in single quotes.
    static func shellQuoted(_ word: String) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%")
        if !word.isEmpty && word.allSatisfy(plain.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Every setting as (CLI label, display text), in a fixed order.
    var labelledValues: [(String, String)] {
        func list<T>(_ values: [T]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        func optional(_ value: Int?) -> String { value.map { "\($0)" } ?? "default" }
        let data: String
        switch dataset.kind {
        case .fashionMNIST: data = "\(dataset.format.map { "\($0) files" } ?? "fashion-mnist") in \(dataset.directory ?? "?")"
        case .synthetic: data = "synthetic seed=\(dataset.seed ?? 0) count=\(dataset.count ?? 0)"
        }
        return [
            ("format", format), ("model", model.rawValue), ("lr", list(learningRates)), ("batch", list(batchSizes)),
            ("seeds", "\(seeds)"), ("grid-seed", "\(gridSeed)"), ("job-kind", jobKind.rawValue), ("data", data),
            ("data-hash", datasetHash ?? "any"), ("warm-lr", "\(warmStart.learningRate)"),
            ("warm-batch", "\(warmStart.batchSize)"), ("warm-epochs", "\(warmStart.epochs)"),
            ("momentum", momenta.map(list) ?? "\(cell.momentum)"), ("batch-mode", batchModes.map { list($0.map(\.rawValue)) } ?? cell.batchMode.rawValue), ("burn-in-steps", optional(cell.burnInSteps)),
            ("measure-steps", optional(cell.measureSteps)), ("calibration-probes", "\(cell.calibrationProbes)"),
            ("probe-batch", "\(cell.probeBatchSize)"), ("trivial-ms", "\(trivialMillis)"),
        ]
    }
}

extension ProtocolError {
    /// The field and detail without the tag and command (for errors outside a message).
    var fieldText: String { field.map { "field '\($0)' \(detail)" } ?? detail }
}

private func firstDuplicate<T: Hashable>(_ values: [T]) -> T? {
    var seen = Set<T>()
    return values.first { !seen.insert($0).inserted }
}

extension BatchMode {
    /// The order of a grid's batch-mode axis: the order of the cases (iid, then shuffle).
    public static func ascending(_ a: BatchMode, _ b: BatchMode) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}
