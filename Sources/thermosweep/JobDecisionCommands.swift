// `thermosweep retry` and `thermosweep cancel`: a user's decision about the jobs of a stopped
// sweep (docs/JOBS.md). Both take the journal's writer lock, so they are refused while the sweep's
// coordinator runs.
import ArgumentParser
import Cell
import Foundation
import Coordinator
import Session

/// The jobs a decision names: `--job` ids, or a cell.
struct JobSelectionOptions: ParsableArguments {
    @Option(help: "The sweep's database (the .sqlite file that `sweep --db` writes; its sweep must be stopped).")
    var db: String

    @Option(name: .customLong("job"),
            help: "A job id, as `status --db DB --all` lists them (#N); repeatable.")
    var jobs: [Int] = []

    @Option(parsing: .unconditional, help: "The cell's learning rate η (one of the grid's).")
    var lr: Double?

    @Option(parsing: .unconditional, help: "The cell's batch size |B| (one of the grid's).")
    var batch: Int?

    @Option(parsing: .unconditional, help: "The cell's momentum m (one of the grid's; where the grid varies it).")
    var momentum: Double?

    @Option(parsing: .unconditional,
            help: "The cell's batch mode, iid or shuffle (one of the grid's; where the grid varies it).")
    var batchMode: BatchMode?

    @Option(parsing: .unconditional,
            help: "The seed index, 1 to the grid's --seeds (alone, it also names that seed's warm start).")
    var seed: Int?

    var selection: JobSelection {
        JobSelection(jobIds: jobs, learningRate: lr, batchSize: batch, seed: seed, momentum: momentum,
                     batchMode: batchMode)
    }

    /// Runs `decision` and prints what it decided (stdout) and what it left (stderr).
    func run(_ decision: JobDecisionKind, what: String) throws {
        try exitOnFailure {
            let plan: JobDecisions.Plan
            do {
                plan = try JournalDecisions.apply(decision, path: db, selection: selection)
            } catch let error as SelectionError {
                throw ValidationError(error.description)
            }
            if plan.changes.isEmpty {
                print("nothing to \(decision.rawValue): \(what)")
            }
            for line in plan.decided { print(line) }
            for line in plan.skipped {
                FileHandle.standardError.write(Data("not \(decision == .retry ? "retried" : "cancelled"): \(line)\n".utf8))
            }
            if !plan.changes.isEmpty {
                print("journaled in \(db); resume the sweep with its command (`thermosweep status --db \(db)` shows it)")
            }
        }
    }
}

/// `thermosweep retry`: failed and cancelled jobs get a new attempt.
struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Give failed (or cancelled) jobs of a stopped sweep a new attempt; resuming the sweep runs them.",
        discussion: """
            Without --job, --lr, --batch, --momentum, --batch-mode or --seed: every job that failed without a result (it ran \
            out of attempts, or its warm start failed). A done job never runs again, and a \
            deterministic failure (diverged training) is the job's result. A measure job brings its \
            failed or cancelled warm start back with it; a warm start brings back the measure jobs \
            that failed because of it. Each decision is journaled, with the user. Refused while the \
            sweep's coordinator runs: stop it first. A resumed sweep with a higher --retry-limit \
            also retries the jobs that ran out of attempts, without this command.
            """)

    @OptionGroup var jobs: JobSelectionOptions

    func run() throws {
        try jobs.run(.retry, what: jobs.selection.isEmpty ? "no job failed without a result."
                         : "no selected job failed without a result or was cancelled.")
    }
}

/// `thermosweep cancel`: jobs that are not wanted.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Mark jobs of a stopped sweep as not wanted: they never run, exports leave them out.",
        discussion: """
            Takes the jobs without a result: queued, failed without a result, or left running by a \
            coordinator that was killed (that lease becomes void: a result its worker still sends is \
            recorded as stale, never counted). A cancelled warm start takes its measure jobs along. \
            Done jobs keep their result. `status` lists cancelled jobs; `retry` brings them back. \
            Refused while the sweep's coordinator runs: stop it first (Ctrl-C; its running jobs go \
            back to the queue), cancel, then resume it.
            """)

    @OptionGroup var jobs: JobSelectionOptions

    func validate() throws {
        if jobs.selection.isEmpty {
            throw ValidationError("name the jobs to cancel: --job N (repeatable), or a cell with --lr, --batch, --momentum, --batch-mode and/or --seed.")
        }
    }

    func run() throws {
        try jobs.run(.cancel, what: "no selected job is without a result and not cancelled yet.")
    }
}

extension BatchMode: ExpressibleByArgument {}
