// The report's list of diverged runs, by cell: which cells diverged, in how many seeds, and how
// (docs/METHOD.md, 6). When every run diverged it is what the report has to show.
extension HTMLReport {
    /// One table per slice of the grid with a diverged run (per momentum where it varies, titled so).
    func divergenceTable() -> String {
        data.slices.map { divergenceTable($0) }.joined()
    }

    private func divergenceTable(_ slice: GridSlice) -> String {
        let runs = data.runs.filter { slice.contains($0) }
        let diverged = runs.filter { $0.result.diverged }
        guard !diverged.isEmpty else { return "" }
        struct Cell: Hashable, Comparable {
            var eta: Double, batch: Int
            static func < (l: Cell, r: Cell) -> Bool { (l.eta, l.batch) < (r.eta, r.batch) }
        }
        let byCell = Dictionary(grouping: diverged) { Cell(eta: $0.learningRate, batch: $0.batchSize) }
        let runsPerCell = Dictionary(grouping: runs) { Cell(eta: $0.learningRate, batch: $0.batchSize) }
        let rows = byCell.keys.sorted().map { cell -> [String] in
            let runs = byCell[cell] ?? []
            let how = runs.sorted { $0.seed < $1.seed }.map { run in
                "seed \(run.seed): " + (run.result.divergence.map { "\($0)" } ?? "")
            }
            return [Text.eta(cell.eta), "\(cell.batch)", "\(runs.count) of \(runsPerCell[cell]?.count ?? runs.count)",
                    how.joined(separator: "; ")]
        }
        let all = diverged.count == runs.count
        let h = "<h3>\(escapeHTML(slice.naming("Diverged runs")))</h3>\n<p>"
            + (all ? "Every run diverged (\(diverged.count) of \(diverged.count)), "
            + "so there is no temperature to fit or plot. " : "\(diverged.count) of \(runs.count) runs diverged. ")
            + "By cell, with the first test each run failed (docs/METHOD.md, 6):</p>\n"
        return h + cappedTable(["η", "|B|", "seeds diverged", "how"], textColumns: 3...3, rows: rows, total: rows.count)
    }
}
