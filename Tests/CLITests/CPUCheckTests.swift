import Foundation
import TestSupport
import Testing

@Suite(.ownThread(.cpuBound)) struct CPUCheckTests {
    /// The CPU the binary under test was built for, from `--version`.
    static func buildCPU() throws -> String {
        let r = try CLI.run(["--version"])
        guard let range = r.stdout.range(of: "built for CPU ") else { return "" }
        return String(r.stdout[range.upperBound...].prefix { $0 != ")" })
    }

    static let avx512CPUs: Set<String> = ["skylake-avx512", "skx", "cascadelake", "icelake-server",
                                         "sapphirerapids", "znver4", "znver5"]
    static let avx2CPUs: Set<String> = ["haswell", "core-avx2", "broadwell", "skylake", "alderlake", "znver1",
                                       "znver2", "znver3"]

    @Test func versionNamesTheTargetCPU() throws {
        #expect(try !Self.buildCPU().isEmpty)
    }

    /// On a processor without what the build targets, the binary must refuse cleanly (exit 3, a
    /// message saying how to build for it), never die of an illegal instruction. qemu-user emulates
    /// an older CPU: a Haswell (AVX2 and FMA, no AVX-512) under an AVX-512 build, a Westmere (no AVX)
    /// under an AVX2 build; a build for any x86-64 must run on both.
    @Test(.enabled(if: CLI.which("qemu-x86_64") != nil, "needs qemu-user (apt-get install qemu-user)"))
    func refusesCleanlyOnACPUWithoutTheTargetedFeatures() throws {
        let qemu = try #require(CLI.which("qemu-x86_64"))
        let cpu = try Self.buildCPU()
        let (emulated, lacking): (String, String?) = Self.avx512CPUs.contains(cpu) ? ("Haswell", "avx512f")
            : Self.avx2CPUs.contains(cpu) ? ("Westmere", "avx") : ("Westmere", nil)
        let r = try CLI.run(["-cpu", emulated, CLI.binary.path, "--version"], executable: qemu)
        if let lacking {
            #expect(r.status == 3, "expected the clean refusal (exit 3) on \(emulated), got \(r.status): \(r.stderr)")
            #expect(r.stderr.contains("this processor lacks: \(lacking)"), "\(r.stderr)")
            #expect(r.stderr.contains("make release CPU=x86-64"))
        } else {
            #expect(r.status == 0, "a build for \(cpu) must run on a \(emulated): \(r.stderr)")
        }
    }
}
