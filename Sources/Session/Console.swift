// Event lines and the live progress line of a running sweep, on standard error.
import Cell
import Coordinator
import Foundation

/// Serializes what the sweep writes to stderr. On a terminal the last line is a progress line that
/// event lines scroll above; without one, plain timestamped lines (progress every `plainEvery`).
public final class Console: @unchecked Sendable {
    // Safe to share: every member is used under `lock`.
    private let lock = NSLock()
    private let terminal: Bool
    private var progress = ""
    private var lastPlain: Date?
    private let plainEvery: TimeInterval

    public init(plainEvery: TimeInterval = 10) {
        terminal = isatty(STDERR_FILENO) != 0
        self.plainEvery = plainEvery
    }

    /// One event line, timestamped.
    public func event(_ line: String) {
        lock.withLock {
            var text = "\(LocalClock.now()) \(line)\n"
            if terminal && !progress.isEmpty { text = "\r\u{1B}[K" + text + progress }
            write(text)
        }
    }

    /// Replaces the progress line (terminal) or prints it every `plainEvery` seconds (else).
    public func progress(_ line: String, force: Bool = false) {
        lock.withLock {
            if terminal {
                // One row, never wrapped: a wrapped line would leave a copy at every redraw.
                progress = Self.cut(line, to: Self.columns())
                write("\r\u{1B}[K" + progress)
            } else if force || lastPlain.map({ Date().timeIntervalSince($0) >= plainEvery }) ?? true {
                lastPlain = Date()
                write("\(LocalClock.now()) \(line)\n")
            }
        }
    }

    /// Ends the progress line so that what follows starts on a fresh line.
    public func finishProgress() {
        lock.withLock {
            if terminal && !progress.isEmpty { write("\n") }
            progress = ""
        }
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    /// Characters an event line may have after its `HH:MM:SS ` time to fit 80 columns.
    public static let eventWidth = 80 - 9

    /// The terminal's width in columns (80 when it does not say).
    public static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// `line` as is when it is shorter than `width` columns, else cut to `width - 1` (a line as
    /// wide as the terminal wraps on some).
    static func cut(_ line: String, to width: Int) -> String {
        line.count < width ? line : String(line.prefix(max(0, width - 1)))
    }

    /// `12/78 ended · 1 failed · 2 running · 64 queued · 2 workers · 4.1 jobs/min · ETA 3m12s`,
    /// fitted to `width` columns: the rate, then the worker count, then the queue are left out
    /// until it fits, and what still does not is cut. The ETA is the remaining expected cost
    /// (training samples) at the rate cost has ended since this run began, which does not depend on
    /// the order the jobs run in.
    public static func progressLine(_ p: CoordinatorProgress, width: Int = .max) -> String {
        let ended = p.count(.done) + p.count(.failed) + p.count(.cancelled)
        var eta: String?, rate: String?
        if p.endedSinceStart > 0 && p.elapsedSeconds > 0 {
            let perSecond = Double(p.endedSinceStart) / p.elapsedSeconds
            rate = perSecond >= 1 ? String(format: "%.1f jobs/s", perSecond) : String(format: "%.1f jobs/min", perSecond * 60)
            if ended < p.total {
                let costPerSecond = Double(p.costEndedSinceStart) / p.elapsedSeconds
                let seconds = costPerSecond > 0 ? Double(p.costRemaining) / costPerSecond
                    : Double(p.total - ended) / perSecond
                eta = "ETA " + duration(seconds)
            }
        }
        let failed = p.count(.failed) + p.count(.cancelled) == 0 ? nil
            : [p.count(.failed) > 0 ? "\(p.count(.failed)) failed" : nil,
               p.count(.cancelled) > 0 ? "\(p.count(.cancelled)) cancelled" : nil].compactMap { $0 }.joined(separator: " · ")
        let running = "\(p.count(.running)) running"
        let queued = "\(p.count(.queued) + p.count(.orphaned)) queued"
        let workers = "\(p.workers) worker\(p.workers == 1 ? "" : "s")"
        let head = "\(ended)/\(p.total) ended"
        let layouts: [[String?]] = [
            [head, failed, running, queued, workers, rate, eta],
            [head, failed, running, queued, workers, eta],
            [head, failed, running, queued, eta],
            [head, failed, running, eta],
        ]
        var line = ""
        for layout in layouts {
            line = layout.compactMap { $0 }.joined(separator: " · ")
            if line.count < width { return line }
        }
        return cut(line, to: width)
    }

    /// `45s`, `3m12s`, `2h05m`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
