// The `fit` command's table: per group, the exponents with errors and intervals, the tests, and
// what was left out and why; it ends with the whole-network line.
import ScalingLaw
import Cell

/// Entry points for the text forms of the fits.
public enum Report {
    /// The whole-network line of `estimator`, e.g.
    /// `network (diffusion): T ∝ η^0.97±0.02 |B|^-0.92±0.02, p(1,-1)=2e-3, p(a+b=0)=0.04`.
    /// Where the batch mode varies, one such line per mode, labelled.
    public static func summaryLine(_ fits: SweepFits, estimator: Estimator = .diffusion) -> String {
        let group = GroupReport.networkName
        let modes: [BatchMode?] = fits.fits
            .filter { $0.group == group && $0.estimator == estimator.rawValue && $0.momentum == nil && $0.batchMode != nil }
            .map(\.batchMode)
        return (modes.isEmpty ? [nil] : modes).map { mode in
            let line = fits.fit(group: group, estimator: estimator, batchMode: mode).map { fit in
                "\(group) (\(estimator.rawValue)\(fit.label)): \(fit.result.summaryLine)"
            } ?? "\(group) (\(estimator.rawValue)): not fitted"
            return ([line] + perMomentumLine(fits, group: group, estimator: estimator, batchMode: mode))
                .joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Where the momentum varies, under the collapsed line: each m's own exponent of η and the
    /// test that they are one (a collapse against η/(1 − m) needs that), e.g.
    /// `  per m: a = 0.98±0.01 (m = 0.0), 0.70±0.01 (m = 0.9); one a for every m: p = 1e-20`.
    static func perMomentumLine(_ fits: SweepFits, group: String, estimator: Estimator,
                                batchMode: BatchMode?) -> [String] {
        let perM = fits.fits.filter {
            $0.group == group && $0.estimator == estimator.rawValue && $0.momentum != nil && $0.batchMode == batchMode
        }
        guard !perM.isEmpty else { return [] }
        let parts = perM.map { fit in
            "\(fit.result.fit.map { $0.a.summaryText } ?? "no fit") (m = \(Text.number(fit.momentum)))"
        }
        let fitted = perM.compactMap(\.result.fit)
        // Standard errors scaled by each fit's reduced χ² are estimates: then the F law, as the
        // fits' own Wald tests use it.
        let dof = fitted.compactMap { $0.expectedExponents?.denominatorDegreesOfFreedom }.min()
        let test = Estimate.equality(fitted.map(\.a), hypothesis: "one a for every m", denominatorDegreesOfFreedom: dof)
        let over = fitted.count < perM.count ? " (over the \(fitted.count) fitted)" : ""
        return ["  per m: a = \(parts.joined(separator: ", ")); one a for every m\(over): p = \(test?.pValueText ?? "untestable")"]
    }

    /// Loads the journal at `storePath`, fits the whole network with `estimator`, and returns
    /// its line (what `sweep` prints last).
    public static func summaryLine(storePath: String, estimator: Estimator = .diffusion) throws(ReportError) -> String {
        let data = try SweepData.load(storePath: storePath)
        let groups = data.groups.contains(GroupReport.networkName) ? [GroupReport.networkName] : []
        return summaryLine(SweepFits(data, groups: groups, estimators: [estimator]), estimator: estimator)
    }

    /// Parses an estimator name, or throws listing the valid ones.
    public static func estimator(named name: String) throws(ReportError) -> Estimator {
        guard let e = Estimator(rawValue: name) else {
            throw .unknownEstimator(name, valid: Estimator.allCases.map(\.rawValue))
        }
        return e
    }

    /// The `fit` table for `fits` (the groups in `showing`, default all, of one estimator, in layer
    /// order), ending with the whole-network line.
    public static func fitText(_ data: SweepData, _ fits: SweepFits, estimator: Estimator,
                               showing: [String]? = nil) -> String {
        var out: [String] = []
        let spec = data.spec
        let diverged = data.runs.filter { $0.result.diverged }.count
        let momenta = (spec.variesMomentum ? "\(spec.momentumValues.count) m × " : "")
            + (spec.variesBatchMode ? "\(spec.batchModeValues.count) batch modes × " : "")
        out.append("grid \(data.specHash): \(spec.model), \(spec.learningRates.count) η × \(spec.batchSizes.count) |B| × \(momenta)"
            + "\(spec.seeds) seeds = \(data.gridCellCount * spec.seeds) runs; \(data.runs.count) done "
            + "(\(diverged) diverged), \(data.problems.filter { $0.state == "failed" || $0.state == "unreadable" }.count) "
            + "failed, \(data.problems.filter { $0.state != "failed" && $0.state != "unreadable" }.count) not ended")
        let e = expectedExponents(estimator)
        out.append("estimator \(estimator.rawValue): ln T = c + a ln η + b ln|B|, expected a = \(Text.fixed(e.a, 0)), "
            + "b = \(Text.fixed(e.b, 0)); ± is the standard error, [ ] the 95 % interval")
        if spec.variesBatchMode {
            out.append("batch mode varies (\(spec.batchModeValues.map(\.rawValue).joined(separator: ", "))): the runs of "
                + "each mode are fitted apart (their gradient noise differs)")
        }
        if spec.variesMomentum {
            out.append("momentum varies (m = \(spec.momentumValues.map { Text.number($0) }.joined(separator: ", "))): "
                + "first the collapsed fit of every run, fitted against \(SweepFits.effectiveLearningRate) "
                + "(ln T = c + a ln η_eff + b ln|B|, η_eff = η/(1 − m)), then one fit against η per m")
        }
        for problem in data.problems where problem.state == "failed" || problem.state == "unreadable" {
            out.append("  \(problem.state) \(problem.key): \(problem.reason)")
        }
        let notEnded = data.problems.filter { $0.state != "failed" && $0.state != "unreadable" }
        if !notEnded.isEmpty {
            out.append("  not ended: \(notEnded.count) jobs (e.g. \(notEnded[0].key): \(notEnded[0].reason)); "
                + "the fits use the finished cells only")
        }
        let shown = fits.fits.filter { fit in
            fit.estimator == estimator.rawValue && (showing?.contains(fit.group) ?? true)
        }
        // Exclusions of the whole run (diverged, drifting loss) are the same in every group: listed once.
        var common = shown.first.map { Set($0.exclusions) } ?? []
        for fit in shown.dropFirst() { common.formIntersection(fit.exclusions) }
        if shown.count > 1 && !common.isEmpty {
            out.append("")
            out.append("excluded from every group (\(common.count) runs):")
            out += exclusionLines(common.sorted(by: Self.cellOrder), indent: "  ")
        }
        for fit in shown {
            out.append("")
            out += groupText(fit, listedAbove: shown.count > 1 ? common : [])
        }
        out.append("")
        out.append(summaryLine(fits, estimator: estimator))
        return out.joined(separator: "\n") + "\n"
    }

    static func cellOrder(_ l: CellExclusion, _ r: CellExclusion) -> Bool {
        (l.learningRate, l.batchSize, l.seed, l.reason) < (r.learningRate, r.batchSize, r.seed, r.reason)
    }

    static func groupText(_ fit: GroupFit, listedAbove: Set<CellExclusion> = []) -> [String] {
        let own = fit.exclusions.filter { !listedAbove.contains($0) }
        let excluded: [String]
        if own.isEmpty {
            excluded = [listedAbove.isEmpty ? "  excluded: none" : "  excluded: the \(listedAbove.count) runs listed above"]
        } else {
            excluded = [listedAbove.isEmpty ? "  excluded:" : "  excluded: the \(listedAbove.count) runs listed above, and"]
                + exclusionLines(own, indent: "    ")
        }
        let r = fit.result
        var out: [String] = []
        let cellsSeen = r.cells.count + r.excludedCells.count
        guard let f = r.fit else {
            out.append("\(fit.group)\(fit.label): no fit (\(r.failure?.message ?? "unknown reason"))")
            out += excluded
            return out
        }
        out.append("\(fit.group)\(fit.label)  (\(f.cellsUsed) of \(cellsSeen) cells used, \(fit.exclusions.count) runs excluded)")
        func row(_ name: String, _ e: Estimate, _ boot: BootstrapEstimate?) -> String {
            var line = "  \(name) = \(Text.valueWithError(e.value, e.standardError))   95 % "
                + "[\(Text.fixed(e.interval.lower, 3)), \(Text.fixed(e.interval.upper, 3))]"
            if let boot {
                line += "   bootstrap [\(Text.fixed(boot.percentileInterval.lower, 3)), "
                    + "\(Text.fixed(boot.percentileInterval.upper, 3))]"
            }
            return line
        }
        out.append(row("a", f.a, r.bootstrap?.a))
        out.append(row("b", f.b, r.bootstrap?.b))
        out.append(row("c", f.c, r.bootstrap?.c))
        if let g = f.oneExponent {
            out.append(row("γ", g.gamma, r.bootstrap?.gamma) + "   (ln T = c′ + γ ln(η/|B|))")
        }
        func test(_ label: String, _ t: WaldTest?) -> String {
            guard let t else { return "  \(label): not testable" }
            let law = t.denominatorDegreesOfFreedom.map { "F(\(t.constraints), \($0))" } ?? "χ²(\(t.constraints))"
            return "  \(label): W = \(Text.significant(t.statistic)), \(law), p = \(Text.pValue(t.pValue))"
        }
        out.append(test("collapse a + b = 0", f.collapse))
        out.append(test("(a, b) = (\(Text.fixed(r.options.expectedExponents.a, 0)), "
            + "\(Text.fixed(r.options.expectedExponents.b, 0)))", f.expectedExponents))
        if let c = f.curvature {
            let law = c.denominatorDegreesOfFreedom.map { "F(3, \($0))" } ?? "χ²(3)"
            out.append("  curvature ((ln η)², (ln|B|)², ln η·ln|B|): \(law) = \(Text.significant(c.statistic)), "
                + "p = \(Text.pValue(c.pValue))")
        } else {
            out.append("  curvature: not tested")
        }
        out.append("  R² = \(Text.fixed(f.rSquared, 4)), χ²/dof = \(Text.fixed(f.reducedChiSquare, 2)) "
            + "(dof \(f.degreesOfFreedom)), weighting \(r.weighting.rawValue)")
        if let refit = r.restricted {
            let axis = fit.fittedAgainst ?? "η"
            if let rf = refit.fit {
                out.append("  without \(axis) = \(Text.computedEta(refit.droppedEta)) and |B| = \(refit.droppedBatchSize): "
                    + "a = \(Text.valueWithError(rf.a.value, rf.a.standardError)), "
                    + "b = \(Text.valueWithError(rf.b.value, rf.b.standardError)) (\(rf.cellsUsed) cells)")
            } else if let failure = refit.failure {
                out.append("  without \(axis) = \(Text.computedEta(refit.droppedEta)) and |B| = \(refit.droppedBatchSize): "
                    + "no fit (\(failure.message))")
            }
        }
        if let caution = r.bootstrap?.caution { out.append("  bootstrap: \(caution)") }
        if let why = r.bootstrapUnavailable { out.append("  bootstrap: \(why)") }
        for note in f.notes { out.append("  note: \(note)") }
        out += excluded
        return out
    }

    /// One line per excluded run (the first 20), then counts by reason.
    static func exclusionLines(_ exclusions: [CellExclusion], indent: String) -> [String] {
        var out: [String] = []
        for e in exclusions.prefix(20) {
            out.append("\(indent)η = \(Text.eta(e.learningRate)), |B| = \(e.batchSize), "
                + (e.momentum.map { "m = \(Text.number($0)), " } ?? "")
                + (e.batchMode.map { "\($0.rawValue) batches, " } ?? "") + "seed \(e.seed): "
                + "\(e.reason) (\(e.detail))")
        }
        if exclusions.count > 20 {
            var counts: [String: Int] = [:]
            for e in exclusions.dropFirst(20) { counts[e.reason, default: 0] += 1 }
            out.append("\(indent)… and \(exclusions.count - 20) more: "
                + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                + " (all in fits.json)")
        }
        return out
    }
}
