/// How a data set's pixels were standardised: per channel, the mean and standard deviation of the
/// training set's pixels scaled to [0, 1], rounded to 4 decimal places.
///
/// The rounding is part of the definition: the network sees `(Float(p) / 255 − mean) / std` with
/// exactly these recorded numbers (as `Float`), so a record says what was used, and Fashion-MNIST
/// (0.28604…, 0.35302…) gets 0.2860 and 0.3530, the constants every earlier release used.
public struct InputStatistics: Codable, Sendable, Equatable {
    /// Per channel, in channel order.
    public let mean: [Double]
    /// Per channel (population standard deviation, divided by the pixel count).
    public let std: [Double]

    /// Decimal places kept.
    public static let decimals = 4
    private static let scale = 10_000

    /// From exact per-channel values, rounding each to 4 decimals. A channel whose standard deviation
    /// rounds to 0 (every pixel the same) gets 1: it is only centred, never divided by zero.
    public init(exactMean: [Double], exactStd: [Double]) {
        precondition(exactMean.count == exactStd.count && !exactMean.isEmpty,
                     "\(exactMean.count) means for \(exactStd.count) standard deviations")
        let round = { (x: Double) -> Int in Int((x * Double(Self.scale)).rounded()) }
        self.mean = exactMean.map { Double(round($0)) / Double(Self.scale) }
        self.std = exactStd.map { round($0) > 0 ? Double(round($0)) / Double(Self.scale) : 1 }
    }

    public var channels: Int { mean.count }

    /// The mean of `channel` as the Float the network uses: the nearest Float to the 4-decimal
    /// number (an integer divided by 10 000, one correctly rounded IEEE division).
    public func floatMean(_ channel: Int) -> Float { Self.float(mean[channel]) }

    /// The standard deviation of `channel` as the Float the network uses.
    public func floatStd(_ channel: Int) -> Float { Self.float(std[channel]) }

    private static func float(_ value: Double) -> Float {
        Float(Int((value * Double(scale)).rounded())) / Float(scale)
    }
}
