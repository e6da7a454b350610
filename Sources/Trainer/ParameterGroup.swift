/// A named slice of the network's flat parameter vector whose temperature is measured.
///
/// Layers own contiguous ranges of one flat parameter buffer (and of the gradient buffer beside it),
/// so a group is a range. A conv layer's weights are laid out filter by filter (output channel
/// major), so `filterCount > 0` splits `range` into that many equal, contiguous filters.
public struct ParameterGroup: Sendable, Hashable, Codable {
    /// `conv1.weight`, `conv1.bias`, `dense1.weight`, ...; `network` for the whole vector.
    public let name: String
    /// Indices into the flat parameter vector.
    public let range: Range<Int>
    /// Number of conv filters the range splits into (0 when the group has no filters).
    public let filterCount: Int

    public init(name: String, range: Range<Int>, filterCount: Int = 0) {
        precondition(filterCount == 0 || range.count % filterCount == 0,
                     "group \(name): \(range.count) parameters do not split into \(filterCount) filters")
        self.name = name
        self.range = range
        self.filterCount = filterCount
    }

    /// Number of parameters in the group.
    public var count: Int { range.count }

    /// The index range of filter `f`.
    public func filterRange(_ f: Int) -> Range<Int> {
        precondition(filterCount > 0 && f >= 0 && f < filterCount, "filter \(f) out of 0..<\(filterCount)")
        let size = range.count / filterCount
        return (range.lowerBound + f * size)..<(range.lowerBound + (f + 1) * size)
    }
}
