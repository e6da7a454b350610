import Cell
@testable import Coordinator
import SweepProtocol
import Store
import Testing

/// Seeded random simulation: many fake workers (fast, slow, dying, freezing, hanging, duplicating
/// results, reconnecting, leaving) and coordinator restarts from the journal, over a whole sweep.
/// Every effect of every `handle` call is checked against a journal model that enforces the
/// promise: every job ends exactly once, never counted twice, no job lost, attempts only grow,
/// every counted result matches its lease, ACK only with a journal entry for that result.
@Suite struct SchedulerChaosTests {
    /// The journal as the Store would hold it, with the invariants checked on every change.
    struct JournalModel {
        var state: [Int: JobState] = [:]
        var attempt: [Int: Int] = [:]
        var failures: [Int: Int] = [:]
        var checkpoints: [Int: [UInt8]] = [:]
        var counted: [Int: Int] = [:]
        var ended: [Int: Int] = [:]
        var lastLease: [Int: Int] = [:]
        var stats: [String: Int] = [:]

        init(ids: [Int]) {
            for id in ids {
                state[id] = .queued
                attempt[id] = 1
            }
        }

        func isLeased(_ ref: JobRef) -> Bool { state[ref.jobId] == .running && attempt[ref.jobId] == ref.attempt }

        mutating func apply(_ change: Change) {
            switch change {
            case .workerSeen, .workerGone:
                break
            case .lease(let ref, _, _, _):
                #expect(state[ref.jobId] == .queued, "lease of a job that is \(String(describing: state[ref.jobId]))")
                #expect(attempt[ref.jobId] == ref.attempt)
                #expect(ref.attempt > lastLease[ref.jobId] ?? 0, "attempts only grow")
                lastLease[ref.jobId] = ref.attempt
                state[ref.jobId] = .running
                stats["lease", default: 0] += 1
            case .adopt(let ref, _, _, _):
                #expect(isLeased(ref), "adopted \(ref) is not the journaled lease")
                stats["adopt", default: 0] += 1
            case .resultCounted(let result, _, _):
                #expect(isLeased(result.ref), "counted result \(result.ref) does not match its lease")
                counted[result.jobId, default: 0] += 1
                ended[result.jobId, default: 0] += 1
                #expect(counted[result.jobId] == 1, "job \(result.jobId) counted twice")
                state[result.jobId] = result.outcome == .done ? .done : .failed
                if let checkpoint = result.checkpoint { checkpoints[result.jobId] = checkpoint }
                stats["counted", default: 0] += 1
            case .resultDuplicate(let result, _, _):
                #expect(counted[result.jobId] == 1)
                stats["duplicate", default: 0] += 1
            case .resultStale(let result, _, _):
                #expect(!isLeased(result.ref) && counted[result.jobId] == nil)
                stats["stale", default: 0] += 1
            case .requeued(let ref, let end, _, let count, _):
                #expect(isLeased(ref), "ended lease \(ref) is not the journaled lease")
                #expect(count == (failures[ref.jobId] ?? 0) + (end.countsAsFailure ? 1 : 0), "failures counted once")
                stats[end.eventKind, default: 0] += 1
                attempt[ref.jobId] = ref.attempt + 1
                failures[ref.jobId] = count
                state[ref.jobId] = .queued
            case .failed(let ref, _, _, let end, _, _, _):
                #expect(!(state[ref.jobId]?.isEnded ?? true))
                if let end {
                    #expect(isLeased(ref), "ended lease \(ref) is not the journaled lease")
                    stats[end.eventKind, default: 0] += 1
                }
                ended[ref.jobId, default: 0] += 1
                state[ref.jobId] = .failed
                stats["failed", default: 0] += 1
            case .retried(let ref, _, let count, _):
                // Only a raised retry limit on start; a job with a counted result never comes back.
                #expect(state[ref.jobId] == .failed || state[ref.jobId] == .cancelled)
                #expect(counted[ref.jobId] == nil && attempt[ref.jobId] == ref.attempt)
                attempt[ref.jobId] = ref.attempt + 1
                failures[ref.jobId] = count
                state[ref.jobId] = .queued
                stats["retried", default: 0] += 1
            case .cancelled(let ref, _, _):
                #expect(counted[ref.jobId] == nil && !(state[ref.jobId]?.isEnded ?? true))
                ended[ref.jobId, default: 0] += 1
                state[ref.jobId] = .cancelled
                stats["cancelled", default: 0] += 1
            }
        }

        var restored: [RestoredJob] {
            state.keys.sorted().map { id in
                RestoredJob(id: id, state: state[id] ?? .queued, attempt: attempt[id] ?? 1, failures: failures[id] ?? 0,
                            checkpoint: checkpoints[id])
            }
        }
    }

    final class SimWorker {
        let peer: String
        let slots: Int
        let msPerStep: Int64
        let duplicates: Bool
        /// Its CANCELs get lost (dropped in transit): it finishes expired attempts and sends stale results.
        let losesCancels: Bool
        var admitted = false
        var gone = false
        var frozenUntil: Int64 = 0
        var inbox: [Message] = []
        var running: [JobRef: (start: Int64, hungAt: Int?)] = [:]
        var pending: [JobRef: (result: JobResult, lastSent: Int64)] = [:]
        var lastBeat: Int64 = 0
        var lastReady: Int64 = -10_000

        init(peer: String, slots: Int, msPerStep: Int64, duplicates: Bool, losesCancels: Bool) {
            self.peer = peer
            self.losesCancels = losesCancels
            self.slots = slots
            self.msPerStep = msPerStep
            self.duplicates = duplicates
        }
    }

    static let totalSteps = 40

    struct Simulation {
        var rng: SplitMix64
        let descriptors: [JobDescriptor]
        var scheduler: Scheduler
        var model: JournalModel
        var workers: [SimWorker] = []
        var now: Int64 = 0
        var spawned = 0
        var events = 0
        var finishes = 0
        var restarts = 0
        let config: SchedulerConfig

        init(seed: UInt64, descriptors: [JobDescriptor]) {
            rng = SplitMix64(seed: seed)
            self.descriptors = descriptors
            var config = SchedulerConfig(version: "1", dataset: nil, specHash: "00000000000000aa", coordinatorNonce: "00000001")
            config.timing.retryLimit = 4
            self.config = config
            scheduler = Scheduler(jobs: descriptors, config: config)
            model = JournalModel(ids: descriptors.map(\.id))
        }

        mutating func spawn(fast: Bool = false) {
            spawned += 1
            let speed: Int64 = fast ? 50 : [50, 100, 400, 2_500].randomElement(using: &rng) ?? 100
            workers.append(SimWorker(peer: "node/\(spawned)/\(String(spawned, radix: 16))", slots: Int.random(in: 1...2, using: &rng),
                                     msPerStep: speed, duplicates: !fast && Int.random(in: 0..<4, using: &rng) == 0,
                                     losesCancels: !fast && Int.random(in: 0..<4, using: &rng) == 0))
        }

        mutating func handle(_ event: Event) {
            events += 1
            let effects = scheduler.handle(event, now: Instant(milliseconds: now))
            #expect(effects.isInContractOrder)
            var journaled = Set<JobRef>()
            for change in effects.changes {
                model.apply(change)
                switch change {
                case .resultCounted(let r, _, _), .resultDuplicate(let r, _, _), .resultStale(let r, _, _):
                    journaled.insert(r.ref)
                case .requeued(let r, _, _, _, _), .failed(let r, _, _, .some, _, _, _): journaled.insert(r)
                default: break
                }
            }
            for (peer, message) in effects.sends {
                if case .ack(let ref) = message { #expect(journaled.contains(ref), "ACK of \(ref) without a journal entry") }
                if let worker = workers.first(where: { PeerID($0.peer) == peer }), !worker.gone { worker.inbox.append(message) }
            }
            finishes += effects.filter { $0 == .finished }.count
        }

        mutating func restartCoordinator() {
            restarts += 1
            scheduler = Scheduler(jobs: descriptors, config: config)
            finishes = 0
            handle(.start(model.restored))
        }

        mutating func step(chaos: Bool) {
            now += 100
            for worker in workers where !worker.gone && now >= worker.frozenUntil {
                run(worker)
                guard chaos, !worker.gone else { continue }
                let roll = Double.random(in: 0..<1, using: &rng)
                if roll < 0.001_0 {  // kill -9: silent forever; a replacement process starts
                    worker.gone = true
                    spawn()
                } else if roll < 0.002_5 {  // SIGSTOP for 1…8 s (more than 3 s: declared lost)
                    worker.frozenUntil = now + Int64.random(in: 1_000...8_000, using: &rng)
                } else if roll < 0.003_3 {  // leaves politely; a new process takes its place
                    send(worker, .bye(Bye(reason: "SIGTERM")))
                    worker.gone = true
                    spawn()
                } else if roll < 0.004_8, let ref = worker.running.keys.sorted(by: { $0.jobId < $1.jobId }).first,
                          let job = worker.running[ref], job.hungAt == nil {  // trainer hangs, socket alive
                    worker.running[ref] = (job.start, Int((now - job.start) / worker.msPerStep))
                } else if roll < 0.005_8 {  // loses the coordinator for a moment: READY again, same id
                    worker.admitted = false
                }
            }
            handle(.tick())
        }

        mutating func send(_ worker: SimWorker, _ message: Message) {
            handle(.message(PeerID(worker.peer), message))
        }

        mutating func run(_ worker: SimWorker) {
            let inbox = worker.inbox
            worker.inbox = []
            for message in inbox {
                switch message {
                case .welcome: worker.admitted = true
                case .job(let job):
                    let ref = JobRef(jobId: job.jobId, attempt: job.attempt)
                    if worker.running[ref] == nil && worker.pending[ref] == nil { worker.running[ref] = (now, nil) }
                case .ack(let ref): worker.pending[ref] = nil
                case .cancel(let cancel) where !worker.losesCancels:
                    let ref = JobRef(jobId: cancel.jobId, attempt: cancel.attempt)
                    worker.running[ref] = nil
                    worker.pending[ref] = nil
                case .error(let error) where error.code == .unknownPeer: worker.admitted = false
                case .bye, .refuse: worker.gone = true
                default: break
                }
            }
            if worker.gone { return }
            if !worker.admitted {
                if now - worker.lastReady >= 1_000 {
                    worker.lastReady = now
                    let held = (Array(worker.running.keys) + Array(worker.pending.keys)).sorted { ($0.jobId, $0.attempt) < ($1.jobId, $1.attempt) }
                    send(worker, .ready(Ready(name: worker.peer, host: "sim", pid: 1, nonce: "00000000", cores: 1, cpuFeatures: [],
                                              buildCPU: "x86-64", version: "1", datasets: [], slots: worker.slots, running: held)))
                }
                return
            }
            // Finish jobs whose steps are done.
            for ref in worker.running.keys.sorted(by: { $0.jobId < $1.jobId }) {
                guard let job = worker.running[ref], job.hungAt == nil,
                      (now - job.start) / worker.msPerStep >= Int64(SchedulerChaosTests.totalSteps) else { continue }
                worker.running[ref] = nil
                // By id, not position: a grown grid's ids are not in grid order.
                let kind = descriptors.first { $0.id == ref.jobId }?.kind ?? .trivial
                let roll = Int.random(in: 0..<100, using: &rng)
                let result: JobResult = roll < 3
                    ? .failed(jobId: ref.jobId, attempt: ref.attempt, kind: kind, wallSeconds: 1, errorKind: .transient, message: "I/O error")
                    : roll < 4
                    ? .failed(jobId: ref.jobId, attempt: ref.attempt, kind: kind, wallSeconds: 1, errorKind: .deterministic, message: "diverged")
                    : Harness.doneResult(ref.jobId, attempt: ref.attempt, kind: kind)
                worker.pending[ref] = (result, -10_000)
            }
            if now - worker.lastBeat >= 1_000 {
                worker.lastBeat = now
                let progress = worker.running.keys.sorted(by: { $0.jobId < $1.jobId }).compactMap { ref -> JobProgress? in
                    guard let job = worker.running[ref] else { return nil }
                    let step = job.hungAt ?? Int(min(Int64(SchedulerChaosTests.totalSteps), (now - job.start) / worker.msPerStep))
                    return JobProgress(jobId: ref.jobId, attempt: ref.attempt, step: step, totalSteps: SchedulerChaosTests.totalSteps)
                }
                send(worker, .heartbeat(Heartbeat(jobs: progress)))
            }
            for ref in worker.pending.keys.sorted(by: { $0.jobId < $1.jobId }) {
                guard let entry = worker.pending[ref], now - entry.lastSent >= 3_000, worker.admitted else { continue }
                worker.pending[ref] = (entry.result, now)
                send(worker, .result(entry.result))
                if worker.duplicates { send(worker, .result(entry.result)) }
            }
        }
    }

    static func simulate(seed: UInt64, descriptors: [JobDescriptor]) -> Simulation {
        var sim = Simulation(seed: seed, descriptors: descriptors)
        for _ in 0..<10 { sim.spawn() }
        // Chaos for up to 15 simulated minutes, with coordinator restarts at 30, 60 and 90 s.
        for tick in 1...9_000 {
            if tick % 300 == 0 && tick <= 900 { sim.restartCoordinator() }
            sim.step(chaos: true)
            if sim.finishes > 0 { break }
        }
        // Calm: healthy fast workers join; the sweep must end.
        for _ in 0..<4 { sim.spawn(fast: true) }
        var calm = 0
        while sim.finishes == 0 && calm < 20_000 {
            sim.step(chaos: false)
            calm += 1
        }
        return sim
    }

    static func checkEnd(_ sim: Simulation, minimumEvents: Int) {
        #expect(sim.finishes == 1, "the sweep did not finish exactly once in the last coordinator")
        for id in sim.descriptors.map(\.id) {
            #expect(sim.model.ended[id] == 1, "job \(id) ended \(sim.model.ended[id] ?? 0) times")
            #expect(sim.model.state[id]?.isEnded == true)
            #expect((sim.model.counted[id] ?? 0) <= 1)
        }
        #expect(sim.events > minimumEvents)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func trivialSweepSurvivesChaos(seed: UInt64) {
        let descriptors = Harness.trivialJobs(learningRates: [0.01, 0.02, 0.05, 0.1, 0.2], batchSizes: [8, 16, 32, 64, 128], seeds: 24)
        let sim = Self.simulate(seed: seed, descriptors: descriptors)
        Self.checkEnd(sim, minimumEvents: 5_000)
        #expect(sim.restarts == 3)
        // The chaos really happened.
        for kind in ["lost", "stalled", "released", "adopt", "stale", "duplicate"] {
            #expect((sim.model.stats[kind] ?? 0) > 0, "no \(kind) in seed \(seed): \(sim.model.stats.sorted { $0.key < $1.key })")
        }
    }

    @Test(arguments: [7, 8] as [UInt64])
    func trainSweepWithWarmStartsSurvivesChaos(seed: UInt64) {
        let descriptors = Harness.trainJobs(learningRates: [0.05, 0.1, 0.2], batchSizes: [8, 16, 32, 64], seeds: 8)
        let sim = Self.simulate(seed: seed, descriptors: descriptors)
        Self.checkEnd(sim, minimumEvents: 1_000)
        #expect(sim.restarts >= 1)
        // A measure job never ran before its warm start was done.
        for d in descriptors where d.kind == .measure {
            if sim.model.counted[d.id] != nil, let warm = d.dependsOn { #expect(sim.model.state[warm] == .done) }
        }
    }

    /// A grid grown twice and then cut back (`sweep --drop`): job ids out of grid order, with holes
    /// where dropped jobs stay in the journal. The same promise holds.
    @Test(arguments: [11] as [UInt64])
    func grownAndDroppedTrainSweepSurvivesChaos(seed: UInt64) {
        let first = GridSpec(learningRates: [0.1, 0.2], batchSizes: [16, 32], seeds: 2, dataset: .synthetic())
        var grown = first
        grown.learningRates = [0.05, 0.1, 0.2]
        grown.batchSizes = [8, 16, 32, 64]
        grown.seeds = 6
        var ids = Dictionary(uniqueKeysWithValues: first.jobs().map { ($0.key, $0.id) })
        for job in grown.jobs(keeping: ids) { ids[job.key] = job.id }
        var cut = grown
        cut.batchSizes = [8, 32, 64]
        let descriptors = cut.jobs(keeping: ids)
        #expect(descriptors.map(\.id) != Array(1...descriptors.count), "ids out of grid order, with holes")
        let sim = Self.simulate(seed: seed, descriptors: descriptors)
        Self.checkEnd(sim, minimumEvents: 1_000)
        for d in descriptors where d.kind == .measure {
            if sim.model.counted[d.id] != nil, let warm = d.dependsOn { #expect(sim.model.state[warm] == .done) }
        }
    }
}
