// The report's list of diverged runs, by cell: which cells diverged, in how many seeds, and how
// (docs/METHOD.md, 6). When every run diverged it is what the report has to show.
extension HTMLReport {
    func divergenceTable() -> String {
        let diverged = data.runs.filter { $0.result.diverged }
        guard !diverged.isEmpty else { return "" }
        struct Cell: Hashable, Comparable {
            var eta: Double, batch: Int
            static func < (l: Cell, r: Cell) -> Bool { (l.eta, l.batch) < (r.eta, r.batch) }
        }
        let byCell = Dictionary(grouping: diverged) { Cell(eta: $0.learningRate, batch: $0.batchSize) }
        let runsPerCell = Dictionary(grouping: data.runs) { Cell(eta: $0.learningRate, batch: $0.batchSize) }
        let rows = byCell.keys.sorted().map { cell -> [String] in
            let runs = byCell[cell] ?? []
            let how = runs.sorted { $0.seed < $1.seed }.map { run in
                "seed \(run.seed): " + (run.result.divergence.map { "\($0)" } ?? "")
            }
            return [Text.eta(cell.eta), "\(cell.batch)", "\(runs.count) of \(runsPerCell[cell]?.count ?? runs.count)",
                    how.joined(separator: "; ")]
        }
        let all = diverged.count == data.runs.count
        let h = "<h3>Diverged runs</h3>\n<p>" + (all ? "Every run diverged (\(diverged.count) of \(diverged.count)), "
            + "so there is no temperature to fit or plot. " : "\(diverged.count) of \(data.runs.count) runs diverged. ")
            + "By cell, with the first test each run failed (docs/METHOD.md, 6):</p>\n"
        return h + cappedTable(["η", "|B|", "seeds diverged", "how"], textColumns: 3...3, rows: rows, total: rows.count)
    }
}
