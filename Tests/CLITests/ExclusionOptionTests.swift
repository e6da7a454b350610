import ArgumentParser
import Foundation
import Report
import ScalingLaw
import Testing
@testable import thermosweep

/// The exclusion options of `fit`, `export` and `report` (docs/METHOD.md, 8): one group, the same
/// policy in all three, values at and beyond their limits refused as usage errors (exit 64) that
/// name the option and what it accepts.
@Suite struct ExclusionOptionTests {
    static let base = ["--db=/nonexistent/s.sqlite"]

    enum Outcome: Equatable, CustomStringConvertible {
        case policy(ExclusionPolicy)
        case refused(String)
        var description: String {
            switch self {
            case .policy(let p): "\(p)"
            case .refused(let text): text
            }
        }
        func get() throws -> ExclusionPolicy {
            guard case .policy(let p) = self else { throw ValidationError("refused: \(self)") }
            return p
        }
    }

    /// `args` parsed by each of the three commands: the policy, or the usage error's text (each
    /// command must agree).
    static func parse(_ args: [String]) throws -> Outcome {
        var outcomes: [Outcome] = []
        func attempt<C: ParsableCommand>(_ command: C.Type, _ extra: [String], _ policy: (C) throws -> ExclusionPolicy) {
            do {
                outcomes.append(.policy(try policy(try C.parse(base + extra + args))))
            } catch {
                #expect(C.exitCode(for: error).rawValue == 64, "\(args): \(C.message(for: error))")
                outcomes.append(.refused(C.message(for: error)))
            }
        }
        attempt(FitCommand.self, []) { try $0.exclusion.policy() }
        attempt(ExportCommand.self, ["--out=/nonexistent/x"]) { try $0.exclusion.policy() }
        attempt(ReportCommand.self, ["--out=/nonexistent/r.html"]) { try $0.exclusion.policy() }
        #expect(outcomes.allSatisfy { $0 == outcomes[0] }, "\(args): the commands disagree: \(outcomes)")
        return try #require(outcomes.first)
    }

    @Test func theDefaultsAreTheDefaultPolicyAndReleaseOptionsAreRelease010() throws {
        #expect(try Self.parse([]).get() == ExclusionPolicy())
        #expect(try Self.parse(["--stationarity-test=two-se", "--whole-cell=any"]).get() == ExclusionPolicy.release010)
        #expect(try Self.parse(["--stationarity-test=off"]).get() == ExclusionPolicy.noStationarityExclusion)
        var p = ExclusionPolicy()
        p.familyWiseLevel = 0.5
        p.correction = .bonferroni
        p.wholeCell = .never
        #expect(try Self.parse(["--stationarity-level=0.5", "--stationarity-correction=bonferroni",
                                "--whole-cell=never"]).get() == p)
        p = ExclusionPolicy()
        p.familyWiseLevel = 1e-6
        p.correction = .none
        #expect(try Self.parse(["--stationarity-level=0.000001", "--stationarity-correction=none"]).get() == p)
    }

    @Test(arguments: [
        (["--stationarity-level=0.5000001"], "--stationarity-level", "give 1e-06 to 0.5"),
        (["--stationarity-level=0"], "--stationarity-level", "give 1e-06 to 0.5"),
        (["--stationarity-level=9.99e-7"], "--stationarity-level", "give 1e-06 to 0.5"),
        (["--stationarity-level=-0.05"], "--stationarity-level", "give 1e-06 to 0.5"),
        (["--stationarity-level=nan"], "--stationarity-level", "give 1e-06 to 0.5"),
        (["--stationarity-correction=fdr"], "--stationarity-correction", "choose holm, bonferroni or none"),
        (["--stationarity-test=t"], "--stationarity-test", "choose welch-t, two-se or off"),
        (["--whole-cell=some"], "--whole-cell", "choose diverged, any or never"),
        (["--stationarity-test=two-se", "--stationarity-level=0.05"], "--stationarity-level", "welch-t only"),
        (["--stationarity-test=off", "--stationarity-correction=holm"], "--stationarity-correction", "welch-t only"),
    ])
    func aValueOutsideItsRangeIsRefusedNamingTheOption(args: [String], option: String, allowed: String) throws {
        guard case .refused(let text) = try Self.parse(args) else {
            Issue.record("\(args) was accepted")
            return
        }
        #expect(text.contains(option) && text.contains(allowed), "\(args): \(text)")
    }

    /// The process: a refused value exits 64 before the database is opened.
    @Test func theBinaryRefusesALevelAboveItsLimit() throws {
        let r = try CLI.run(["fit", "--db", "/nonexistent/s.sqlite", "--stationarity-level", "0.6"])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("--stationarity-level 0.6 is out of range: give 1e-06 to 0.5"), "\(r.stderr)")
    }
}
