// `thermosweep retry` and `thermosweep cancel`: a user's decision about jobs, journaled while no
// coordinator runs. The journal has one writer: a coordinator holds its lock for as long as it
// runs, so these commands take the same lock and are refused while a sweep runs (stopping it with
// Ctrl-C returns its running jobs to the queue; the same command resumes it). Which jobs change
// and how is the scheduler's rule (Coordinator, JobDecisions.swift); this file selects the jobs
// and records the plan in one transaction.
import Cell
import Coordinator
import Foundation
import Store
import SweepProtocol

/// A user's decision about the jobs of a stopped sweep.
public enum JobDecisionKind: String, Sendable {
    /// Failed and cancelled jobs get a new attempt.
    case retry
    /// Jobs without a result are not wanted.
    case cancel
}

/// The jobs a `retry` or `cancel` names: ids, and a cell (any of η, |B|, m, batch mode, seed index).
public struct JobSelection: Sendable, Equatable {
    public var jobIds: [Int] = []
    public var learningRate: Double?
    public var batchSize: Int?
    /// 1-based seed index of the grid.
    public var seed: Int?
    /// The cell's momentum (one of the grid's).
    public var momentum: Double?
    /// The cell's batch mode (one of the grid's).
    public var batchMode: BatchMode?

    public init(jobIds: [Int] = [], learningRate: Double? = nil, batchSize: Int? = nil, seed: Int? = nil,
                momentum: Double? = nil, batchMode: BatchMode? = nil) {
        (self.jobIds, self.learningRate, self.batchSize, self.seed, self.momentum, self.batchMode)
            = (jobIds, learningRate, batchSize, seed, momentum, batchMode)
    }

    /// `1 to 8, 11 to 15`: sorted ids as runs (a grown or dropped grid's ids have gaps).
    static func ranges(_ ids: [Int]) -> String {
        var runs: [(Int, Int)] = []
        for id in ids {
            if let last = runs.last, last.1 + 1 == id { runs[runs.count - 1].1 = id } else { runs.append((id, id)) }
        }
        return runs.map { $0 == $1 ? "\($0)" : "\($0) to \($1)" }.joined(separator: ", ")
    }

    /// Whether a cell selector (`--lr`, `--batch`, `--momentum`, `--batch-mode`, `--seed`) is given.
    public var namesCell: Bool {
        learningRate != nil || batchSize != nil || momentum != nil || batchMode != nil || seed != nil
    }
    public var isEmpty: Bool { jobIds.isEmpty && !namesCell }

    /// The ids this selection names on `spec`'s grid: the `--job`s, then every job of the cell
    /// (a warm start when only `--seed` is given), in id order. A value the grid does not have is
    /// a `SelectionError` naming it and what the grid has.
    func resolve(in spec: GridSpec, jobs: [JobDescriptor]) throws(SelectionError) -> (named: [Int], cell: [Int]) {
        let ids = Set(jobs.map(\.id))
        for id in jobIds where !ids.contains(id) {
            throw SelectionError("--job \(id) is not a job of this sweep's grid: its jobs are "
                                     + JobSelection.ranges(ids.sorted())
                                     + " (`thermosweep status --db DB --all` lists them)")
        }
        if let learningRate, !spec.learningRates.contains(where: { Self.same($0, learningRate) }) {
            throw SelectionError("--lr \(learningRate) is not on this sweep's grid: its learning rates are "
                                     + spec.learningRates.map { "\($0)" }.joined(separator: ", "))
        }
        if let batchSize, !spec.batchSizes.contains(batchSize) {
            throw SelectionError("--batch \(batchSize) is not on this sweep's grid: its batch sizes are "
                                     + spec.batchSizes.map { "\($0)" }.joined(separator: ", "))
        }
        if let momentum, !spec.momentumValues.contains(where: { Self.same($0, momentum) }) {
            throw SelectionError("--momentum \(momentum) is not on this sweep's grid: its momenta are "
                                     + spec.momentumValues.map { "\($0)" }.joined(separator: ", "))
        }
        if let batchMode, !spec.batchModeValues.contains(batchMode) {
            throw SelectionError("--batch-mode \(batchMode.rawValue) is not on this sweep's grid: its batch modes are "
                                     + spec.batchModeValues.map(\.rawValue).joined(separator: ", "))
        }
        if let seed, !(1...max(spec.seeds, 1)).contains(seed) {
            throw SelectionError("--seed \(seed) is not a seed of this sweep: give 1 to \(max(spec.seeds, 1)) "
                                     + "(the seed index, as in the job keys)")
        }
        guard namesCell else { return (jobIds, []) }
        let cell = jobs.filter { job in
            if job.kind == .warmStart {
                return learningRate == nil && batchSize == nil && momentum == nil && batchMode == nil
                    && job.seedIndex == seed
            }
            guard let cell = job.spec.cell else { return false }
            return (learningRate.map { Self.same($0, cell.learningRate) } ?? true)
                && (batchSize.map { $0 == cell.batchSize } ?? true)
                && (momentum.map { Self.same($0, cell.momentum) } ?? true)
                && (batchMode.map { $0 == cell.batchMode } ?? true)
                && (seed.map { $0 == job.seedIndex } ?? true)
        }.map(\.id)
        return (jobIds, cell)
    }
}

extension JobSelection {
    /// Whether a typed η is the grid's (the grid's values may come from a geometric series, whose
    /// doubles differ from the typed ones in the last bits).
    static func same(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(abs(a), abs(b)) }
}

/// A selection the grid does not have; the message names the value and what the grid has.
public struct SelectionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Why a retry or cancel was not recorded, beyond the journal's own refusals (`StoreError`).
public enum JobDecisionError: Error, CustomStringConvertible, Sendable {
    /// A coordinator holds the journal.
    case coordinatorRunning(path: String, decision: JobDecisionKind, holder: String)
    /// Jobs were named, and none of them could take the decision (the reasons per job).
    case nothingApplies(decision: JobDecisionKind, reasons: [String])

    public var description: String {
        switch self {
        case let .coordinatorRunning(path, decision, holder):
            return "\(path) is held by a running coordinator (\(holder)). `\(decision.rawValue)` changes the journal, "
                + "which only one process writes: stop the sweep first (Ctrl-C or SIGTERM; its running jobs go back "
                + "to the queue), run `thermosweep \(decision.rawValue)` again, then resume the sweep with the "
                + "same command."
        case let .nothingApplies(decision, reasons):
            return "nothing to \(decision.rawValue):\n" + reasons.map { "  " + $0 }.joined(separator: "\n")
        }
    }
}

/// Records a user's retry or cancel in a stopped sweep's journal.
public enum JournalDecisions {
    /// Applies `decision` to the jobs `selection` names in the journal at `path`, in one
    /// transaction, and returns what was decided and what was left as it was (and why).
    /// `retry` without a selection takes every failed job that has no result (exhausted or
    /// dependency); `cancel` needs one. Cell selectors take only the jobs the decision applies to;
    /// a job named by `--job` that it does not apply to is reported.
    public static func apply(_ decision: JobDecisionKind, path: String, selection: JobSelection,
                             who: String = JournalDecisions.user) throws -> JobDecisions.Plan {
        let spec: GridSpec, jobList: [JobDescriptor]
        do {
            let reader = try Store.openReadOnly(path: path)
            (spec, jobList) = (reader.spec, reader.jobList)
            try reader.close()
        }
        let (named, cell) = try selection.resolve(in: spec, jobs: jobList)
        let store: Store
        do {
            store = try Store.open(path: path, spec: spec)
        } catch {
            if case .inUse(_, let detail) = error {
                throw JobDecisionError.coordinatorRunning(path: path, decision: decision, holder: detail)
            }
            throw error
        }
        defer { try? store.close() }
        // Jobs a `sweep --drop` left out of the grid are neither retried nor cancelled.
        let inGrid = Set(store.jobList.map(\.id))
        let records = try store.jobs().filter { inGrid.contains($0.id) }
        let applies: (JobRecord) -> Bool = { job in
            switch decision {
            case .retry: return job.state == .cancelled || (job.state == .failed && job.failure != .deterministic)
            case .cancel: return !job.state.isEnded || (job.state == .failed && job.failure != .deterministic)
            }
        }
        var ids = named
        if selection.isEmpty && decision == .retry {
            ids = records.filter { $0.state == .failed && $0.failure != .deterministic }.map(\.id)
        } else {
            let byId = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            ids += cell.filter { id in byId[id].map(applies) ?? false && !named.contains(id) }
        }
        var decisions = JobDecisions(jobs: store.jobList, journal: records.map { RestoredJob($0) })
        let reason = "by thermosweep \(decision.rawValue) (\(who))"
        let plan = decision == .retry ? decisions.retry(ids, reason: reason) : decisions.cancel(ids, reason: reason)
        if plan.changes.isEmpty && !plan.skipped.isEmpty {
            throw JobDecisionError.nothingApplies(decision: decision, reasons: plan.skipped)
        }
        try store.commit(plan.changes.map(\.transition))
        return plan
    }

    /// `user on host`, journaled with each decision.
    public static var user: String {
        let name = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "a user"
        return "\(name) on \(ProcessInfo.processInfo.hostName)"
    }
}
