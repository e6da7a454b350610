// RFC 4180 CSV: comma separated, "\n" line ends, fields quoted only when they hold a comma, a
// quote, a line break or leading/trailing space; a quote inside is doubled.
import Foundation

/// A CSV table built row by row into one string.
public struct CSVWriter {
    public private(set) var text = ""
    public let columns: Int

    public init(header: [String]) {
        columns = header.count
        append(header)
    }

    /// A writer for rows only (a chunk of a table whose header another writer holds).
    init(columns: Int) {
        self.columns = columns
    }

    public mutating func append(_ fields: [String]) {
        precondition(fields.count == columns, "CSV row has \(fields.count) fields, header \(columns)")
        var first = true
        for field in fields {
            if !first { text += "," }
            first = false
            text += CSVWriter.quote(field)
        }
        text += "\n"
    }

    static func quote(_ field: String) -> String {
        // Bytes, not Characters: grapheme breaking would dominate the export's time.
        let utf8 = field.utf8
        let needsQuotes = utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
            || utf8.first == 0x20 || utf8.last == 0x20
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
