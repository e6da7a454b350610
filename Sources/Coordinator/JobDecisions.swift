// Decisions about jobs taken between two runs of a sweep: a user's `thermosweep retry` and
// `thermosweep cancel`, and the retry a resumed sweep takes when its --retry-limit is above the
// failed attempts of a job that ran out of them. They are the scheduler's rules, made here once
// and journaled like its other decisions (`Change.retried`, `Change.cancelled` → the journal's
// `Transition.retry`, `.cancel`); the journal checks only that each is a legal step.
// The rules are written down in docs/JOBS.md ("Retry", "Cancel").
import Store
import SweepProtocol

/// Retry and cancel decisions on a journal's jobs (see the file's header).
public struct JobDecisions: Sendable {
    /// What was decided, in journal order, and why each selected job that could not take the
    /// decision did not.
    public struct Plan: Sendable, Equatable {
        /// The decisions, to journal in one transaction.
        public var changes: [Change] = []
        /// One line per decided job, e.g. `#3 trivial/lr=0.1/b=8/seed=1: queued as attempt 2`.
        public var decided: [String] = []
        /// One line per selected job left as it is, with the reason.
        public var skipped: [String] = []
        /// Jobs this plan has decided or skipped: a job reached twice (selected, and brought
        /// along by its warm start) is decided once and reported once.
        var seen: Set<Int> = []
    }

    private let descriptors: [Int: JobDescriptor]
    private var dependents: [Int: [Int]] = [:]
    /// The jobs as journaled, updated by each decision.
    public private(set) var journal: [RestoredJob]
    private var indexOf: [Int: Int] = [:]

    /// Decisions over `journal`, the states of `jobs` (the grid's job list).
    public init(jobs: [JobDescriptor], journal: [RestoredJob]) {
        descriptors = Dictionary(jobs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for job in jobs {
            if let dependency = job.dependsOn { dependents[dependency, default: []].append(job.id) }
        }
        self.journal = journal
        for (i, job) in journal.enumerated() { indexOf[job.id] = i }
    }

    /// The label of job `id` in lines for the user.
    private func label(_ id: Int) -> String { "#\(id) \(descriptors[id]?.key ?? "?")" }

    private func record(_ id: Int) -> RestoredJob? { indexOf[id].map { journal[$0] } }

    // MARK: - Retry

    /// A user's `thermosweep retry` of `selected` (job ids, in the order given).
    public mutating func retry(_ selected: [Int], reason: String) -> Plan {
        var plan = Plan()
        for id in selected { retry(id, reason: reason, keepFailures: false, selected: true, plan: &plan) }
        return plan
    }

    /// On a resumed sweep: every job that failed by exhausting fewer failed attempts than `limit`
    /// is queued again, keeping its count (so `limit` bounds its failures over all runs); and every
    /// job that failed because its warm start failed, where that warm start is now done (a cell a
    /// `--drop` left out while its warm start was retried, and a later grid brings back).
    public mutating func resume(limit: Int) -> Plan {
        var plan = Plan()
        for job in journal where job.state == .failed && job.failure == .exhausted && job.failures < limit
            && job.attempt < maxAttempt {
            let reason = "the retry limit is now \(limit), above its \(job.failures) failed attempt"
                + (job.failures == 1 ? "" : "s")
            retry(job.id, reason: reason, keepFailures: true, selected: false, plan: &plan)
        }
        for job in journal where job.state == .failed && job.failure == .dependency && job.attempt < maxAttempt {
            guard let warm = descriptors[job.id]?.dependsOn, record(warm)?.state == .done else { continue }
            retry(job.id, reason: "its warm start \(label(warm)) is done", keepFailures: true, selected: false,
                  plan: &plan)
        }
        return plan
    }

    /// How a cancel that a warm start's cancel brings along begins its reason (the journal keeps
    /// it, so a later retry of the warm start knows which of its cells to bring back).
    public static let cascadeReasonPrefix = "its warm start "

    private mutating func retry(_ id: Int, reason: String, keepFailures: Bool, selected: Bool, plan: inout Plan) {
        guard !plan.seen.contains(id) else { return }
        guard let job = record(id), let descriptor = descriptors[id] else {
            plan.skipped.append("#\(id): no such job in this sweep")
            return
        }
        switch job.state {
        case .failed where job.failure != .deterministic, .cancelled:
            break
        case .failed:
            if selected {
                plan.skipped.append("\(label(id)): failed deterministically; that failure is its result (the same "
                                        + "spec fails the same way), so it is not run again")
            }
            return
        case .done:
            if selected { plan.skipped.append("\(label(id)): done; its result is counted and it never runs again") }
            return
        case .queued, .running, .orphaned:
            if selected { plan.skipped.append("\(label(id)): \(job.state.rawValue), it has not ended") }
            return
        }
        guard job.attempt < maxAttempt else {
            plan.skipped.append("\(label(id)): has had the \(maxAttempt) attempts the protocol allows")
            return
        }
        if let warm = descriptor.dependsOn, let dependency = record(warm), dependency.state != .done {
            if dependency.state == .failed && dependency.failure == .deterministic {
                plan.skipped.append("\(label(id)): its warm start \(label(warm)) failed deterministically, so it "
                                        + "cannot run")
                return
            }
            retry(warm, reason: "needed by \(label(id)); \(reason)", keepFailures: keepFailures, selected: false,
                  plan: &plan)
            guard record(warm)?.state.isEnded == false else {
                plan.skipped.append("\(label(id)): its warm start \(label(warm)) cannot run again")
                return
            }
        }
        guard let i = indexOf[id], journal[i].state.isEnded else { return }  // brought back above, as a dependent
        plan.seen.insert(id)
        let wasCancelled = journal[i].state == .cancelled
        let failures = keepFailures ? journal[i].failures : 0
        plan.changes.append(.retried(JobRef(jobId: id, attempt: journal[i].attempt), reason: reason, failures: failures,
                                     at: Instant(milliseconds: 0)))
        journal[i].state = .queued
        journal[i].attempt += 1
        journal[i].failures = failures
        journal[i].failure = nil
        plan.decided.append("\(label(id)): queued as attempt \(journal[i].attempt) (\(reason))")
        for dependent in dependents[id] ?? [] {
            guard let d = record(dependent) else { continue }
            let failedBecause = d.state == .failed && d.failure == .dependency
            if failedBecause || (wasCancelled && d.state == .cancelled && d.cancelledWithWarmStart) {
                retry(dependent, reason: "its warm start \(label(id)) is queued again", keepFailures: keepFailures,
                      selected: false, plan: &plan)
            }
        }
    }

    // MARK: - Cancel

    /// A user's `thermosweep cancel` of `selected` (job ids, in the order given).
    public mutating func cancel(_ selected: [Int], reason: String) -> Plan {
        var plan = Plan()
        for id in selected { cancel(id, reason: reason, selected: true, plan: &plan) }
        return plan
    }

    /// Cancels job `i` of the journal, if it has no result and has not been cancelled.
    private mutating func cancel(_ id: Int, reason: String, selected: Bool, plan: inout Plan) {
        guard !plan.seen.contains(id) else { return }
        guard let i = indexOf[id] else {
            plan.skipped.append("#\(id): no such job in this sweep")
            return
        }
        let job = journal[i]
        var note = ""
        switch job.state {
        case .queued, .failed where job.failure != .deterministic:
            break
        case .running, .orphaned:
            note = "; its lease from the last run, on \(job.worker ?? "a worker"), is void: a result it still sends "
                + "is recorded as stale, never counted"
        case .failed:
            if selected { plan.skipped.append("\(label(id)): failed deterministically; that failure is its result") }
            return
        case .done:
            if selected { plan.skipped.append("\(label(id)): done; its result is kept") }
            return
        case .cancelled:
            if selected { plan.skipped.append("\(label(id)): already cancelled") }
            return
        }
        plan.seen.insert(id)
        plan.changes.append(.cancelled(JobRef(jobId: id, attempt: job.attempt), reason: reason,
                                       at: Instant(milliseconds: 0)))
        journal[i].state = .cancelled
        journal[i].failure = nil
        journal[i].worker = nil
        journal[i].cancelledWithWarmStart = !selected
        plan.decided.append("\(label(id)): cancelled (\(reason))\(note)")
        for dependent in dependents[id] ?? [] {
            cancel(dependent, reason: Self.cascadeReasonPrefix + "\(label(id)) was cancelled", selected: false,
                   plan: &plan)
        }
    }
}
