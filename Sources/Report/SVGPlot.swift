// Small inline-SVG charts for the HTML report: log or linear axes with ticks, points with error
// bars, lines, crosses, boxes and a legend. Every text passes through `escapeHTML`; every
// coordinate is finite (non-positive values are dropped on log axes).
import Foundation

/// One axis: data range, scale, and its ticks.
struct Axis {
    var log: Bool
    var low: Double
    var high: Double
    var label: String
    /// Ticks to use instead of the computed ones (e.g. the grid's η values).
    var explicitTicks: [Double]?
    /// Names of the categories at 0, 1, 2, … (a linear axis of named items, e.g. groups): every
    /// category is a tick, labelled with its name.
    var categories: [String]?

    /// An axis over `values` (non-positive values ignored on a log axis), padded by 5 %.
    init(_ values: [Double], log: Bool, label: String) {
        self.log = log
        self.label = label
        let usable = values.filter { $0.isFinite && (!log || $0 > 0) }.map { log ? Foundation.log10($0) : $0 }
        var lo = usable.min() ?? 0, hi = usable.max() ?? 1
        if hi - lo < 1e-9 { lo -= log ? 0.5 : max(abs(lo) * 0.1, 0.5); hi += log ? 0.5 : max(abs(hi) * 0.1, 0.5) }
        let pad = (hi - lo) * 0.06
        low = lo - pad
        high = hi + pad
    }

    /// Position in [0, 1] of a data value, nil when it cannot be drawn.
    func unit(_ v: Double) -> Double? {
        guard v.isFinite, !log || v > 0 else { return nil }
        let x = log ? Foundation.log10(v) : v
        return (x - low) / (high - low)
    }

    /// Tick values: decades (then ×2, ×5, then every integer multiple) on a log axis; 1-2-5 steps
    /// on a linear one; 2 to about 8 ticks.
    var ticks: [Double] {
        if let categories { return categories.indices.map(Double.init) }
        if let explicitTicks {
            let inside = explicitTicks.filter { unit($0).map { $0 >= 0 && $0 <= 1 } ?? false }
            return Array(thin(inside))
        }
        if log {
            let a = Int(low.rounded(.down)), b = Int(high.rounded(.up))
            for multiples in [[1.0], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]] {
                var t: [Double] = []
                for e in a...b {
                    for m in multiples {
                        let v = m * pow(10, Double(e))
                        let x = Foundation.log10(v)
                        if x >= low && x <= high { t.append(v) }
                    }
                }
                if t.count >= 3 || multiples.count == 9 { return Array(thin(t)) }
            }
            return []
        }
        let span = high - low
        let raw = span / 5
        let magnitude = pow(10, (Foundation.log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var t: [Double] = []
        var v = (low / step).rounded(.up) * step
        while v <= high + 1e-12 * span && t.count < 20 { t.append(abs(v) < 1e-12 * span ? 0 : v); v += step }
        return t
    }

    private func thin(_ t: [Double]) -> ArraySlice<Double> {
        guard t.count > 10 else { return t[...] }
        // Keep every k-th tick so labels do not overlap.
        let k = (t.count + 9) / 10
        return t.enumerated().filter { $0.offset % k == 0 }.map(\.element)[...]
    }

    /// The text of tick `v`: its category's name, or the number.
    func tickLabel(_ v: Double) -> String {
        if let categories, let i = Int(exactly: v), categories.indices.contains(i) { return categories[i] }
        return Self.label(v)
    }

    static func label(_ v: Double) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e-3 && a < 1e5 {
            var s = String(format: "%.4g", v)
            if s.contains("e") { s = "\(v)" }
            return s
        }
        let e = Int(Foundation.log10(a).rounded(.down))
        let m = v / pow(10, Double(e))
        return abs(m - 1) < 1e-9 ? "1e\(e)" : String(format: "%.3ge%d", m, e)
    }
}

/// A chart: axes, marks and a legend, rendered as one `<svg>` element.
struct Plot {
    var title: String
    var x: Axis
    var y: Axis
    var width = 430.0
    var height = 320.0
    private var marks: [String] = []
    private var notes: [String] = []
    private var legend: [(String, String, Bool)] = []  // label, colour, dashed
    private let left = 64.0, top = 42.0, bottom = 46.0
    /// Room on the right for the legend, which sits outside the frame so it never hides data.
    private let right: Double

    init(title: String, x: Axis, y: Axis, width: Double = 430, height: Double = 320, legend: Bool = false) {
        right = legend ? 96 : 14
        self.title = title
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    private func px(_ v: Double) -> Double? { x.unit(v).map { left + $0 * (width - left - right) } }
    private func py(_ v: Double) -> Double? { y.unit(v).map { height - bottom - $0 * (height - top - bottom) } }
    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Points with optional vertical error bars (yLow, yHigh). A bar is drawn over its marker, which
    /// is light inside, and ends in caps wider than the marker: a bar shorter than the marker still
    /// shows as two caps on it.
    mutating func points(_ pts: [(x: Double, y: Double, low: Double?, high: Double?)], color: String,
                         radius: Double = 3.2, hollow: Bool = false) {
        var s = ""
        for p in pts {
            guard let cx = px(p.x), let cy = py(p.y) else { continue }
            s += "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"\(f(radius))\" stroke=\"\(color)\" "
                + (hollow ? "fill=\"none\"" : "fill=\"\(color)\" fill-opacity=\"0.3\"") + "/>"
            if let lo = p.low, let hi = p.high, let y1 = py(lo), let y2 = py(hi) {
                let cap = radius + 2.5
                s += "<path d=\"M\(f(cx)),\(f(y1))V\(f(y2))M\(f(cx - cap)),\(f(y1))H\(f(cx + cap))"
                    + "M\(f(cx - cap)),\(f(y2))H\(f(cx + cap))\" stroke=\"\(color)\" stroke-width=\"1.2\" fill=\"none\"/>"
            }
        }
        marks.append(s)
    }

    /// Small × marks (excluded runs).
    mutating func crosses(_ pts: [(Double, Double)], color: String) {
        var s = ""
        for (vx, vy) in pts {
            guard let cx = px(vx), let cy = py(vy) else { continue }
            s += "<path d=\"M\(f(cx - 3)),\(f(cy - 3))L\(f(cx + 3)),\(f(cy + 3))M\(f(cx - 3)),\(f(cy + 3))L\(f(cx + 3)),\(f(cy - 3))\" stroke=\"\(color)\" stroke-width=\"1.2\"/>"
        }
        marks.append(s)
    }

    /// A polyline through the drawable points.
    mutating func line(_ pts: [(Double, Double)], color: String, dashed: Bool = false, width w: Double = 1.5) {
        let coords = pts.compactMap { p -> String? in
            guard let cx = px(p.0), let cy = py(p.1) else { return nil }
            return "\(f(cx)),\(f(cy))"
        }
        guard coords.count >= 2 else { return }
        marks.append("<polyline points=\"\(coords.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" "
            + "stroke-width=\"\(f(w))\"" + (dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>")
    }

    /// A box (q1–q3, median) with whiskers (low–high) at x.
    mutating func box(at vx: Double, halfWidth: Double, low: Double, q1: Double, median: Double, q3: Double,
                      high: Double, color: String) {
        guard let cx = px(vx), let yl = py(low), let y1 = py(q1), let ym = py(median), let y3 = py(q3),
              let yh = py(high) else { return }
        marks.append("<line x1=\"\(f(cx))\" y1=\"\(f(yl))\" x2=\"\(f(cx))\" y2=\"\(f(yh))\" stroke=\"\(color)\"/>"
            + "<rect x=\"\(f(cx - halfWidth))\" y=\"\(f(y3))\" width=\"\(f(2 * halfWidth))\" height=\"\(f(max(y1 - y3, 0.5)))\" "
            + "fill=\"\(color)\" fill-opacity=\"0.35\" stroke=\"\(color)\"/>"
            + "<line x1=\"\(f(cx - halfWidth))\" y1=\"\(f(ym))\" x2=\"\(f(cx + halfWidth))\" y2=\"\(f(ym))\" stroke=\"#000\" stroke-width=\"1.5\"/>")
    }

    /// A horizontal reference line at y.
    mutating func hline(_ vy: Double, color: String) {
        guard let cy = py(vy) else { return }
        marks.append("<line x1=\"\(f(left))\" y1=\"\(f(cy))\" x2=\"\(f(width - right))\" y2=\"\(f(cy))\" stroke=\"\(color)\" stroke-dasharray=\"2,3\"/>")
    }

    /// Adds a legend entry (drawn only when the plot was made with `legend: true`).
    mutating func addLegend(_ label: String, color: String, dashed: Bool = false) {
        legend.append((label, color, dashed))
    }

    /// A line of text between the title and the frame (at most two are shown).
    mutating func note(_ text: String) {
        notes.append(text)
    }

    func svg() -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" class=\"plot\" role=\"img\"><title>\(escapeHTML(title))</title>"
        s += "<text x=\"\(f(width / 2))\" y=\"15\" text-anchor=\"middle\" class=\"ptitle\">\(escapeHTML(title))</text>"
        for (i, note) in notes.prefix(2).enumerated() {
            s += "<text x=\"\(f(left))\" y=\"\(f(28 + 11 * Double(i)))\" class=\"note\">\(escapeHTML(note))</text>"
        }
        let x0 = left, x1 = width - right, y0 = height - bottom, y1 = top
        s += "<rect x=\"\(f(x0))\" y=\"\(f(y1))\" width=\"\(f(x1 - x0))\" height=\"\(f(y0 - y1))\" fill=\"#fff\" stroke=\"#888\"/>"
        for t in x.ticks {
            guard let cx = px(t) else { continue }
            s += "<line x1=\"\(f(cx))\" y1=\"\(f(y1))\" x2=\"\(f(cx))\" y2=\"\(f(y0))\" class=\"grid\"/>"
            // Category names alternate between two rows so that long names do not overlap.
            let row = x.categories != nil && Int(t) % 2 == 1 ? 11.0 : 0
            s += "<text x=\"\(f(cx))\" y=\"\(f(y0 + 14 + row))\" text-anchor=\"middle\" class=\"tick\">\(escapeHTML(x.tickLabel(t)))</text>"
        }
        for t in y.ticks {
            guard let cy = py(t) else { continue }
            s += "<line x1=\"\(f(x0))\" y1=\"\(f(cy))\" x2=\"\(f(x1))\" y2=\"\(f(cy))\" class=\"grid\"/>"
            s += "<text x=\"\(f(x0 - 4))\" y=\"\(f(cy + 4))\" text-anchor=\"end\" class=\"tick\">\(escapeHTML(Axis.label(t)))</text>"
        }
        s += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\" class=\"axis\">\(escapeHTML(x.label))</text>"
        s += "<text transform=\"translate(14,\(f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"axis\">\(escapeHTML(y.label))</text>"
        // A nested viewport with the frame's own coordinates clips the marks to the frame.
        s += "<svg x=\"\(f(x0))\" y=\"\(f(y1))\" width=\"\(f(x1 - x0))\" height=\"\(f(y0 - y1))\" "
            + "viewBox=\"\(f(x0)) \(f(y1)) \(f(x1 - x0)) \(f(y0 - y1))\">" + marks.joined() + "</svg>"
        if !legend.isEmpty && right > 50 {
            // Legend right of the frame, one entry per line.
            let lx = x1 + 8
            var ly = y1 + 10
            for (label, color, dashed) in legend {
                s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 16))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\""
                    + (dashed ? " stroke-dasharray=\"4,2\"" : "") + "/>"
                s += "<text x=\"\(f(lx + 20))\" y=\"\(f(ly))\" class=\"legend\">\(escapeHTML(label))</text>"
                ly += 13
            }
        }
        return s + "</svg>"
    }
}

/// Colour of position t in [0, 1] on a blue → green → yellow ramp (viridis-like, readable in print).
func rampColor(_ t: Double) -> String {
    let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (220, 200, 30)]
    let u = min(max(t.isFinite ? t : 0, 0), 1) * Double(stops.count - 1)
    let i = min(Int(u), stops.count - 2), w = u - Double(i)
    let a = stops[i], b = stops[i + 1]
    func c(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * w).rounded()) }
    return String(format: "#%02x%02x%02x", c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
}

/// Colour of a signed value r on a blue – white – red scale saturating at ±limit.
func divergingColor(_ r: Double, limit: Double) -> String {
    let t = min(max(r / max(limit, 1e-12), -1), 1)
    let (base, other): ((Double, Double, Double), Double) = t >= 0 ? ((202, 0, 32), t) : ((5, 113, 176), -t)
    func c(_ x: Double) -> Int { Int((255 + (x - 255) * other).rounded()) }
    return String(format: "#%02x%02x%02x", c(base.0), c(base.1), c(base.2))
}

/// At most `limit` items, evenly spread and including the first and last.
func spread<T>(_ items: [T], limit: Int) -> [T] {
    guard items.count > limit, limit >= 2 else { return items }
    return (0..<limit).map { items[Int((Double($0) * Double(items.count - 1) / Double(limit - 1)).rounded())] }
}
