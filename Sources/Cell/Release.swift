/// The release of this build: what `--version` prints, what a coordinator compares in READY, and
/// what a report names as its writer.
public enum Release {
    public static let version = "0.5.0"
}
