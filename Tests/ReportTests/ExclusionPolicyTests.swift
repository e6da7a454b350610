// The exclusion policies on a synthetic sweep where the outcome is known (docs/METHOD.md, 8): a
// diverged run, a run whose loss steps far (rejected under any correction), and one whose loss
// steps a little (Welch p = 0.026: rejected only without a correction, and by the 2-SE rule).
import Foundation
import ScalingLaw
import Testing
@testable import Report

@Suite struct ExclusionPolicyTests {
    let folder: TemporaryFolder
    let data: SweepData
    static let diverged = SyntheticSweep.key(0.2, 8, 2)
    static let far = SyntheticSweep.key(0.0125, 128, 1)
    /// Block means 0.5, 0.501, 0.502, 0.5, 0.501 | 0.5002, 0.4982, 0.4992, 0.5002, 0.4982. SciPy 1.17.1,
    /// `ttest_ind(second, first, equal_var=False)`: t = −2.743977362280313, p = 0.02603590168190787.
    static let near = SyntheticSweep.key(0.05, 32, 3)

    init() throws {
        folder = try TemporaryFolder()
        var sweep = SyntheticSweep()
        sweep.diverged = [Self.diverged]
        sweep.nonStationary = [Self.far]
        sweep.drift = [Self.near: 0.0018]
        try sweep.makeDatabase(at: folder.file("p.sqlite"))
        data = try SweepData.load(storePath: folder.file("p.sqlite"))
    }

    /// "lr/b/seed" → reason of every run the network/diffusion fit leaves out under `policy`.
    func excluded(_ policy: ExclusionPolicy) throws -> [String: String] {
        let fits = SweepFits(data, groups: ["network"], estimators: [.diffusion], policy: policy)
        let fit = try #require(fits.fit(group: "network", estimator: .diffusion))
        return Dictionary(uniqueKeysWithValues: fit.exclusions.map {
            (SyntheticSweep.key($0.learningRate, $0.batchSize, $0.seed), $0.reason)
        })
    }

    /// The three seeds of `key`'s cell: `key` with `reason`, the others `other-seed-excluded`.
    static func cell(_ key: String, _ reason: String) -> [String: String] {
        let stem = key.prefix { $0 != "s" }  // "cell/lr=…/b=…/"
        var out: [String: String] = [:]
        for seed in 1...3 { out["\(stem)seed=\(seed)"] = "\(stem)seed=\(seed)" == key ? reason : "other-seed-excluded" }
        return out
    }

    @Test func theDefaultExcludesTheFarDriftAloneAndTheDivergedCellWhole() throws {
        let got = try excluded(ExclusionPolicy())
        let expected = Self.cell(Self.diverged, "diverged").merging([Self.far: "non-stationary"]) { a, _ in a }
        #expect(got == expected)
        // The same under Bonferroni: the far step's p is far below α/m.
        var bonferroni = ExclusionPolicy()
        bonferroni.correction = .bonferroni
        #expect(try excluded(bonferroni) == expected)
    }

    @Test func withoutACorrectionTheNearDriftGoesToo() throws {
        var none = ExclusionPolicy()
        none.correction = .none
        var expected = Self.cell(Self.diverged, "diverged")
        expected[Self.far] = "non-stationary"
        expected[Self.near] = "non-stationary"
        #expect(try excluded(none) == expected)
        // At α = 0.02 the near drift (p = 0.026) stays.
        none.familyWiseLevel = 0.02
        expected[Self.near] = nil
        #expect(try excluded(none) == expected)
    }

    @Test func release010PolicyDropsWholeCellsByTheTwoSERule() throws {
        // The near drift is 2.7 SE: excluded by the 2-SE rule recomputed from the block means (its
        // recorded `stationary` flag says true: the fit does not read the flag).
        var expected = Self.cell(Self.diverged, "diverged")
        expected.merge(Self.cell(Self.far, "non-stationary")) { a, _ in a }
        expected.merge(Self.cell(Self.near, "non-stationary")) { a, _ in a }
        #expect(try excluded(.release010) == expected)
    }

    @Test func offAndPerRunPolicies() throws {
        #expect(try excluded(.noStationarityExclusion) == Self.cell(Self.diverged, "diverged"))
        var never = ExclusionPolicy()
        never.wholeCell = .never
        #expect(try excluded(never) == [Self.diverged: "diverged", Self.far: "non-stationary"])
    }

    @Test func theDetailSaysTheNumbersAndTheThreshold() throws {
        let fits = SweepFits(data, groups: ["network"], estimators: [.diffusion], policy: ExclusionPolicy())
        #expect(fits.stationarityTested == 74 && fits.stationarityExcluded == 1)
        let fit = try #require(fits.fit(group: "network", estimator: .diffusion))
        let far = try #require(fit.exclusions.first { $0.reason == "non-stationary" })
        // Rank 1 of 74: threshold 0.05/74 = 6.76e-04.
        #expect(far.detail.contains("half means ") && far.detail.contains(" SE, Welch t with ")
            && far.detail.contains(" ≤ 6.76e-04 (Holm, α = 0.05 over 74 runs)"), "\(far.detail)")
        var none = ExclusionPolicy()
        none.correction = .none
        let uncorrected = SweepFits(data, groups: ["network"], estimators: [.diffusion], policy: none)
        let near = try #require(uncorrected.fit(group: "network", estimator: .diffusion)?.exclusions.first {
            SyntheticSweep.key($0.learningRate, $0.batchSize, $0.seed) == Self.near
        })
        #expect(near.detail.contains("difference 2.7 SE") && near.detail.contains("p = 0.026 ≤ 0.05 (uncorrected, α = 0.05)"),
                "\(near.detail)")
        let diverged = try #require(fit.exclusions.first { $0.reason == "other-seed-excluded" })
        #expect(diverged.detail.hasPrefix("seed 2 of this cell diverged"), "\(diverged.detail)")
    }

    @Test func theSensitivityCasesCountTheirRuns() throws {
        let fits = SweepFits(data, policy: ExclusionPolicy())
        let sensitivity = Sensitivity(data, used: fits)
        #expect(sensitivity.cases.map(\.name) == ["default", "no-stationarity-exclusion", "release-0.1.0"])
        let runs = [("default", 75 - 4), ("no-stationarity-exclusion", 75 - 3), ("release-0.1.0", 75 - 9)]
        for (name, used) in runs {
            let f = try #require(sensitivity.fit(name, group: "network"))
            #expect(f.runsUsed == used && f.runsExcluded == 75 - used, "\(name): \(f)")
        }
        // The default case is the fit itself.
        let full = try #require(fits.fit(group: "network", estimator: .diffusion)?.result.fit)
        #expect(sensitivity.fit("default", group: "network")?.a == full.a)
        // A policy that is none of the named ones is listed first.
        var other = ExclusionPolicy()
        other.familyWiseLevel = 0.01
        let own = Sensitivity(data, used: SweepFits(data, groups: ["network"], estimators: [.diffusion], policy: other))
        #expect(own.cases.first?.name == "as-used" && own.cases.first?.policy == other)
        #expect(own.cases.allSatisfy { $0.fits.map(\.group) == ["network"] })
    }
}
