// The vocabulary of the scheduler state machine: time, peers, configuration, the events it consumes
// and the effects it returns. Effects are data; the event loop performs them (see `Scheduler`).
// Job states, failures and lease ends are the journal's own vocabulary (Store, Lifecycle.swift).
import Store
import SweepProtocol

/// A point on the coordinator's monotonic clock, in whole milliseconds since an arbitrary origin
/// (the journal-free scheduler stays integer and deterministic). Tests drive it by hand; the event
/// loop derives it from `ContinuousClock`. Intervals are `Duration`s.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }

    /// `self` moved `interval` forward (whole milliseconds).
    public func advanced(by interval: Duration) -> Instant { Instant(milliseconds: milliseconds + interval.inMilliseconds) }

    /// The interval from `b` to `a`.
    public static func - (a: Instant, b: Instant) -> Duration { .milliseconds(a.milliseconds - b.milliseconds) }

    public var description: String { "t=\(milliseconds)ms" }
}

/// A peer's ZeroMQ routing id (workers use "host/pid/nonce"; status clients anything).
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { bytes = Array(string.utf8) }

    /// The bytes in one call: an array's own hash combines them one at a time, and every message
    /// looks its peer up.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// The id as text when it is printable ASCII, else `0x` and its bytes in hex. Two ids never
    /// read alike (the journal names workers by this text): a printable id that starts with `0x`
    /// is written in hex too.
    public var description: String {
        if let text = String(validating: bytes, as: UTF8.self), !text.hasPrefix("0x"),
           text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) {
            return text
        }
        return "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// The timing and retry settings of a sweep (never part of its grid; defaults from `TimingDefaults`).
public struct SchedulerTiming: Sendable, Equatable {
    /// Coordinator heartbeat period and the worker's expected one.
    public var heartbeat = TimingDefaults.heartbeat
    /// Missed beats before a silent worker is lost.
    public var liveness = TimingDefaults.liveness
    /// Minimum stall window.
    public var stallWindowMinimum = TimingDefaults.stallWindowMinimum
    /// Stall window = max(minimum, factor × step time); see `Scheduler.stallWindow(of:)`.
    public var stallStepFactor = TimingDefaults.stallStepFactor
    /// Failed attempts (expiries and transient failures) after which a job is failed.
    public var retryLimit = TimingDefaults.retryLimit
    /// How long orphaned leases wait for their worker after a coordinator restart.
    public var readoptGrace = TimingDefaults.readoptGrace

    public init() {}

    /// Silence after which a worker is lost.
    public var livenessWindow: Duration { heartbeat * liveness }
}

/// Timing, limits and admission rules of one sweep.
public struct SchedulerConfig: Sendable, Equatable {
    public var timing = SchedulerTiming()
    /// This binary's version; a READY with another is refused.
    public var version: String
    /// The data set the sweep needs; nil accepts any worker (trivial sweeps).
    public var dataset: DatasetOffer?
    /// The grid spec hash, for STATUS-REPLY.
    public var specHash: String
    /// This coordinator process's nonce, sent in WELCOME.
    public var coordinatorNonce: String
    /// The most workers admitted at once; a READY beyond is refused `full`. Each costs memory, and
    /// without CURVE anyone who reaches the port can send READY.
    public var maxWorkers = 16_384
    /// Whether to log a line per lease and per counted result (`sweep --quiet` turns them off, so
    /// that they are not even formatted: at thousands of jobs a second they cost more than a send).
    public var jobLines = true

    public init(version: String, dataset: DatasetOffer?, specHash: String, coordinatorNonce: String) {
        (self.version, self.dataset, self.specHash, self.coordinatorNonce)
            = (version, dataset, specHash, coordinatorNonce)
    }
}

/// One job's state as the journal holds it, for `Event.start`.
public struct RestoredJob: Sendable, Equatable {
    public var id: Int
    /// `.running` and `.orphaned` both come back as `.orphaned`.
    public var state: JobState
    /// The current attempt (the lease's, if running).
    public var attempt: Int
    /// Failed attempts so far (counted against the retry limit).
    public var failures: Int = 0
    /// Why a failed job failed (nil for the other states).
    public var failure: JobFailure?
    /// A done warm start's checkpoint, which its measure jobs carry; nil otherwise.
    public var checkpoint: [UInt8]?
    /// The worker (routing id as journaled) of a running lease: only it may re-adopt the lease.
    public var worker: String?
    /// A cancelled job that was cancelled because its warm start was (not on its own account):
    /// a retry of the warm start brings it back.
    public var cancelledWithWarmStart = false
}

/// What happens to the scheduler.
public enum Event: Sendable {
    /// The coordinator starts from its journal. Jobs not listed are queued at attempt 1.
    /// Only valid as the first event.
    case start([RestoredJob])
    /// A decoded message from a peer.
    case message(PeerID, Message)
    /// Time passes; the loop sends one at least every heartbeat interval. `heardUntil` is the
    /// last instant at which the loop had read every message waiting for it (nil: `now`). Silence
    /// (a lost worker, a stalled job, an orphan not re-adopted) is judged as of that instant: a
    /// loop that falls behind its traffic must not blame workers for heartbeats it has not read.
    /// It is judged no earlier than one liveness window before `now`, so that traffic that never
    /// lets the loop run dry cannot hide a dead worker for ever.
    case tick(heardUntil: Instant? = nil)
}

/// A state change the event loop must journal (all of one `handle` call in one transaction).
public enum Change: Sendable, Equatable {
    /// A worker was admitted (or re-admitted) at `at`; `ready` is its READY body (name, host, pid,
    /// cores, build CPU, version: what the journal's worker table holds).
    case workerSeen(peer: PeerID, ready: Ready, at: Instant)
    /// An admitted worker is gone (BYE, lost, refused on a later READY), after its leases ended.
    case workerGone(peer: PeerID, reason: String, at: Instant)
    /// A new lease: `job` attempt `ref.attempt` runs on `peer`.
    case lease(JobRef, peer: PeerID, worker: String, at: Instant)
    /// An orphaned lease was taken back by `peer` after a coordinator restart.
    case adopt(JobRef, peer: PeerID, worker: String, at: Instant)
    /// The first valid result of the job: it has ended (done, or failed deterministic).
    case resultCounted(JobResult, peer: PeerID, at: Instant)
    /// A result for a job that already has a counted result: journaled as an event, never counted.
    case resultDuplicate(JobResult, peer: PeerID, at: Instant)
    /// A result for an attempt that is not the current lease: journaled as an event, never counted.
    case resultStale(JobResult, peer: PeerID, at: Instant)
    /// The lease `ref` ended without a result (`end`, held by `worker`) and the job is queued
    /// again as attempt `ref.attempt + 1`; `failures` is its count against the retry limit.
    case requeued(JobRef, end: LeaseEnd, worker: PeerID?, failures: Int, at: Instant)
    /// The job ended without a result at attempt `ref.attempt`: `exhausted` after its lease ended
    /// (`end`), or `dependency` (its warm start failed); `failures` as counted.
    case failed(JobRef, JobFailure, reason: String, end: LeaseEnd?, worker: PeerID?, failures: Int, at: Instant)
    /// The failed or cancelled job `ref` gets attempt `ref.attempt + 1`, queued with `failures`
    /// counted against the retry limit; `reason` says who decided (JobDecisions.swift).
    case retried(JobRef, reason: String, failures: Int, at: Instant)
    /// The job `ref` is not wanted (`thermosweep cancel`): it ends cancelled (JobDecisions.swift).
    case cancelled(JobRef, reason: String, at: Instant)
}

/// What the event loop must do, in this order: journal every `.journal` of one `handle` call in
/// ONE transaction, and only after it commits perform `.send`s in order; `.log` lines may go at any
/// time; `.finished` last.
public enum Effect: Sendable, Equatable {
    case journal(Change)
    case send(PeerID, Message)
    case log(String)
    /// Every job has ended (emitted exactly once).
    case finished
}
