import Cell

extension SplitMix64 {
    /// Uniform in [-1, 1): test data for the kernels.
    mutating func float() -> Float { Float(uniform() * 2 - 1) }

    /// Uniform in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
}
