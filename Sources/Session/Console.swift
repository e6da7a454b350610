// Event lines and the live progress line of a running sweep, on standard error.
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
            var text = "\(Self.clock()) \(line)\n"
            if terminal && !progress.isEmpty { text = "\r\u{1B}[K" + text + progress }
            write(text)
        }
    }

    /// Replaces the progress line (terminal) or prints it every `plainEvery` seconds (else).
    public func progress(_ line: String, force: Bool = false) {
        lock.withLock {
            if terminal {
                progress = line
                write("\r\u{1B}[K" + line)
            } else if force || lastPlain.map({ Date().timeIntervalSince($0) >= plainEvery }) ?? true {
                lastPlain = Date()
                write("\(Self.clock()) \(line)\n")
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

    private static func clock() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// `12/78 done · 2 running · 64 queued · 0 failed · 2 workers · 4.1 jobs/min · ETA 3m12s`.
    public static func progressLine(_ p: CoordinatorProgress) -> String {
        let ended = p.count(.done) + p.count(.failed)
        var parts = ["\(ended)/\(p.total) ended (\(p.count(.done)) done, \(p.count(.failed)) failed)",
                     "\(p.count(.running)) running", "\(p.count(.queued) + p.count(.orphaned)) queued",
                     "\(p.workers) worker\(p.workers == 1 ? "" : "s")"]
        if p.endedSinceStart > 0 && p.elapsedSeconds > 0 {
            let perSecond = Double(p.endedSinceStart) / p.elapsedSeconds
            parts.append(perSecond >= 1 ? String(format: "%.1f jobs/s", perSecond)
                                        : String(format: "%.1f jobs/min", perSecond * 60))
            let remaining = p.total - ended
            if remaining > 0 { parts.append("ETA " + duration(Double(remaining) / perSecond)) }
        }
        return parts.joined(separator: " · ")
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
