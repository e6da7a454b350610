// Benchmarks inside the test targets are opt-in: `TS_BENCH=1 swift test -c release <flags of make
// release> --filter Benchmark`. They print their numbers; only what does not depend on the
// machine's speed (memory, counts) is asserted.
import Foundation
import Testing

public enum Benchmark {
    /// `TS_BENCH` is set.
    public static let requested = ProcessInfo.processInfo.environment["TS_BENCH"] != nil
    #if DEBUG
    public static let isReleaseBuild = false
    #else
    public static let isReleaseBuild = true
    #endif
    /// Benchmarks run: asked for, in a release build (debug timings mean nothing).
    public static var enabled: Bool { requested && isReleaseBuild }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test or suite only when benchmarks were asked for, in a release build.
    public static var benchmark: Self { .enabled(if: Benchmark.enabled, "set TS_BENCH=1 (release build)") }
}
