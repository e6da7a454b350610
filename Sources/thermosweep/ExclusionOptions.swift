import ArgumentParser
import Report
import ScalingLaw

/// Which runs the fits leave out (docs/METHOD.md, 8), for the commands that fit a sweep (`fit`,
/// `export`, `report`); `sweep` writes its exports with the defaults.
struct ExclusionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "How a run's drifting training loss is tested: welch-t (a p-value per run, corrected over the sweep's runs), two-se (release 0.1.0: halves differ by ≥ 2 SE, no correction) or off (no run is left out for drift).",
        valueName: "test"))
    var stationarityTest = StationarityTest.welchT.rawValue

    @Option(help: ArgumentHelp(
        "Family-wise error level α of the sweep's stationarity tests (welch-t only; default 0.05, at most 0.5).",
        valueName: "alpha"))
    var stationarityLevel: Double?

    @Option(help: ArgumentHelp(
        "How α is shared among the sweep's stationarity tests: holm (default), bonferroni or none (each test at α; welch-t only).",
        valueName: "correction"))
    var stationarityCorrection: String?

    @Option(help: ArgumentHelp(
        "Which excluded seeds take their whole cell along: diverged (default: a diverged seed's cell; other exclusions are per run), any (release 0.1.0) or never (every exclusion per run).",
        valueName: "rule"))
    var wholeCell = WholeCellRule.diverged.rawValue

    func validate() throws { _ = try policy() }

    /// The policy these options name; a wrong value is refused naming the option and what is allowed.
    func policy() throws(ValidationError) -> ExclusionPolicy {
        var p = ExclusionPolicy()
        let tests = StationarityTest.allCases.map(\.rawValue) + ["off"]
        if stationarityTest == "off" {
            p.lossNonStationary = false
        } else if let test = StationarityTest(rawValue: stationarityTest) {
            p.stationarityTest = test
        } else {
            throw ValidationError("--stationarity-test '\(stationarityTest)' is unknown: choose \(Self.list(tests)).")
        }
        if p.stationarityTest != .welchT || !p.lossNonStationary {
            for (name, given) in [("--stationarity-level", stationarityLevel != nil),
                                  ("--stationarity-correction", stationarityCorrection != nil)] where given {
                throw ValidationError("\(name) applies to --stationarity-test welch-t only, not "
                    + "\(stationarityTest): leave it out or choose welch-t.")
            }
            if p.stationarityTest == .twoSE { p.correction = .none }
        }
        if let level = stationarityLevel {
            let range = ExclusionPolicy.levelRange
            guard range.contains(level) else {
                throw ValidationError("--stationarity-level \(level) is out of range: give "
                    + "\(range.lowerBound) to \(range.upperBound) (the family-wise error level, e.g. 0.05).")
            }
            p.familyWiseLevel = level
        }
        if let name = stationarityCorrection {
            guard let correction = MultipleTestingCorrection(rawValue: name) else {
                throw ValidationError("--stationarity-correction '\(name)' is unknown: choose "
                    + "\(Self.list(MultipleTestingCorrection.allCases.map(\.rawValue))).")
            }
            p.correction = correction
        }
        guard let rule = WholeCellRule(rawValue: wholeCell) else {
            throw ValidationError("--whole-cell '\(wholeCell)' is unknown: choose "
                + "\(Self.list(WholeCellRule.allCases.map(\.rawValue))).")
        }
        p.wholeCell = rule
        return p
    }

    private static func list(_ names: [String]) -> String {
        names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }
}
