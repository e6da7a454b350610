// The coordinator's ROUTER event loop: the thin, effectful shell around the pure `Scheduler`.
//
// One poll round: wait (finite timeout) for traffic, drain every waiting message, feed each to the
// scheduler (plus a `.tick` when due), then journal ALL `.journal` effects of the round in ONE
// `Store.commit` (one fsync for many messages: that is where the throughput comes from), and only
// after it committed send the round's messages in order. Batching several `handle` calls into one
// transaction keeps the scheduler's contract: each call's changes are still all-or-nothing, and no
// send of any of them happens before the commit, so "ACK only after the result is in the database"
// and "JOB only after its lease is journaled" hold.
//
// A commit that fails stops the loop with the error: memory is then ahead of the journal, and a
// restart recovers from the journal. Malformed traffic is logged and answered `ERROR malformed`; it
// never reaches the scheduler or the database.
import Foundation
import Store
import SweepProtocol
import Synchronization
import ZeroMQ

/// A thread-safe stop request for a running `CoordinatorLoop` (Ctrl-C, tests).
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks the loop to stop after its current round.
    public func request() { flag.store(true, ordering: .relaxed) }

    /// Whether a stop was requested.
    public var isRequested: Bool { flag.load(ordering: .relaxed) }
}

/// Socket and timing settings of the loop (defaults from PROTOCOL.md).
public struct CoordinatorLoopOptions: Sendable {
    /// ZMTP heartbeat settings of the ROUTER (transport liveness, below the protocol's HEARTBEAT).
    public var zmtpHeartbeatInterval = Wire.zmtpHeartbeatInterval
    public var zmtpHeartbeatTimeout = Wire.zmtpHeartbeatTimeout
    public var zmtpHeartbeatTTL = Wire.zmtpHeartbeatTTL
    /// Largest inbound frame (`ZMQ_MAXMSGSIZE` limits each frame): the largest checkpoint.
    public var maxMessageSize: Int = Wire.maxMessageSize
    /// Most messages read in one round before the round is journaled (bounds the round's latency;
    /// a batch counts its messages, and the one that reaches the bound is read whole).
    public var maxMessagesPerRound: Int = 4096
    /// After `.finished`, how long at most the loop keeps serving late traffic (BYE to a READY,
    /// ACK to a re-sent result): it stops as soon as every worker it dismissed has answered BYE
    /// (their traffic has all arrived), else once it heard nothing for `finishQuiet` after a
    /// round's work. The socket then closes with `finishLinger`, for BYEs still queued.
    public var finishGrace: Duration = .milliseconds(300)
    public var finishQuiet: Duration = .milliseconds(50)
    public var finishLinger: Duration = Wire.byeLinger
    /// CURVE on the ROUTER: only workers holding an allowed public key complete the handshake;
    /// nil leaves the socket open to any peer (loopback, ipc, trusted networks).
    public var curve: CoordinatorCurve?
    /// Called on the loop thread at most every `observeInterval` (and once at the end) with the
    /// job counts: the live progress line.
    public var observer: (@Sendable (CoordinatorProgress) -> Void)?
    public var observeInterval: Duration = .milliseconds(500)

    public init() {}
}

/// The coordinator's CURVE identity and the worker keys it admits.
public struct CoordinatorCurve: Sendable {
    public var serverKeys: CurveKeyPair
    public var allowedWorkers: Set<CurvePublicKey>

    public init(serverKeys: CurveKeyPair, allowedWorkers: Set<CurvePublicKey>) {
        self.serverKeys = serverKeys
        self.allowedWorkers = allowedWorkers
    }
}

/// A snapshot of the sweep for progress lines.
public struct CoordinatorProgress: Sendable, Equatable {
    public var counts: [JobState: Int]
    public var total: Int
    public var workers: Int
    /// Jobs that ended since this loop started (not those the journal already had).
    public var endedSinceStart: Int
    /// Expected cost (training samples) of the jobs that ended since this loop started, and of
    /// those not ended yet: the ETA is the second at the rate of the first.
    public var costEndedSinceStart = 0
    public var costRemaining = 0
    /// Seconds since this loop started.
    public var elapsedSeconds: Double
    /// The last snapshot: the loop is returning.
    public var isFinal: Bool

    public func count(_ state: JobState) -> Int { counts[state] ?? 0 }
}

/// How `CoordinatorLoop.run()` ended.
public enum CoordinatorLoopEnd: Sendable, Equatable {
    /// Every job ended; BYE was sent to every worker.
    case finished
    /// `StopFlag.request()` was called.
    case stopped
}

/// The ROUTER event loop of one sweep. Construct, read `endpoint`, then call `run()` on one thread;
/// `stopFlag` may be set from any thread.
public final class CoordinatorLoop: @unchecked Sendable {
    // @unchecked: every mutable member is used only by the thread inside `run()` (construction
    // happens-before it through the thread start); `stopFlag` is atomic.

    /// The bound endpoint (`tcp://host:port` with the actual port, or `ipc://path`).
    public let endpoint: String
    /// Set to stop the loop after its current round.
    public let stopFlag = StopFlag()

    private let store: Store
    private var scheduler: Scheduler
    private let socket: Socket
    /// Answers the ROUTER's ZAP requests when CURVE is on.
    private let authenticator: ZAPAuthenticator?
    /// With CURVE: handshake failures that never reach the authenticator (a client without CURVE).
    private var handshakeMonitor: SocketMonitor?
    private var handshakeFailures = (logged: ContinuousClock.Instant?.none, unlogged: 0)
    private var malformedLog = (windowStart: ContinuousClock.now, logged: 0, suppressed: 0)
    /// Jobs ended once the journal was restored (after the start event: jobs it queued again, for a
    /// raised retry limit, have not ended).
    private var endedAtStart = 0
    /// `scheduler.endedCost` once the journal was restored.
    private var endedCostAtStart = 0
    private var lastObserved: ContinuousClock.Instant?
    private let options: CoordinatorLoopOptions
    private let log: @Sendable (String) -> Void
    private let origin = ContinuousClock.now
    private var lastTick: Instant
    /// The last instant at which the loop had read every waiting message (see `Event.tick`).
    private var heardUntil: Instant
    private var lastLagLog: Instant?
    private var finished = false

    /// Binds a ROUTER on `endpoint` and starts the scheduler from `start` (journaling what the
    /// start decides). Throws a `ZMQError` (bind, options) or a `StoreError`.
    public init(start: CoordinatorStart, context: Context, endpoint: String,
                options: CoordinatorLoopOptions = CoordinatorLoopOptions(),
                log: @escaping @Sendable (String) -> Void) throws {
        store = start.store
        scheduler = start.scheduler
        self.options = options
        self.log = log
        lastTick = Instant(milliseconds: 0)
        heardUntil = lastTick
        let log = self.log
        if let curve = options.curve {
            authenticator = try ZAPAuthenticator(context: context, allowedKeys: curve.allowedWorkers) { decision in
                if !decision.accepted { log("CURVE \(decision)") }
            }
        } else {
            authenticator = nil
        }
        let socket = try Socket(context, .router)
        do {
            if let curve = options.curve {
                try socket.set(.curveServer, true)
                try socket.set(.curveSecretKey, curve.serverKeys.secretKey)
            }
            try socket.set(.routerMandatory, Wire.routerMandatory)
            try socket.set(.maxMessageSize, options.maxMessageSize)
            try socket.set(.linger, Wire.linger)
            try socket.set(.heartbeatInterval, options.zmtpHeartbeatInterval)
            try socket.set(.heartbeatTimeout, options.zmtpHeartbeatTimeout)
            try socket.set(.heartbeatTTL, options.zmtpHeartbeatTTL)
            if options.curve != nil { handshakeMonitor = try SocketMonitor(socket, events: .handshakeFailedProtocol) }
            self.endpoint = try socket.bind(endpoint)
        } catch {
            handshakeMonitor?.stop()
            socket.close()
            throw error
        }
        self.socket = socket
        let now = self.now()
        lastTick = now
        heardUntil = now
        do {
            try perform(scheduler.handle(.start(start.restored), now: now))
        } catch {
            handshakeMonitor?.stop()
            socket.close()
            throw error
        }
        endedAtStart = scheduler.counts.filter { $0.key.isEnded }.values.reduce(0, +)
        endedCostAtStart = scheduler.endedCost
    }

    deinit {
        handshakeMonitor?.stop()
        socket.close()
        authenticator?.socket.close()
    }

    /// The time since this loop was made, on the monotonic clock.
    private func now() -> Instant { Instant(milliseconds: (ContinuousClock.now - origin).inMilliseconds) }

    /// Serves until every job ended (after sending BYE) or a stop is requested. Throws a
    /// `StoreError` when the journal refuses a commit (the loop stops: memory is ahead of it) or
    /// a `ZMQError` when the socket fails; the socket is closed either way.
    public func run() throws -> CoordinatorLoopEnd {
        defer {
            // The monitor first: see `SocketMonitor.stop()`.
            handshakeMonitor?.stop()
            // The last round's BYEs may still be queued: they get `finishLinger` to leave.
            if finished { try? socket.set(.linger, options.finishLinger) }
            socket.close()
            authenticator?.socket.close()
        }
        let roundTimeout = max(scheduler.config.timing.heartbeat, .milliseconds(4)) / 4
        var pollTimeout = roundTimeout
        // After the last job ended (a resumed sweep may start so): when, and when the loop last
        // heard anything (a round's messages handled, a CURVE handshake).
        var finishedAt = finished ? ContinuousClock.now : nil, lastHeard = ContinuousClock.now
        // Whether the last round emptied the socket (or found it empty), and when a CURVE handshake
        // was last served.
        var drained = false, lastHandshake: ContinuousClock.Instant?
        while !stopFlag.isRequested {
            if let finishedAt {
                let now = ContinuousClock.now
                // Every worker told BYE has answered, so nothing more of theirs can come, and no
                // peer began connecting since: the loop ends once a round found the socket empty
                // (what others sent meanwhile has been served), after a poll that does not wait.
                let goodbyesDone = scheduler.lostWorkerCount == 0 && scheduler.awaitedGoodbyes == 0
                    && lastHandshake.map { $0 < finishedAt } ?? true
                let end = finishEnd(finishedAt: finishedAt, lastHeard: lastHeard)
                if now >= end || (goodbyesDone && drained) {
                    observe(force: true)
                    return .finished
                }
                pollTimeout = goodbyesDone ? .zero : min(roundTimeout, end - now)
            }
            let events: PollEvents
            if let authenticator, let handshakeMonitor {
                let ready = try poll([socket.pollItem(.readable), authenticator.pollItem, handshakeMonitor.pollItem],
                                     timeout: pollTimeout)
                if ready[1].contains(.readable) {
                    try authenticator.handlePending()
                    lastHeard = ContinuousClock.now
                    lastHandshake = lastHeard
                }
                if ready[2].contains(.readable) { try logHandshakeFailures(handshakeMonitor) }
                events = ready[0]
            } else {
                events = try socket.poll(.readable, timeout: pollTimeout)
            }
            var effects: [Effect] = []
            // Everything that arrived before the poll said "nothing" or the socket ran dry has
            // been read: silence is judged up to that instant, never past a backlog.
            drained = !events.contains(.readable)
            if events.contains(.readable) {
                var count = 0
                while count < options.maxMessagesPerRound {
                    guard let frames = try socket.receive(dontWait: true) else {
                        heardUntil = self.now()
                        drained = true
                        break
                    }
                    count += receive(frames, into: &effects)
                }
            } else {
                heardUntil = self.now()
            }
            let now = self.now()
            if now - lastTick >= roundTimeout {
                lastTick = now
                effects += scheduler.handle(.tick(heardUntil: heardUntil), now: now)
                logLag(now: now)
            }
            try perform(effects)
            // The quiet window counts from the end of a round's work: a late round that takes a
            // while (a duplicate result journaled) must not use up the window of what came meanwhile.
            if events.contains(.readable) { lastHeard = ContinuousClock.now }
            if finished && finishedAt == nil { finishedAt = ContinuousClock.now }
            observe(force: false)
        }
        observe(force: true)
        return finished ? .finished : .stopped
    }

    /// Logs handshakes refused before ZAP (a client without CURVE, which re-dials every 100 ms):
    /// the first at once, then at most one line per 10 s with the count. libzmq 4.3's monitor
    /// names only the local endpoint, not the peer's address.
    private func logHandshakeFailures(_ monitor: SocketMonitor) throws {
        handshakeFailures.unlogged += try monitor.drain().count
        let now = ContinuousClock.now
        guard handshakeFailures.unlogged > 0,
              handshakeFailures.logged.map({ now - $0 >= .seconds(10) }) ?? true else { return }
        log("CURVE refused \(handshakeFailures.unlogged) handshake(s) on \(endpoint) from a client without CURVE "
                + "(or another mechanism); the address is not reported for these")
        handshakeFailures = (now, 0)
    }

    /// Says, at most once per 10 s, that the loop has not run dry for longer than a liveness
    /// window: silence is then judged a window late (`Event.tick`), and the sweep needs a faster
    /// coordinator or fewer messages.
    private func logLag(now: Instant) {
        let behind = now - heardUntil, window = scheduler.config.timing.livenessWindow
        guard behind > window, lastLagLog.map({ now - $0 >= .seconds(10) }) ?? true else { return }
        lastLagLog = now
        log("the coordinator is \(behind.inMilliseconds) ms behind the messages waiting for it: workers are "
                + "declared lost up to one liveness window (\(window.inMilliseconds) ms) late")
    }

    /// When to stop serving after the last job ended, unless every dismissed worker has said
    /// goodbye first (`run`): `finishQuiet` after the last message, within `finishGrace`. A worker
    /// declared lost during the sweep may be alive (a frozen process, a healed link) and re-dial
    /// after its liveness window and first backoff: it should get its BYE rather than re-dial a
    /// closed endpoint forever, so the loop then serves the whole of that longer grace.
    private func finishEnd(finishedAt: ContinuousClock.Instant, lastHeard: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard scheduler.lostWorkerCount > 0 else {
            return min(finishedAt + options.finishGrace, max(finishedAt, lastHeard) + options.finishQuiet)
        }
        return finishedAt + max(options.finishGrace,
                                scheduler.config.timing.livenessWindow + TimingDefaults.reconnectInitial + .seconds(1))
    }

    /// Calls the observer when it is due (or `force`).
    private func observe(force: Bool) {
        guard let observer = options.observer else { return }
        let now = ContinuousClock.now
        if !force, let last = lastObserved, now - last < options.observeInterval { return }
        lastObserved = now
        let counts = scheduler.counts
        let ended = counts.filter { $0.key.isEnded }.values.reduce(0, +)
        let elapsed = now - origin
        observer(CoordinatorProgress(counts: counts, total: counts.values.reduce(0, +), workers: scheduler.workerCount,
                                     endedSinceStart: ended - endedAtStart,
                                     costEndedSinceStart: scheduler.endedCost - endedCostAtStart,
                                     costRemaining: scheduler.totalCost - scheduler.endedCost,
                                     elapsedSeconds: Double(elapsed.components.seconds)
                                         + Double(elapsed.components.attoseconds) / 1e18,
                                     isFinal: force))
    }

    /// Decodes one ROUTER message (a batch) and feeds its messages to the scheduler in order;
    /// malformed traffic is answered here and none of its batch reaches the scheduler. Returns how
    /// many messages it read (1 for one refused).
    private func receive(_ frames: [[UInt8]], into effects: inout [Effect]) -> Int {
        guard frames.count >= 2 else {
            log("dropped a message of \(frames.count) frame(s) without a body")
            return 1
        }
        let peer = PeerID(bytes: frames[0])
        let body = Array(frames.dropFirst())
        let messages: [Message]
        do {
            messages = try Message.decodeBatch(body)
        } catch {
            logMalformed("malformed message from \(peer): \(error.description)")
            // No answer to what claims to be an ERROR or a BYE: no error ping-pong, and a peer
            // that leaves does not listen.
            let command = String(decoding: body.count > 1 ? body[1].prefix(16) : [], as: UTF8.self)
            if command == Command.error.rawValue || command == Command.bye.rawValue { return 1 }
            // A READY of this protocol that cannot be read is refused: the worker would only send
            // the same again. (Another protocol version could not read the REFUSE.)
            if command == Command.ready.rawValue && body.first == Array(Wire.versionTag.utf8) {
                effects.append(.send(peer, .refuse(.malformed(error))))
            } else {
                effects.append(.send(peer, .error(ErrorReply(code: .malformed, message: error.description))))
            }
            return 1
        }
        let now = self.now()
        for message in messages { effects += scheduler.handle(.message(peer, message), now: now) }
        return messages.count
    }

    /// Logs a malformed message: at most `malformedLogLimit` lines per 10 s, then one line with
    /// the count of those left out (a hostile peer would otherwise write a line per message).
    private func logMalformed(_ line: String) {
        let now = ContinuousClock.now
        if now - malformedLog.windowStart >= .seconds(10) {
            if malformedLog.suppressed > 0 {
                log("\(malformedLog.suppressed) more malformed messages in the last 10 s were refused without a line each")
            }
            malformedLog = (now, 0, 0)
        }
        if malformedLog.logged < Self.malformedLogLimit {
            malformedLog.logged += 1
            log(line)
        } else {
            malformedLog.suppressed += 1
        }
    }

    /// Malformed-message lines per 10 s window.
    static let malformedLogLimit = 20

    /// Journals every `.journal` effect in one transaction, then logs, sends and notes `.finished`.
    /// A peer's messages of the round leave as one batch, in their order.
    private func perform(_ effects: [Effect]) throws {
        var transitions: [Transition] = []
        for case .journal(let change) in effects { transitions.append(change.transition) }
        try store.commit(transitions)
        var outbox: [PeerID: [Message]] = [:]
        var peers: [PeerID] = []
        for effect in effects {
            switch effect {
            case .journal: break
            case .log(let line): log(line)
            case .send(let peer, let message):
                if outbox[peer, default: []].isEmpty { peers.append(peer) }
                outbox[peer, default: []].append(message)
            case .finished: finished = true
            }
        }
        for peer in peers {
            let messages = outbox[peer] ?? []
            var start = 0
            while start < messages.count {
                let end = min(start + Wire.maxBatch, messages.count)
                send(messages[start..<end], to: peer)
                start = end
            }
        }
    }

    /// Sends `messages` to `peer` as one batch; one that cannot be encoded is logged and left out.
    /// A vanished peer (EHOSTUNREACH) or a full queue is logged and the batch dropped.
    private func send(_ messages: ArraySlice<Message>, to peer: PeerID) {
        guard let batch = Message.encode(batch: messages, refused: { message, error in
            log("could not encode \(message.command.rawValue) for \(peer): \(error.description)")
        }) else { return }
        do {
            if try !socket.send([peer.bytes] + batch.frames, dontWait: true) {
                log("\(Message.describe(batch.sent)) to \(peer) dropped: its queue is full")
            }
        } catch let error as ZMQError where error.code == .hostUnreachable {
            // A heartbeat to a peer that just left is routine; anything else is worth a line.
            if batch.sent.allSatisfy({ if case .heartbeat = $0 { true } else { false } }) { return }
            log("\(Message.describe(batch.sent)) to \(peer) dropped: the peer is gone")
        } catch {
            log("\(Message.describe(batch.sent)) to \(peer) dropped: \(error)")
        }
    }
}
