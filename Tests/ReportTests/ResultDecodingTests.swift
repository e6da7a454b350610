// Journaled results decode through the one JSON reader exactly as through Foundation's JSONDecoder.
import Cell
import Foundation
import Report
import Testing

@Suite struct ResultDecodingTests {
    @Test func cellResultsDecodeAsWithJSONDecoder() throws {
        var sweep = SyntheticSweep()
        sweep.diverged = [SyntheticSweep.key(0.2, 8, 1)]
        sweep.nonStationary = [SyntheticSweep.key(0.1, 8, 1)]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (lr, b) in [(0.2, 8), (0.1, 8), (0.05, 32)] {
            let bytes = Array(sweep.cellJSON(lr: lr, batch: b, seed: 1, key: SyntheticSweep.key(lr, b, 1)).utf8)
            let reference = try JSONDecoder().decode(CellResult.self, from: Data(bytes))
            guard case .success(let read) = decodeCellResult(bytes) else { Issue.record("\(lr) \(b) did not decode"); continue }
            // Re-encoded with sorted keys, both decodings give the same bytes.
            #expect(try encoder.encode(reference) == encoder.encode(read))
        }
    }
}
