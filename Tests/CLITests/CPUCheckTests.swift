import Foundation
import Testing

@Suite struct CPUCheckTests {
    /// The CPU the binary under test was built for, from `--version`.
    static func buildCPU() throws -> String {
        let r = try CLI.run(["--version"])
        guard let range = r.stdout.range(of: "built for CPU ") else { return "" }
        return String(r.stdout[range.upperBound...].prefix { $0 != ")" })
    }

    static let avx512CPUs: Set<String> = ["skylake-avx512", "skx", "cascadelake", "icelake-server",
                                         "sapphirerapids", "znver4", "znver5"]

    @Test func versionNamesTheTargetCPU() throws {
        #expect(try !Self.buildCPU().isEmpty)
    }

    /// On a processor without what the build targets, the binary must refuse cleanly (exit 3, a
    /// message saying how to build for it), never die of an illegal instruction. qemu-user emulates
    /// a Haswell: AVX2 and FMA, no AVX-512.
    @Test(.enabled(if: CLI.which("qemu-x86_64") != nil, "needs qemu-user (apt-get install qemu-user)"))
    func refusesCleanlyOnACPUWithoutTheTargetedFeatures() throws {
        let qemu = try #require(CLI.which("qemu-x86_64"))
        let r = try CLI.run(["-cpu", "Haswell", CLI.binary.path, "--version"], executable: qemu)
        if Self.avx512CPUs.contains(try Self.buildCPU()) {
            #expect(r.status == 3, "expected the clean refusal (exit 3), got \(r.status): \(r.stderr)")
            #expect(r.stderr.contains("this processor lacks: avx512f"))
            #expect(r.stderr.contains("make release CPU=haswell"))
        } else {
            #expect(r.status == 0, "a build for a pre-AVX-512 CPU must run on a Haswell: \(r.stderr)")
        }
    }
}
