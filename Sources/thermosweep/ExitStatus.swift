// One exit status per kind of failure, the same for every command that reads a sweep's database
// (status, fit, export, report, backup); README, "Exit status".
import ArgumentParser
import Foundation
import Report
import Session
import Store

/// Runs `body`; a failure is printed on stderr as `Error: …` and exits with the status of its
/// kind: 2 when the input is refused (no database, not a journal, a newer one, nothing to fit, an
/// unknown group), 1 when a file could not be read or written or a coordinator did not answer.
/// Usage errors keep ArgumentParser's 64.
func exitOnFailure(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
        throw ExitCode(exitStatus(of: error))
    }
}

/// 2 for refused input, 1 for everything else (see `exitOnFailure`).
func exitStatus(of error: any Error) -> Int32 {
    switch error {
    case let error as StoreError:
        return error.isRefusedInput ? 2 : 1
    case is JobDecisionError:
        return 2
    case let error as ReportError:
        switch error {
        case .write: return 1
        case .store(let store): return exitStatus(of: store)
        case .noResults, .noTemperatures, .unknownGroup, .unknownEstimator: return 2
        }
    default:
        return 1
    }
}
