import Coordinator
import Store
import SweepProtocol

/// A scheduler with a hand-driven clock and helpers that send peer messages.
struct Harness {
    static let version = "0.4.0 (abc123)"
    static let datasetHash = "0123456789abcdef"

    var scheduler: Scheduler
    var now = Instant(milliseconds: 0)

    init(jobs: [JobDescriptor], retired: Set<Int> = [], configure: (inout SchedulerConfig) -> Void = { _ in }) {
        var config = SchedulerConfig(version: Self.version, dataset: nil, specHash: "00000000000000ff",
                                     coordinatorNonce: "c0ffee00")
        configure(&config)
        scheduler = Scheduler(jobs: jobs, config: config, retired: retired)
    }

    /// Trivial jobs (no dependencies), costs |B| × steps: larger batch → longer.
    static func trivialJobs(learningRates: [Double] = [0.05], batchSizes: [Int] = [8, 16, 32], seeds: Int = 1) -> [JobDescriptor] {
        GridSpec(learningRates: learningRates, batchSizes: batchSizes, seeds: seeds, jobKind: .trivial,
                 dataset: .synthetic()).jobs()
    }

    /// A train grid: one warm start per seed (ids 1…seeds), then measure jobs depending on them.
    static func trainJobs(learningRates: [Double] = [0.05], batchSizes: [Int] = [8, 16], seeds: Int = 2) -> [JobDescriptor] {
        GridSpec(learningRates: learningRates, batchSizes: batchSizes, seeds: seeds, jobKind: .train,
                 dataset: .synthetic()).jobs()
    }

    @discardableResult
    mutating func handle(_ event: Event) -> [Effect] { scheduler.handle(event, now: now) }

    @discardableResult
    mutating func send(_ peer: String, _ message: Message) -> [Effect] { handle(.message(PeerID(peer), message)) }

    static func readyBody(_ peer: String, slots: Int = 1, version: String = Harness.version,
                          datasets: [DatasetOffer] = [DatasetOffer(name: "synthetic", hash: Harness.datasetHash)],
                          running: [JobRef] = []) -> Ready {
        Ready(name: peer, host: "host", pid: 100, nonce: "0000abcd", cores: 2, cpuFeatures: ["avx512f"],
              buildCPU: "skylake-avx512", version: version, datasets: datasets, slots: slots, running: running)
    }

    @discardableResult
    mutating func ready(_ peer: String, slots: Int = 1, version: String = Harness.version, running: [JobRef] = [],
                        datasets: [DatasetOffer] = [DatasetOffer(name: "synthetic", hash: Harness.datasetHash)]) -> [Effect] {
        send(peer, .ready(Self.readyBody(peer, slots: slots, version: version, datasets: datasets, running: running)))
    }

    @discardableResult
    mutating func heartbeat(_ peer: String, _ jobs: [(id: Int, attempt: Int, step: Int)]) -> [Effect] {
        send(peer, .heartbeat(Heartbeat(jobs: jobs.map { JobProgress(jobId: $0.id, attempt: $0.attempt, step: $0.step, totalSteps: 1_000_000) })))
    }

    static func doneResult(_ id: Int, attempt: Int, kind: JobKind) -> JobResult {
        switch kind {
        case .trivial:
            return .done(jobId: id, attempt: attempt, kind: kind, wallSeconds: 0.2,
                         result: Array(#"{"format":"thermosweep-trivial/1"}"#.utf8))
        case .measure:
            return .done(jobId: id, attempt: attempt, kind: kind, wallSeconds: 1,
                         result: Array(#"{"format":"thermosweep-cell/1"}"#.utf8))
        case .warmStart:
            return .done(jobId: id, attempt: attempt, kind: kind, wallSeconds: 1,
                         result: Array(#"{"format":"thermosweep-warm/1"}"#.utf8), checkpoint: [UInt8](repeating: UInt8(id), count: 16))
        }
    }

    @discardableResult
    mutating func done(_ peer: String, _ id: Int, attempt: Int, kind: JobKind = .trivial) -> [Effect] {
        send(peer, .result(Self.doneResult(id, attempt: attempt, kind: kind)))
    }

    @discardableResult
    mutating func failed(_ peer: String, _ id: Int, attempt: Int, _ errorKind: FailureKind, kind: JobKind = .trivial,
                         message: String = "boom") -> [Effect] {
        send(peer, .result(.failed(jobId: id, attempt: attempt, kind: kind, wallSeconds: 1, errorKind: errorKind, message: message)))
    }

    @discardableResult
    mutating func tick() -> [Effect] { handle(.tick()) }

    @discardableResult
    mutating func advance(_ ms: Int64) -> [Effect] {
        now = now.advanced(by: .milliseconds(ms))
        return tick()
    }
}

extension Array where Element == Effect {
    var changes: [Change] { compactMap { if case .journal(let c) = $0 { return c } else { return nil } } }
    var sends: [(peer: PeerID, message: Message)] {
        compactMap { if case .send(let p, let m) = $0 { return (p, m) } else { return nil } }
    }
    func messages(to peer: String) -> [Message] { sends.filter { $0.peer == PeerID(peer) }.map(\.message) }
    func jobs(to peer: String) -> [JobLease] {
        messages(to: peer).compactMap { if case .job(let j) = $0 { return j } else { return nil } }
    }
    /// All JOBs sent, in order.
    var jobs: [JobLease] { sends.compactMap { if case .job(let j) = $0.message { return j } else { return nil } } }
    func cancels(to peer: String) -> [Cancel] {
        messages(to: peer).compactMap { if case .cancel(let c) = $0 { return c } else { return nil } }
    }
    func errors(to peer: String) -> [ErrorReply] {
        messages(to: peer).compactMap { if case .error(let e) = $0 { return e } else { return nil } }
    }
    func acks(to peer: String) -> [JobRef] {
        messages(to: peer).compactMap { if case .ack(let r) = $0 { return r } else { return nil } }
    }
    var isFinished: Bool { contains(.finished) }
    /// Every lease that ended without a result, and how (re-queued or failed after it).
    var leaseEnds: [(JobRef, LeaseEnd)] {
        changes.compactMap { change in
            switch change {
            case let .requeued(ref, end, _, _, _): return (ref, end)
            case let .failed(ref, _, _, .some(end), _, _, _): return (ref, end)
            default: return nil
            }
        }
    }
    /// The jobs queued again, each with its new attempt.
    var requeued: [JobRef] {
        changes.compactMap { if case .requeued(let r, _, _, _, _) = $0 { return JobRef(jobId: r.jobId, attempt: r.attempt + 1) } else { return nil } }
    }
    var counted: [JobResult] { changes.compactMap { if case .resultCounted(let r, _, _) = $0 { return r } else { return nil } } }

    /// Index of the first effect of each kind, to check the contract order.
    var isInContractOrder: Bool {
        func rank(_ e: Effect) -> Int {
            switch e {
            case .journal: return 0
            case .log: return 1
            case .send: return 2
            case .finished: return 3
            }
        }
        return zip(self, dropFirst()).allSatisfy { rank($0) <= rank($1) }
    }
}
