import Cell
/// Draws the image indices of each SGD batch, deterministically from a seed.
///
/// `.iid` draws every index uniformly with replacement, independently of all others: the default,
/// because the temperature β⁻¹ = η/2|B| holds exactly for it (docs/METHOD.md). `.shuffle` walks a fresh
/// Fisher–Yates permutation per epoch in order and starts the next permutation when one runs out,
/// so a batch may straddle two epochs.
public struct BatchSampler: Sendable {
    /// How indices are drawn.
    public typealias Mode = BatchMode

    /// Stream label that keeps batch draws apart from other uses of the same seed ("BATCHES").
    private static let stream: UInt64 = 0x0042_4154_4348_4553

    public let count: Int
    public let batchSize: Int
    public let mode: Mode
    private var rng: SeededRNG
    /// `.shuffle` only: the current epoch's order (count), and how far into it we are.
    private var permutation: [Int]
    private var position: Int
    /// Permutations started so far (`.shuffle` only; always 0 for `.iid`).
    public private(set) var epochsStarted = 0

    /// A sampler over indices `0..<count`, `batchSize` at a time; the stream depends only on the
    /// arguments.
    public init(count: Int, batchSize: Int, mode: Mode, seed: UInt64) {
        precondition(count > 0, "BatchSampler needs a non-empty data set, got count \(count)")
        precondition(batchSize > 0, "BatchSampler needs batchSize > 0, got \(batchSize)")
        self.count = count
        self.batchSize = batchSize
        self.mode = mode
        self.rng = SeededRNG(seed: seed, stream: Self.stream)
        self.permutation = mode == .shuffle ? Array(0..<count) : []
        self.position = count  // the first draw starts the first permutation
    }

    /// The next batch's indices, written into `indices` (resized to `batchSize` only if needed, so
    /// a caller that reuses its buffer allocates nothing per step).
    public mutating func next(into indices: inout [Int]) {
        if indices.count != batchSize { indices = [Int](repeating: 0, count: batchSize) }
        switch mode {
        case .iid:
            for k in 0..<batchSize { indices[k] = rng.int(below: count) }
        case .shuffle:
            for k in 0..<batchSize {
                if position == count { reshuffle() }
                indices[k] = permutation[position]
                position += 1
            }
        }
    }

    /// The next batch's indices in a new array.
    public mutating func next() -> [Int] {
        var indices = [Int](repeating: 0, count: batchSize)
        next(into: &indices)
        return indices
    }

    /// Fisher–Yates over the previous order, which gives a uniform permutation from any start
    /// and needs no allocation.
    private mutating func reshuffle() {
        var i = count - 1
        while i > 0 {
            let j = rng.int(below: i + 1)
            permutation.swapAt(i, j)
            i -= 1
        }
        position = 0
        epochsStarted += 1
    }
}
