// Two small data structures of the scheduler: the ready queue (longest first) and the rolling
// median of step times per job kind (for the stall window).
import SweepProtocol

/// Ready jobs ordered longest-first by cost, ties by lower id: a binary max-heap with lazy
/// deletion (the scheduler skips popped ids that are no longer queued), so push and pop are
/// O(log n) and re-queueing never searches.
struct ReadyQueue {
    struct Entry {
        var cost: Int
        var id: Int
        /// Whether `self` goes out before `other`.
        func precedes(_ other: Entry) -> Bool { cost != other.cost ? cost > other.cost : id < other.id }
    }

    private(set) var heap: [Entry] = []

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(id: Int, cost: Int) {
        heap.append(Entry(cost: cost, id: id))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The id of the first entry, without removing it.
    var first: Int? { heap.first?.id }

    mutating func pop() -> Int? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < heap.count && heap[left].precedes(heap[best]) { best = left }
                if right < heap.count && heap[right].precedes(heap[best]) { best = right }
                if best == parent { break }
                heap.swapAt(parent, best)
                parent = best
            }
        }
        return top.id
    }
}

/// The median of the last `capacity` per-step times (ms) seen for one job kind. A heartbeat whose
/// step counter advanced adds one sample (time since the previous advance / steps advanced); the
/// median is recomputed lazily, at most once per tick, so a heartbeat costs O(1) here.
struct StepTimeMedian {
    static let capacity = 255
    private var samples: [Double] = []
    private var next = 0
    private var cached: Double = 0
    private var dirty = false

    mutating func add(_ msPerStep: Double) {
        guard msPerStep.isFinite, msPerStep >= 0 else { return }
        if samples.count < Self.capacity {
            samples.append(msPerStep)
        } else {
            samples[next] = msPerStep
            next = (next + 1) % Self.capacity
        }
        dirty = true
    }

    /// The median in ms (0 before any sample).
    mutating func median() -> Double {
        if dirty {
            let sorted = samples.sorted()
            cached = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
            dirty = false
        }
        return cached
    }
}
