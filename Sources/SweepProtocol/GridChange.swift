// How a requested grid relates to the one a journal holds (PROTOCOL.md, "Grid"; README, "Growing a
// study"). A cell's result depends only on its own spec (η, |B|, seed, and the settings every cell
// shares), so values may be added to or removed from the axes without touching a measured result;
// everything else (model, protocol, data, grid seed) would change results already measured.
import Cell

/// The difference between a journal's grid and a requested one, sorted into what may change (the
/// axes, where the data lives) and what may not.
public struct GridChange: Sendable, Equatable {
    /// The journal's grid and the requested one, normalized.
    public let old: GridSpec
    public let new: GridSpec
    /// `GridSpec.differences` lines of the settings every result depends on: any line refuses the
    /// change.
    public let conflicts: [String]
    public let addedLearningRates: [Double]
    public let removedLearningRates: [Double]
    public let addedBatchSizes: [Int]
    public let removedBatchSizes: [Int]
    public let addedMomenta: [Double]
    public let removedMomenta: [Double]
    public let addedBatchModes: [BatchMode]
    public let removedBatchModes: [BatchMode]
    /// The data folder moved or its format was given or left out, its content (hash) unchanged:
    /// the new folder, else nil.
    public let movedData: String?
    /// Keys of the new grid's jobs that the old grid lacks, and of the old grid's that the new lacks.
    public let addedKeys: [String]
    public let removedKeys: [String]
    /// Of `addedKeys`, those the journal still holds (a `--drop` left them out, and this grid has
    /// them again): they come back with their results and do not run again. Set by the journal.
    public var returningKeys: Set<String> = []

    public init(from old: GridSpec, to new: GridSpec) {
        let old = old.normalized, new = new.normalized
        self.old = old
        self.new = new
        // The old grid with the new axes (and the new folder of identical data): what is left
        // different changes results already measured.
        var aligned = old
        aligned.learningRates = new.learningRates
        aligned.batchSizes = new.batchSizes
        aligned.seeds = new.seeds
        aligned.momentumValues = new.momentumValues
        aligned.batchModeValues = new.batchModeValues
        let sameContent = old.dataset.kind == .fashionMNIST && new.dataset.kind == .fashionMNIST
            && old.datasetHash != nil && old.datasetHash == new.datasetHash
        if sameContent { aligned.dataset = new.dataset }
        movedData = sameContent && old.dataset != new.dataset ? new.dataset.directory : nil
        conflicts = GridSpec.differences(aligned, new)
        addedLearningRates = new.learningRates.filter { !old.learningRates.contains($0) }
        removedLearningRates = old.learningRates.filter { !new.learningRates.contains($0) }
        addedBatchSizes = new.batchSizes.filter { !old.batchSizes.contains($0) }
        removedBatchSizes = old.batchSizes.filter { !new.batchSizes.contains($0) }
        addedMomenta = new.momentumValues.filter { !old.momentumValues.contains($0) }
        removedMomenta = old.momentumValues.filter { !new.momentumValues.contains($0) }
        addedBatchModes = new.batchModeValues.filter { !old.batchModeValues.contains($0) }
        removedBatchModes = old.batchModeValues.filter { !new.batchModeValues.contains($0) }
        if conflicts.isEmpty {
            // Compared by keys that name the momentum and the batch mode: a grid of one value of
            // them names it in none.
            let oldJobs = old.axisNamedKeys(), newJobs = new.axisNamedKeys()
            let oldKeys = Set(oldJobs.map(\.named)), newKeys = Set(newJobs.map(\.named))
            addedKeys = newJobs.filter { !oldKeys.contains($0.named) }.map(\.key)
            removedKeys = oldJobs.filter { !newKeys.contains($0.named) }.map(\.key)
        } else {
            addedKeys = []
            removedKeys = []
        }
    }

    /// The grids are the same (same canonical spec).
    public var isNone: Bool { old == new }

    /// Whether the change keeps every measured result valid (no conflict).
    public var isExtension: Bool { conflicts.isEmpty }

    /// Whether cells or seeds of the old grid are left out of the new one (needs `--drop`).
    public var removes: Bool { !removedKeys.isEmpty }

    /// One short part per axis that changed: `lr +0.4, +0.8`, `batch −256`, `momentum +0.9`,
    /// `batch mode +shuffle`, `seeds 3 → 4`, `data moved to /new (same content)`; `compact` counts
    /// the values (`lr +2 values`).
    public func parts(compact: Bool = false) -> [String] {
        func values<T>(_ added: [T], _ removed: [T]) -> String {
            let listed = added.map { "+\($0)" } + removed.map { "−\($0)" }
            guard listed.count > (compact ? 1 : 4) else { return listed.joined(separator: ", ") }
            var counts: [String] = []
            if !added.isEmpty { counts.append("+\(added.count) values") }
            if !removed.isEmpty { counts.append("−\(removed.count) values") }
            return counts.joined(separator: ", ")
        }
        var parts: [String] = []
        if !addedLearningRates.isEmpty || !removedLearningRates.isEmpty {
            parts.append("lr " + values(addedLearningRates, removedLearningRates))
        }
        if !addedBatchSizes.isEmpty || !removedBatchSizes.isEmpty {
            parts.append("batch " + values(addedBatchSizes, removedBatchSizes))
        }
        if !addedMomenta.isEmpty || !removedMomenta.isEmpty {
            parts.append("momentum " + values(addedMomenta, removedMomenta))
        }
        if !addedBatchModes.isEmpty || !removedBatchModes.isEmpty {
            parts.append("batch mode " + values(addedBatchModes.map(\.rawValue), removedBatchModes.map(\.rawValue)))
        }
        if old.seeds != new.seeds { parts.append("seeds \(old.seeds) → \(new.seeds)") }
        if let movedData {
            parts.append(old.dataset.directory != movedData ? "data moved to \(movedData) (same content)"
                         : "data format \(new.dataset.format ?? "recognised by the file names") (same content)")
        }
        return parts
    }

    /// What the change does, in one line of at most `width` characters:
    /// `adding 25 jobs: seeds 3 → 4`, `dropping 2 jobs (kept, not exported): lr −0.2`.
    public func summary(width: Int = 80) -> String {
        var verbs: [String] = []
        let new = addedKeys.count - returningKeys.count
        if new > 0 { verbs.append("adding \(new) job\(new == 1 ? "" : "s")") }
        if !returningKeys.isEmpty {
            verbs.append("bringing back \(returningKeys.count) dropped job\(returningKeys.count == 1 ? "" : "s")")
        }
        if !removedKeys.isEmpty {
            verbs.append("dropping \(removedKeys.count) job\(removedKeys.count == 1 ? "" : "s") (kept, not exported)")
        }
        if verbs.isEmpty { verbs.append("no job added") }
        let full = verbs.joined(separator: ", ") + ": " + parts().joined(separator: "; ")
        guard full.count > width else { return full }
        let line = verbs.joined(separator: ", ") + ": " + parts(compact: true).joined(separator: "; ")
        guard line.count > width, width > 1 else { return line }
        return String(line.prefix(width - 1)) + "…"
    }

    /// The removals as lines for a refusal: `lr: 0.2 removed`, `seeds: 3 → 2`.
    public var removalLines: [String] {
        var lines: [String] = []
        if !removedLearningRates.isEmpty {
            lines.append("lr: " + removedLearningRates.map { "\($0)" }.joined(separator: ", ") + " removed")
        }
        if !removedBatchSizes.isEmpty {
            lines.append("batch: " + removedBatchSizes.map { "\($0)" }.joined(separator: ", ") + " removed")
        }
        if !removedMomenta.isEmpty {
            lines.append("momentum: " + removedMomenta.map { "\($0)" }.joined(separator: ", ") + " removed")
        }
        if !removedBatchModes.isEmpty {
            lines.append("batch mode: " + removedBatchModes.map(\.rawValue).joined(separator: ", ") + " removed")
        }
        if new.seeds < old.seeds { lines.append("seeds: \(old.seeds) → \(new.seeds)") }
        return lines
    }
}
