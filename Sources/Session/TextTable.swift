import Foundation

/// A plain-text table with right-aligned numeric columns, for terminal output.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []
    /// Columns (by index) that are left-aligned; all others are right-aligned.
    public var leftAligned: Set<Int> = [0]

    public init(_ header: [String], leftAligned: Set<Int> = [0]) {
        self.header = header
        self.leftAligned = leftAligned
    }

    public mutating func add(_ row: [String]) {
        precondition(row.count == header.count, "table row has \(row.count) cells, header \(header.count)")
        rows.append(row)
    }

    public func render() -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return leftAligned.contains(i) ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingTrailingSpaces()
        }
        var out = [line(header), line(widths.map { String(repeating: "-", count: $0) })]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

extension String {
    fileprivate func replacingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Number formatting shared by the commands.
public enum Format {
    /// `1.234e-03`: temperatures span decades, so they print in scientific notation.
    public static func scientific(_ x: Double, digits: Int = 3) -> String {
        x.isFinite ? String(format: "%.\(digits)e", x) : "\(x)"
    }

    /// `12.35` with a fixed number of decimals.
    public static func fixed(_ x: Double, digits: Int) -> String {
        x.isFinite ? String(format: "%.\(digits)f", x) : "\(x)"
    }

    /// `12,345` with thousands separators.
    public static func grouped(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        let n = Int64(x.rounded())
        var digits = String(n.magnitude)
        var groups: [Substring] = []
        while digits.count > 3 {
            groups.insert(digits.suffix(3), at: 0)
            digits.removeLast(3)
        }
        groups.insert(Substring(digits), at: 0)
        return (n < 0 ? "-" : "") + groups.joined(separator: ",")
    }
}
