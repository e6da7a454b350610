/// Step counts and constants of the cell protocol (docs/METHOD.md, 3): burn-in
/// and window lengths are fixed in SDE time (steps × η), not in epochs.
public enum Protocol {
    /// Default SDE-time length of burn-in and of the window: 10 (steps × η).
    public static let sdeTime = 10.0
    /// Default lower bound on both step counts.
    public static let minimumSteps = 500
    /// Contiguous blocks of the window, for the error bars.
    public static let blocks = 10
    /// Noise-calibration points in the window (when calibration is on).
    public static let calibrationPoints = 4

    /// K_burn = max(⌈sdeTime/η⌉, minimumSteps).
    public static func burnInSteps(lr: Double, sdeTime: Double = sdeTime,
                                   minimumSteps: Int = minimumSteps) -> Int {
        steps(lr: lr, sdeTime: sdeTime, minimumSteps: minimumSteps)
    }

    /// K_meas = max(⌈sdeTime/η⌉, minimumSteps).
    public static func measureSteps(lr: Double, sdeTime: Double = sdeTime,
                                    minimumSteps: Int = minimumSteps) -> Int {
        steps(lr: lr, sdeTime: sdeTime, minimumSteps: minimumSteps)
    }

    private static func steps(lr: Double, sdeTime: Double, minimumSteps: Int) -> Int {
        precondition(lr > 0 && lr.isFinite, "learning rate must be positive, got \(lr)")
        // 10/0.1 may round to 100.000…01 in binary; a relative slack of 1e-9 keeps ⌈·⌉ at 100.
        let q = sdeTime / lr
        return max(Int((q * (1 - 1e-9)).rounded(.up)), minimumSteps)
    }
}
