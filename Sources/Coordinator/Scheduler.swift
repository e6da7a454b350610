// The coordinator's scheduler as a pure state machine: `handle(event, now)` → effects. No sockets,
// no clock, no database: the event loop feeds it decoded messages and ticks, and performs what it
// returns. That keeps every rule of PROTOCOL.md (leases, heartbeats, stall window, retries,
// first-valid-result-wins, re-adoption after a restart, longest-first dispatch, warm-start
// dependencies) testable with a fake clock in microseconds.
//
// Contract for the event loop (the reason effects are data):
//   1. Apply every `.journal` effect of ONE `handle` call in ONE transaction.
//   2. Only after it commits, perform the `.send` effects, in order. The array always lists every
//      `.journal` first, then `.log`s, then `.send`s, then `.finished`; so "ACK only after the
//      result is committed" and "JOB only after its lease is journaled" hold by construction.
//   3. If the commit fails, stop the coordinator loudly (RELIABILITY.md): the in-memory state is
//      then ahead of the journal, and the restart recovers from the journal.
//   4. A `.send` to a peer that is gone (`ZMQ_ROUTER_MANDATORY` → EHOSTUNREACH) is logged and
//      dropped; CANCEL to a lost worker is best effort by nature.
//   5. Send `.tick` at least every heartbeat interval (a shorter tick detects loss sooner: a silent
//      worker is declared lost on the first tick after `heartbeat × liveness`).
//
// Decisions beyond PROTOCOL.md:
//   - Retry limit counts *failed attempts* (lost, stalled, transient failure:
//     `LeaseEnd.countsAsFailure`). A BYE release, an orphan not re-adopted after a coordinator
//     restart and a lease its worker dropped (never got) are not the job's fault: they re-queue
//     with attempt + 1 but do not count. Attempts stop at the wire's limit (1000) whatever the
//     cause.
//   - Every decision (re-queue, failure after retries, the failure of a warm start's measure jobs)
//     is journaled as the scheduler made it; the journal only checks that it is a legal step.
//   - Stall window of a job = max(minimum, factor × max(median step time of its kind, the job's
//     own mean step time since its lease began)). The kind median comes from the last 255
//     heartbeat advances of that kind; the job's own mean protects a slow worker among fast ones
//     (its steps may be 10× the median and it is still progressing).
//   - A result counts when its (job, attempt) is the job's current lease and its sender holds that
//     lease (an orphaned lease: the worker the journal names, which alone may re-adopt it).
//     `duplicate` = the job already has a counted result; `stale` = anything else (older attempt,
//     a job failed after retries, a peer that does not hold the lease). Both are ACKed, never
//     counted, and journaled (and logged) up to `misfitJournalLimit` times per job: a peer that
//     repeats them cannot grow the journal or the log without bound.
//   - A result that would count but names another kind than its job's is answered ERROR
//     malformed and neither counted nor ACKed (the journal would refuse its shape).
//   - A warm start that fails (deterministic or after retries) fails its measure jobs at once,
//     naming it, so the sweep still finishes.
//   - On start, a job that failed by exhausting fewer failed attempts than this run's retry limit
//     is queued again, keeping its count, and so is a job that failed because its warm start
//     failed when that warm start is now done (`JobDecisions.resume`); a cancelled job has
//     ended, and a RESULT for it is stale (docs/JOBS.md).
//   - A READY is refused `full` beyond `config.maxWorkers` admitted workers.
//   - STATUS is answered for any peer (status clients never send READY); ERROR from a peer is
//     logged and never answered (no error ping-pong), nor is BYE from a peer it does not know;
//     a worker-bound command sent to the coordinator is answered ERROR malformed.
//   - A worker that re-sends READY (it lost the coordinator for a while) keeps the leases it lists;
//     leases it no longer lists are ended as `dropped`.
//   - After `.finished`, every worker gets BYE, and a new READY is answered BYE. Each such peer
//     is awaited until it answers BYE in turn (`awaitedGoodbyes`): nothing more can come from it.
//   - Dispatch order among idle workers is registration order (deterministic for a given event
//     sequence, which the seeded chaos test relies on).
//
// Cost: a HEARTBEAT costs O(jobs it lists); a RESULT O(log queued) plus its dependents; a tick
// O(workers + running jobs); STATUS O(all jobs).
import Store
import SweepProtocol

/// The coordinator's job scheduler: in-memory state of jobs and workers, driven by events.
public struct Scheduler: Sendable {
    /// One job and its current lease.
    struct ScheduledJob: Sendable {
        let descriptor: JobDescriptor
        var state: JobState = .queued
        var attempt = 1
        var failures = 0
        var holder: PeerID?
        /// An orphaned lease's journaled worker (routing id as text), the one peer that may
        /// re-adopt it or deliver its result.
        var orphanOf: String?
        var leaseStart = Instant(milliseconds: 0)
        var lastHeartbeat = Instant(milliseconds: 0)
        var lastStep = 0
        var lastProgressAt = Instant(milliseconds: 0)
        var lastReason: String?
        /// Whether a result (done or failed deterministic) was counted.
        var counted = false

        var ref: JobRef { JobRef(jobId: descriptor.id, attempt: attempt) }
    }

    /// One admitted worker.
    struct AdmittedWorker: Sendable {
        let peer: PeerID
        var name: String
        var host: String
        var slots: Int
        var lastSeen: Instant
        /// Ids of the jobs it holds, in lease order.
        var running: [Int] = []

        var freeSlots: Int { max(0, slots - running.count) }
    }

    /// Timing and admission rules.
    public let config: SchedulerConfig

    private(set) var jobs: [ScheduledJob]
    private var indexOf: [Int: Int] = [:]
    /// Ids the journal holds outside the grid (a `sweep --drop` left them out): a worker still
    /// running one is told CANCEL and its result is ACKed, never counted.
    private let retired: Set<Int>
    /// Warm-start id → ids of the measure jobs that need its checkpoint.
    private var dependents: [Int: [Int]] = [:]
    /// Warm-start id → its checkpoint, attached to every JOB of its measure jobs.
    private var checkpoints: [Int: [UInt8]] = [:]
    private(set) var workers: [PeerID: AdmittedWorker] = [:]
    /// Admitted peers in admission order: the dispatch order among idle workers.
    private var workerOrder: [PeerID] = []
    private var ready = ReadyQueue()
    private var freeSlots = 0
    private var orphans: [Int] = []
    private var graceDeadline: Instant?
    private var medians: [JobKind: StepTimeMedian] = [:]
    private var startedAt: Instant?
    private var nextHeartbeatAt: Instant?
    /// The stall scan of `tick` finds nothing before this instant (see there).
    private var nextStallScan = Instant(milliseconds: 0)
    private var endedCount = 0
    /// Expected cost (samples) of the jobs that ended, and of all: the ETA's measure of work, which
    /// does not depend on the order jobs run in (longest first makes early jobs the slowest).
    public private(set) var endedCost = 0
    public let totalCost: Int
    private var finishedEmitted = false
    /// Peers sent BYE after `.finished` that have not answered BYE yet.
    private var dismissed: Set<PeerID> = []
    /// Duplicate and stale results journaled per job id (see `misfitJournalLimit`).
    private var misfitsJournaled: [Int: Int] = [:]
    /// Duplicate and stale results journaled and logged per job; more are only ACKed.
    public static let misfitJournalLimit = 8
    /// Whether `Event.start` was applied (the journal is read once).
    private var hasStarted = false
    /// The grid WELCOME gives, whose cells the JOBs name: the jobs' own. (A scheduler without jobs,
    /// which tests of its timing make, sends no JOB and welcomes with the default grid.)
    private let grid: GridSpec

    /// A scheduler for `jobs` (ids unique), all queued at attempt 1 until `Event.start` says otherwise.
    public init(jobs descriptors: [JobDescriptor], config: SchedulerConfig, retired: Set<Int> = []) {
        self.config = config
        self.retired = retired
        jobs = descriptors.map { ScheduledJob(descriptor: $0) }
        grid = descriptors.first?.grid ?? GridSpec().normalized
        totalCost = descriptors.reduce(0) { $0 + $1.cost }
        for (i, job) in descriptors.enumerated() {
            indexOf[job.id] = i
            if let dep = job.dependsOn { dependents[dep, default: []].append(job.id) }
        }
        rebuildReadyQueue()
    }

    // MARK: - Queries

    /// The state of job `id`, or nil if it is not part of the sweep.
    public func state(of id: Int) -> JobState? { indexOf[id].map { jobs[$0].state } }

    /// The current attempt of job `id`.
    public func attempt(of id: Int) -> Int? { indexOf[id].map { jobs[$0].attempt } }

    /// The peer holding job `id`'s lease, if it is running.
    public func holder(of id: Int) -> PeerID? { indexOf[id].flatMap { jobs[$0].holder } }

    /// Ids of the jobs `peer` holds, in lease order (empty for an unknown peer).
    public func jobs(of peer: PeerID) -> [Int] { workers[peer]?.running ?? [] }

    /// Number of admitted workers.
    public var workerCount: Int { workers.count }

    /// Workers declared lost so far: they may still be alive behind a healed link or a thaw.
    public private(set) var lostWorkerCount = 0

    /// Whether every job has ended.
    public var isFinished: Bool { endedCount == jobs.count }

    /// Peers told that the sweep is over which have not said BYE since: a worker answers the
    /// coordinator's BYE with its own, the last message of its connection, so once none is
    /// awaited no traffic of theirs is on its way.
    public var awaitedGoodbyes: Int { dismissed.count }

    /// Counts per state.
    public var counts: [JobState: Int] {
        var result: [JobState: Int] = [:]
        for job in jobs { result[job.state, default: 0] += 1 }
        return result
    }

    // MARK: - Events

    /// Applies `event` at `now` and returns what the event loop must do, journal effects first.
    public mutating func handle(_ event: Event, now: Instant) -> [Effect] {
        var out = Output()
        if startedAt == nil {
            startedAt = now
            nextHeartbeatAt = now.advanced(by: config.timing.heartbeat)
        }
        switch event {
        case .start(let restored):
            start(restored, now: now, out: &out)
        case .tick(let heardUntil):
            // A loop that never runs dry (a flood) still declares the silent lost, one window late
            // at most.
            let floor = now.advanced(by: .zero - config.timing.livenessWindow)
            tick(now: now, heardUntil: max(min(heardUntil ?? now, now), floor), out: &out)
        case .message(let peer, let message):
            receive(message, from: peer, now: now, out: &out)
        }
        if !finishedEmitted && endedCount == jobs.count {
            finishedEmitted = true
            out.log("all \(jobs.count) jobs have ended")
            // Dismissed workers leave without a word: forget them now, or they would read as lost.
            for peer in workerOrder {
                out.send(peer, .bye(Bye(reason: "the sweep is over")))
                dismissed.insert(peer)
                removeWorker(peer, end: .released, cancel: false, why: "dismissed: the sweep is over", now: now, out: &out)
            }
            out.finished = true
        }
        return out.effects
    }

    private mutating func start(_ restored: [RestoredJob], now: Instant, out: inout Output) {
        guard !hasStarted && workers.isEmpty else {
            out.log("start event after traffic ignored: the journal is read once, before any peer")
            return
        }
        hasStarted = true
        // Jobs that ran out of attempts under a lower limit get the ones a raised limit allows, and
        // cells whose warm start is now done run.
        var decisions = JobDecisions(jobs: jobs.map(\.descriptor), journal: restored)
        let retried = decisions.resume(limit: config.timing.retryLimit)
        for change in retried.changes { out.record(change) }
        for line in retried.decided { out.log(line) }
        for record in decisions.journal {
            guard let i = indexOf[record.id] else {
                out.log("journal names job #\(record.id), which this grid does not have; ignored")
                continue
            }
            jobs[i].attempt = min(max(record.attempt, 1), maxAttempt)
            jobs[i].failures = max(record.failures, 0)
            if let checkpoint = record.checkpoint { checkpoints[record.id] = checkpoint }
            switch record.state {
            case .queued:
                jobs[i].state = .queued
            case .running, .orphaned:
                jobs[i].state = .orphaned
                jobs[i].orphanOf = record.worker
                orphans.append(i)
            case .done, .failed:
                jobs[i].state = record.state
                jobs[i].counted = true
                markEnded(i)
            case .cancelled:
                // Ended without a result: a RESULT for it is stale, never counted.
                jobs[i].state = .cancelled
                markEnded(i)
            }
        }
        // A warm start that ended without a checkpoint cannot feed its measure jobs.
        for (warm, measures) in dependents.sorted(by: { $0.key < $1.key }) {
            guard let w = indexOf[warm] else { continue }
            if jobs[w].state == .failed {
                failDependents(of: w, now: now, out: &out)
            } else if jobs[w].state == .cancelled {
                // `cancel` takes a warm start's measure jobs along; one left queued could never run.
                for id in measures {
                    guard let m = indexOf[id], jobs[m].state == .queued else { continue }
                    jobs[m].state = .cancelled
                    markEnded(m)
                    let reason = "its warm start #\(warm) was cancelled"
                    out.record(.cancelled(jobs[m].ref, reason: reason, at: now))
                    out.log("#\(id) \(jobs[m].descriptor.key) cancelled: \(reason)")
                }
            } else if jobs[w].state == .done && checkpoints[warm] == nil {
                out.log("warm start #\(warm) is done but the journal gave no checkpoint; its \(measures.count) measure jobs cannot run")
            }
        }
        rebuildReadyQueue()
        if !orphans.isEmpty {
            graceDeadline = now.advanced(by: config.timing.readoptGrace)
            out.log("\(orphans.count) leases orphaned by the restart; re-adoption grace \(config.timing.readoptGrace.inMilliseconds) ms")
        }
    }

    private mutating func rebuildReadyQueue() {
        ready = ReadyQueue()
        for i in jobs.indices where jobs[i].state == .queued && isReady(i) {
            ready.push(id: jobs[i].descriptor.id, cost: jobs[i].descriptor.cost)
        }
    }

    /// Whether queued job `i` may run: no dependency, or its warm start is done with a checkpoint.
    private func isReady(_ i: Int) -> Bool {
        guard let dep = jobs[i].descriptor.dependsOn else { return true }
        guard let d = indexOf[dep] else { return false }
        return jobs[d].state == .done && checkpoints[dep] != nil
    }

    // MARK: - Messages

    private mutating func receive(_ message: Message, from peer: PeerID, now: Instant, out: inout Output) {
        // Any traffic proves a worker alive (PROTOCOL.md: "no traffic ... for 3 s → lost").
        workers[peer]?.lastSeen = now
        if case .ready(let ready) = message {
            admit(ready, peer: peer, now: now, out: &out)
            return
        }
        if case .status = message {
            out.send(peer, .statusReply(statusReply(now: now)))
            return
        }
        if case .error(let error) = message {
            out.log("peer \(peer) reported error \(error.code.rawValue): \(error.message)")
            return
        }
        guard workers[peer] != nil else {
            // A peer that leaves does not listen: its BYE is never answered. A dismissed worker's
            // is its answer to the sweep's, the last of its traffic.
            if case .bye = message {
                dismissed.remove(peer)
                return
            }
            out.send(peer, .error(ErrorReply(code: .unknownPeer,
                                             message: "this coordinator does not know peer \(peer); send READY")))
            return
        }
        switch message {
        case .heartbeat(let beat):
            heartbeat(beat, peer: peer, now: now, out: &out)
        case .result(let result):
            self.result(result, peer: peer, now: now, out: &out)
        case .bye(let bye):
            let reason = bye.reason.isEmpty ? "no reason given" : bye.reason
            out.log("worker \(name(peer)) leaves: \(reason)")
            removeWorker(peer, end: .released, cancel: false, why: "left (BYE: \(reason))", now: now, out: &out)
            dispatch(first: nil, now: now, out: &out)
        case .welcome, .refuse, .job, .ack, .cancel, .statusReply:
            out.send(peer, .error(ErrorReply(code: .malformed,
                                             message: "\(message.command.rawValue) is sent by the coordinator, not to it")))
        case .ready, .status, .error:
            break  // handled above
        }
    }

    private func name(_ peer: PeerID) -> String { workers[peer]?.name ?? peer.description }

    /// What operations need to know of an admitted worker, for its log line.
    private static func describe(_ hello: Ready, _ peer: PeerID) -> String {
        "host \(hello.host), \(hello.cores) cores, \(hello.slots) slot\(hello.slots == 1 ? "" : "s"), "
            + "build \(hello.buildCPU), version \(hello.version), pid \(hello.pid) (\(peer))"
    }

    private mutating func admit(_ hello: Ready, peer: PeerID, now: Instant, out: inout Output) {
        if finishedEmitted {
            out.send(peer, .bye(Bye(reason: "the sweep is over")))
            dismissed.insert(peer)
            return
        }
        var refusal: Refuse?
        if hello.version != config.version {
            refusal = .versionMismatch(worker: hello.version, coordinator: config.version)
        } else if let needed = config.dataset, !hello.datasets.contains(where: { $0.hash == needed.hash }) {
            refusal = .datasetMismatch(offered: hello.datasets, needed: needed)
        } else if workers[peer] == nil && workers.count >= config.maxWorkers {
            refusal = .full(limit: config.maxWorkers)
        }
        if let refusal {
            out.log("refused \(hello.name) (\(peer)): \(refusal.message)")
            if workers[peer] != nil {
                removeWorker(peer, end: .released, cancel: false, why: "refused on READY: \(refusal.message)", now: now,
                             out: &out)
            }
            out.send(peer, .refuse(refusal))
            dispatch(first: nil, now: now, out: &out)
            return
        }
        let listed = Set(hello.running)
        if var worker = workers[peer] {
            // Re-admission: the worker lost us for a while. Leases it does not list are gone, or
            // crossed this READY in flight: CANCEL them, so that a worker that does get one frees the slot.
            for id in worker.running {
                guard let i = indexOf[id], !listed.contains(jobs[i].ref) else { continue }
                endLease(i, .dropped, cancel: true, now: now, out: &out)
            }
            worker = workers[peer] ?? worker
            freeSlots -= worker.freeSlots
            worker.name = hello.name
            worker.host = hello.host
            worker.slots = hello.slots
            worker.lastSeen = now
            freeSlots += worker.freeSlots
            workers[peer] = worker
            out.log("worker \(hello.name) re-admitted: \(Self.describe(hello, peer))")
        } else {
            let worker = AdmittedWorker(peer: peer, name: hello.name, host: hello.host, slots: hello.slots, lastSeen: now)
            workers[peer] = worker
            workerOrder.append(peer)
            freeSlots += worker.freeSlots
            out.log("worker \(hello.name) admitted: \(Self.describe(hello, peer))")
        }
        out.record(.workerSeen(peer: peer, ready: hello, at: now))
        out.send(peer, .welcome(Welcome(coordinator: config.coordinatorNonce, grid: grid, heartbeat: config.timing.heartbeat,
                                        liveness: config.timing.liveness, stallWindow: config.timing.stallWindowMinimum,
                                        stallStepFactor: config.timing.stallStepFactor)))
        for ref in hello.running {
            guard let i = indexOf[ref.jobId] else {
                if retired.contains(ref.jobId) {
                    out.send(peer, .cancel(Cancel(jobId: ref.jobId, attempt: ref.attempt, reason: .expired)))
                    out.log("worker \(hello.name) runs job #\(ref.jobId), which was dropped from the grid: cancelled")
                } else {
                    out.log("worker \(hello.name) lists job #\(ref.jobId), which this grid does not have")
                }
                continue
            }
            let job = jobs[i]
            if job.attempt == ref.attempt && job.state == .orphaned && mayAdopt(job, peer) {
                adopt(i, peer: peer, now: now, out: &out)
            } else if job.attempt == ref.attempt && job.state == .running && job.holder == peer {
                continue
            } else {
                out.send(peer, .cancel(Cancel(jobId: ref.jobId, attempt: ref.attempt,
                                              reason: job.state.isEnded ? .completed : .expired)))
            }
        }
        dispatch(first: peer, now: now, out: &out)
    }

    private mutating func heartbeat(_ beat: Heartbeat, peer: PeerID, now: Instant, out: inout Output) {
        var unknown: [Int] = []
        for progress in beat.jobs {
            guard let i = indexOf[progress.jobId] else {
                if retired.contains(progress.jobId) {
                    out.send(peer, .cancel(Cancel(jobId: progress.jobId, attempt: progress.attempt, reason: .expired)))
                } else {
                    unknown.append(progress.jobId)
                }
                continue
            }
            let job = jobs[i]
            if job.attempt == progress.attempt && job.state == .orphaned && mayAdopt(job, peer) {
                adopt(i, peer: peer, now: now, out: &out)
            }
            if jobs[i].attempt == progress.attempt && jobs[i].state == .running && jobs[i].holder == peer {
                jobs[i].lastHeartbeat = now
                if progress.step > jobs[i].lastStep {
                    let elapsed = Double((now - jobs[i].lastProgressAt).inMilliseconds)
                    medians[job.descriptor.kind, default: StepTimeMedian()]
                        .add(elapsed / Double(progress.step - jobs[i].lastStep))
                    jobs[i].lastStep = progress.step
                    jobs[i].lastProgressAt = now
                }
            } else if job.state == .running && job.attempt == progress.attempt {
                out.send(peer, .error(ErrorReply(code: .notLeased,
                                                 message: "job #\(job.descriptor.id) attempt \(job.attempt) is leased to another worker")))
            } else {
                out.send(peer, .cancel(Cancel(jobId: progress.jobId, attempt: progress.attempt,
                                              reason: job.state.isEnded ? .completed : .expired)))
            }
        }
        if !unknown.isEmpty {
            out.send(peer, .error(ErrorReply(code: .unknownJob,
                                             message: "jobs \(unknown.prefix(20).map { "#\($0)" }.joined(separator: ", ")) are not part of this sweep")))
        }
    }

    /// Whether one more uncounted result of `jobId` is journaled and logged (up to
    /// `misfitJournalLimit` per job), and the end of its log line.
    private mutating func misfitAllowance(_ jobId: Int) -> String? {
        let count = misfitsJournaled[jobId, default: 0]
        guard count < Self.misfitJournalLimit else { return nil }
        misfitsJournaled[jobId] = count + 1
        return count + 1 == Self.misfitJournalLimit ? "; further ones for this job are ACKed without a journal or log line" : ""
    }

    private mutating func result(_ result: JobResult, peer: PeerID, now: Instant, out: inout Output) {
        guard let i = indexOf[result.jobId] else {
            if retired.contains(result.jobId) {
                // ACKed so that the worker stops sending it; never counted, never journaled.
                out.send(peer, .ack(result.ref))
                out.log("result #\(result.jobId) attempt \(result.attempt) from \(name(peer)): that job was dropped "
                            + "from the grid; not counted")
            } else {
                out.send(peer, .error(ErrorReply(code: .unknownJob, message: "job #\(result.jobId) is not part of this sweep")))
            }
            return
        }
        let job = jobs[i]
        let ack = Message.ack(result.ref)
        if job.counted {
            if let end = misfitAllowance(result.jobId) {
                out.record(.resultDuplicate(result, peer: peer, at: now))
                out.log("duplicate result #\(result.jobId) attempt \(result.attempt) from \(name(peer)); already counted\(end)")
            }
            out.send(peer, ack)
            return
        }
        guard (job.state == .running || job.state == .orphaned) && job.attempt == result.attempt else {
            if let end = misfitAllowance(result.jobId) {
                out.record(.resultStale(result, peer: peer, at: now))
                out.log("stale result #\(result.jobId) attempt \(result.attempt) from \(name(peer)); "
                            + "current attempt \(job.attempt) is \(job.state.rawValue)\(end)")
            }
            out.send(peer, ack)
            return
        }
        guard job.state == .running ? job.holder == peer : mayAdopt(job, peer) else {
            // Only the lease's holder delivers its result: another peer (a stray, or anyone who
            // reached the port of a sweep without CURVE) cannot complete a job it was not given.
            if let end = misfitAllowance(result.jobId) {
                out.record(.resultStale(result, peer: peer, at: now))
                out.log("stale result #\(result.jobId) attempt \(result.attempt) from \(name(peer)); "
                            + "the lease is held by \(job.holder.map(name) ?? job.orphanOf ?? "nobody")\(end)")
            }
            out.send(peer, ack)
            return
        }
        guard result.kind == job.descriptor.kind else {
            // A result of another kind would be counted with the wrong shape (a warm start without
            // its checkpoint): the journal refuses that, which would stop the coordinator. A worker
            // echoes its JOB's kind, so this is a bug or a foreign peer: not ACKed, never counted.
            // (Duplicate and stale results are journaled without their bytes, so any kind is fine.)
            out.log("result #\(result.jobId) attempt \(result.attempt) from \(name(peer)) claims kind "
                        + "\(result.kind.rawValue), but the job is \(job.descriptor.kind.rawValue); ignored")
            out.send(peer, .error(ErrorReply(code: .malformed,
                                             message: "job #\(result.jobId) is a \(job.descriptor.kind.rawValue) job, "
                                                 + "not \(result.kind.rawValue)")))
            return
        }
        let holder = job.holder
        if job.state == .orphaned { removeOrphan(i) }
        if let holder { detach(i, from: holder) }
        if result.outcome == .failed && result.errorKind == .transient {
            let message = result.message ?? "no message"
            jobs[i].holder = nil
            out.send(peer, ack)
            requeueOrFail(i, .transientFailure(message), worker: peer, now: now, out: &out)
        } else {
            out.record(.resultCounted(result, peer: peer, at: now))
            out.send(peer, ack)
            jobs[i].holder = nil
            jobs[i].counted = true
            markEnded(i)
            if result.outcome == .done {
                jobs[i].state = .done
                if config.jobLines {
                    out.log("#\(result.jobId) \(job.descriptor.key) done by \(name(peer)) (attempt \(result.attempt))")
                }
                if job.descriptor.kind == .warmStart {
                    if let checkpoint = result.checkpoint { checkpoints[result.jobId] = checkpoint }
                    for id in dependents[result.jobId] ?? [] {
                        if let m = indexOf[id], jobs[m].state == .queued, isReady(m) {
                            ready.push(id: id, cost: jobs[m].descriptor.cost)
                        }
                    }
                }
            } else {
                jobs[i].state = .failed
                let message = result.message ?? "no message"
                jobs[i].lastReason = message
                out.log("#\(result.jobId) \(job.descriptor.key) failed deterministically on \(name(peer)): \(message)")
                failDependents(of: i, now: now, out: &out)
            }
        }
        dispatch(first: peer, now: now, out: &out)
    }

    // MARK: - Time

    private mutating func tick(now: Instant, heardUntil: Instant, out: inout Output) {
        // Lost workers: silent longer than heartbeat × liveness, up to the last instant the loop
        // had read everything (a message still waiting in the socket is not silence).
        let lost = workerOrder.filter { peer in
            guard let worker = workers[peer] else { return false }
            return heardUntil - worker.lastSeen > config.timing.livenessWindow
        }
        for peer in lost {
            let silence = "silent for \((heardUntil - (workers[peer]?.lastSeen ?? heardUntil)).inMilliseconds) ms"
            out.log("worker \(name(peer)) lost: \(silence)")
            lostWorkerCount += 1
            removeWorker(peer, end: .lost, cancel: true, why: "lost (\(silence))", now: now, out: &out)
        }
        // Stalled jobs: heartbeating worker, step counter stuck. No job stalls before its last
        // progress plus the window's minimum, and progress only moves forward: the scan of every
        // running job waits until the oldest progress it saw gets there, and then runs at most
        // once per `stallScanInterval` while a job sits between that minimum and its own window.
        if heardUntil >= nextStallScan {
            var kindMedian: [JobKind: Double] = [:]
            for kind in medians.keys { kindMedian[kind] = medians[kind]?.median() }
            var stalled: [(job: Int, peer: PeerID, stuck: Duration, window: Duration)] = []
            var oldestProgress = heardUntil
            for peer in workerOrder {
                guard let running = workers[peer]?.running else { continue }
                for id in running {
                    guard let i = indexOf[id] else { continue }
                    let window = stallWindow(i, kindMedian: kindMedian[jobs[i].descriptor.kind] ?? 0)
                    let stuck = heardUntil - jobs[i].lastProgressAt
                    if stuck > window {
                        stalled.append((i, peer, stuck, window))
                    } else {
                        oldestProgress = min(oldestProgress, jobs[i].lastProgressAt)
                    }
                }
            }
            for (i, peer, stuck, window) in stalled {
                out.log("#\(jobs[i].descriptor.id) stalled on \(name(peer)) at step \(jobs[i].lastStep) for "
                            + "\(stuck.inMilliseconds) ms (window \(window.inMilliseconds) ms)")
                endLease(i, .stalled, cancel: true, now: now, out: &out)
            }
            nextStallScan = max(heardUntil.advanced(by: stallScanInterval),
                                oldestProgress.advanced(by: config.timing.stallWindowMinimum))
        }
        // Orphans past the re-adoption grace.
        if let deadline = graceDeadline, heardUntil >= deadline {
            graceDeadline = nil
            for i in orphans where jobs[i].state == .orphaned {
                endLease(i, .orphanExpired, cancel: false, now: now, out: &out)
            }
            orphans.removeAll()
        }
        if let next = nextHeartbeatAt, now >= next {
            nextHeartbeatAt = now.advanced(by: config.timing.heartbeat)
            for peer in workerOrder { out.send(peer, .heartbeat(Heartbeat())) }
        }
        dispatch(first: nil, now: now, out: &out)
    }

    /// How often the stall scan runs at most while it may find something: a tenth of the
    /// window's minimum, and at least once per heartbeat interval.
    private var stallScanInterval: Duration {
        min(config.timing.heartbeat, config.timing.stallWindowMinimum / 10)
    }

    /// The stall window of running job `i` (step times in ms).
    private func stallWindow(_ i: Int, kindMedian: Double) -> Duration {
        let lastStep = jobs[i].lastStep  // fields, not a copy of the job (its strings retained)
        let ownMean = lastStep > 0
            ? Double((jobs[i].lastProgressAt - jobs[i].leaseStart).inMilliseconds) / Double(lastStep) : 0
        let stepTime = max(kindMedian, ownMean)
        let scaled = Double(config.timing.stallStepFactor) * stepTime
        return max(config.timing.stallWindowMinimum, .milliseconds(scaled < 1e15 ? Int64(scaled.rounded(.up)) : Int64(1e15)))
    }

    // MARK: - Leases

    private mutating func dispatch(first: PeerID?, now: Instant, out: inout Output) {
        if let first { fill(first, now: now, out: &out) }
        guard freeSlots > 0 && !ready.isEmpty else { return }
        for peer in workerOrder {
            fill(peer, now: now, out: &out)
            if freeSlots == 0 || ready.isEmpty { return }
        }
    }

    private mutating func fill(_ peer: PeerID, now: Instant, out: inout Output) {
        while let worker = workers[peer], worker.freeSlots > 0, let i = nextReady() {
            lease(i, to: peer, now: now, out: &out)
        }
    }

    private mutating func nextReady() -> Int? {
        while let id = ready.pop() {
            if let i = indexOf[id], jobs[i].state == .queued { return i }
        }
        return nil
    }

    private mutating func lease(_ i: Int, to peer: PeerID, now: Instant, out: inout Output) {
        run(i, on: peer, now: now)
        let d = jobs[i].descriptor
        let worker = name(peer)
        out.record(.lease(jobs[i].ref, peer: peer, worker: worker, at: now))
        let checkpoint = d.kind == .measure ? d.dependsOn.flatMap { checkpoints[$0] } : nil
        out.send(peer, .job(JobLease(d, attempt: jobs[i].attempt, checkpoint: checkpoint)))
        if config.jobLines { out.log("#\(d.id) \(d.key) → worker \(worker) (attempt \(jobs[i].attempt))") }
    }

    /// Whether `peer` may re-adopt orphaned `job`: the worker the journal names for its lease.
    private func mayAdopt(_ job: ScheduledJob, _ peer: PeerID) -> Bool {
        job.orphanOf.map { $0 == peer.description } ?? true
    }

    private mutating func adopt(_ i: Int, peer: PeerID, now: Instant, out: inout Output) {
        removeOrphan(i)
        run(i, on: peer, now: now)
        out.record(.adopt(jobs[i].ref, peer: peer, worker: name(peer), at: now))
        out.log("#\(jobs[i].descriptor.id) attempt \(jobs[i].attempt) re-adopted by \(name(peer))")
    }

    /// Job `i` runs on `peer` from `now` (a new lease or a re-adopted one): its liveness and stall
    /// clocks start over.
    private mutating func run(_ i: Int, on peer: PeerID, now: Instant) {
        jobs[i].state = .running
        jobs[i].holder = peer
        jobs[i].leaseStart = now
        jobs[i].lastHeartbeat = now
        jobs[i].lastStep = 0
        jobs[i].lastProgressAt = now
        attach(i, to: peer)
    }

    private mutating func removeOrphan(_ i: Int) {
        jobs[i].orphanOf = nil
        if let k = orphans.firstIndex(of: i) { orphans.remove(at: k) }
    }

    private mutating func attach(_ i: Int, to peer: PeerID) {
        guard var worker = workers[peer] else { return }
        freeSlots -= worker.freeSlots
        worker.running.append(jobs[i].descriptor.id)
        freeSlots += worker.freeSlots
        workers[peer] = worker
    }

    private mutating func detach(_ i: Int, from peer: PeerID) {
        guard var worker = workers[peer], let k = worker.running.firstIndex(of: jobs[i].descriptor.id) else { return }
        freeSlots -= worker.freeSlots
        worker.running.remove(at: k)
        freeSlots += worker.freeSlots
        workers[peer] = worker
    }

    /// Ends job `i`'s current lease without a result, then re-queues or fails it.
    private mutating func endLease(_ i: Int, _ end: LeaseEnd, cancel: Bool, now: Instant, out: inout Output) {
        let ref = jobs[i].ref
        let holder = jobs[i].holder
        if jobs[i].state == .orphaned { removeOrphan(i) }
        if let holder {
            detach(i, from: holder)
            if cancel { out.send(holder, .cancel(Cancel(jobId: ref.jobId, attempt: ref.attempt, reason: .expired))) }
        }
        jobs[i].holder = nil
        requeueOrFail(i, end, worker: holder, now: now, out: &out)
    }

    /// Job `i`'s lease ended (`end`, held by `worker`): queued again as attempt + 1, or failed
    /// (exhausted) at the retry limit or the wire's last attempt.
    private mutating func requeueOrFail(_ i: Int, _ end: LeaseEnd, worker: PeerID?, now: Instant, out: inout Output) {
        let ended = jobs[i].ref
        if end.countsAsFailure { jobs[i].failures += 1 }
        jobs[i].lastReason = end.reason
        let id = jobs[i].descriptor.id
        if jobs[i].failures >= config.timing.retryLimit || jobs[i].attempt >= maxAttempt {
            let failures = jobs[i].failures
            let reason = "failed after \(failures) failed attempt\(failures == 1 ? "" : "s") (attempt \(jobs[i].attempt)); "
                + "last: \(end.reason)"
            fail(i, .exhausted, reason: reason, end: end, worker: worker, now: now, out: &out)
            return
        }
        jobs[i].attempt += 1
        jobs[i].state = .queued
        out.record(.requeued(ended, end: end, worker: worker, failures: jobs[i].failures, at: now))
        out.log("#\(id) \(jobs[i].descriptor.key) re-queued as attempt \(jobs[i].attempt): \(end.reason)")
        if isReady(i) { ready.push(id: id, cost: jobs[i].descriptor.cost) }
    }

    /// Job `i` ends failed (`failure`: exhausted after its lease ended, or dependency), and with it
    /// every job that needed it.
    private mutating func fail(_ i: Int, _ failure: JobFailure, reason: String, end: LeaseEnd?, worker: PeerID?,
                               now: Instant, out: inout Output) {
        jobs[i].state = .failed
        jobs[i].lastReason = reason
        markEnded(i)
        out.record(.failed(jobs[i].ref, failure, reason: reason, end: end, worker: worker, failures: jobs[i].failures,
                           at: now))
        out.log("#\(jobs[i].descriptor.id) \(jobs[i].descriptor.key) \(reason)")
        failDependents(of: i, now: now, out: &out)
    }

    /// Job `i` has ended (done or failed): the counts that decide `.finished` and the ETA.
    private mutating func markEnded(_ i: Int) {
        endedCount += 1
        endedCost += jobs[i].descriptor.cost
    }

    /// Fails every job that needs job `w` (a failed warm start), naming it.
    private mutating func failDependents(of w: Int, now: Instant, out: inout Output) {
        for id in dependents[jobs[w].descriptor.id] ?? [] {
            guard let m = indexOf[id], !jobs[m].state.isEnded else { continue }
            if jobs[m].state == .orphaned { removeOrphan(m) }
            let holder = jobs[m].holder
            if let holder {
                detach(m, from: holder)
                out.send(holder, .cancel(Cancel(jobId: jobs[m].descriptor.id, attempt: jobs[m].attempt, reason: .expired)))
            }
            jobs[m].holder = nil
            fail(m, .dependency, reason: "its warm start #\(jobs[w].descriptor.id) failed: \(jobs[w].lastReason ?? "no reason")",
                 end: nil, worker: holder, now: now, out: &out)
        }
    }

    /// Ends all of `peer`'s leases and forgets it; `why` goes to the journal with its departure.
    private mutating func removeWorker(_ peer: PeerID, end: LeaseEnd, cancel: Bool, why: String, now: Instant,
                                       out: inout Output) {
        guard let worker = workers[peer] else { return }
        for id in worker.running {
            if let i = indexOf[id], jobs[i].holder == peer { endLease(i, end, cancel: cancel, now: now, out: &out) }
        }
        out.record(.workerGone(peer: peer, reason: why, at: now))
        freeSlots -= workers[peer]?.freeSlots ?? 0
        workers[peer] = nil
        if let k = workerOrder.firstIndex(of: peer) { workerOrder.remove(at: k) }
    }

    // MARK: - Status

    private func statusReply(now: Instant) -> StatusReply {
        let counts = self.counts
        let workerList = workerOrder.prefix(Wire.maxListCount).compactMap { peer in
            workers[peer].map { worker in
                let held = Array(worker.running.prefix(1_024))
                return WorkerStatus(name: worker.name, jobs: held, steps: held.map { id in indexOf[id].map { jobs[$0].lastStep } ?? 0 })
            }
        }
        let uptime = Double((now - (startedAt ?? now)).inMilliseconds) / 1_000
        let states = StatusCounts(total: jobs.count, done: counts[.done] ?? 0, failed: counts[.failed] ?? 0,
                                  running: (counts[.running] ?? 0) + (counts[.orphaned] ?? 0),
                                  queued: counts[.queued] ?? 0)
        return StatusReply(specHash: config.specHash, counts: states, workers: workerList, uptimeSeconds: max(0, uptime))
    }
}

/// Highest attempt number the wire accepts (`JobRef` validation).
let maxAttempt = 1_000

/// Effects of one `handle` call, kept apart by kind so they come out in contract order.
private struct Output {
    var journal: [Effect] = []
    var logs: [Effect] = []
    var sends: [Effect] = []
    var finished = false

    mutating func record(_ change: Change) { journal.append(.journal(change)) }
    mutating func send(_ peer: PeerID, _ message: Message) { sends.append(.send(peer, message)) }
    mutating func log(_ line: String) { logs.append(.log(line)) }

    var effects: [Effect] {
        var all = journal
        all.reserveCapacity(journal.count + logs.count + sends.count + 1)
        all += logs
        all += sends
        if finished { all.append(.finished) }
        return all
    }
}
