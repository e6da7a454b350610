/// Limits of a grid as a whole; the limits of each cell are the cell contract's (`CellLimits`).
public enum GridLimits {
    /// Most jobs one grid may have; far above any useful sweep, small enough for one journal.
    public static let maxJobs = 100_000
    /// Most values one axis may have.
    public static let maxAxisValues = 1_000
}
