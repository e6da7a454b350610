// Every way fit / export / report can refuse; each message names the offending value and says
// what to do next.

import Store

/// Why a fit, an export or a report could not be made.
public enum ReportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The journal could not be opened or read (missing file, not a journal, …).
    case store(StoreError)
    /// The journal holds no finished measure job yet.
    case noResults(path: String, detail: String)
    /// The journal's grid has no temperatures (trivial jobs).
    case noTemperatures(path: String, jobKind: String)
    /// `--group` names no group of the results.
    case unknownGroup(String, valid: [String])
    /// `--estimator` names no estimator.
    case unknownEstimator(String, valid: [String])
    /// An output file or folder could not be written; nothing partial was left at `path`.
    case write(path: String, detail: String)

    public var description: String {
        switch self {
        case let .store(error):
            return error.description
        case let .noResults(path, detail):
            return "\(path) holds no finished cell yet (\(detail)): run or resume the sweep first, "
                + "or check `thermosweep status --db \(path)`."
        case let .noTemperatures(path, jobKind):
            return "\(path) holds a \(jobKind) grid: its jobs measure no temperatures, so there is "
                + "nothing to fit. Give the --db of a training sweep."
        case let .unknownGroup(name, valid):
            return "unknown group '\(name)': choose one of \(valid.joined(separator: ", "))."
        case let .unknownEstimator(name, valid):
            return "unknown estimator '\(name)': choose one of \(valid.joined(separator: ", "))."
        case let .write(path, detail):
            return "\(path): cannot write: \(detail)"
        }
    }
}
