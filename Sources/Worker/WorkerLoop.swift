// The worker's conversation with the coordinator (PROTOCOL.md, "Conversation"). One thread, the
// one that calls `run()`, owns the DEALER socket; each job runs on a thread of its own (kept for
// the next job when it ends) and hands its result back through a lock-protected queue, which the
// loop drains between finite polls. A job that only waits (a trivial job, `JobRunner.wait(for:)`)
// gets no thread: the loop keeps its deadline.
import Foundation
import SweepProtocol
import ZeroMQ

/// Results finished on job threads, waiting for the loop thread. A push also writes a byte to a
/// pipe the loop polls beside its socket, so a finished job is reported at once, not at the next
/// poll timeout.
final class CompletionQueue: @unchecked Sendable {
    // Safe to share: `items` is only touched under `lock`; the pipe's ends are immutable and
    // writes/reads of single bytes are atomic.
    private let lock = NSLock()
    private var items: [(JobRef, JobResult?)] = []
    private let pipeEnds: (read: Int32, write: Int32)

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        } else {
            fds = [-1, -1]  // no wake-ups: the poll timeout still drains the queue
        }
        pipeEnds = (fds[0], fds[1])
    }

    deinit {
        if pipeEnds.read >= 0 { close(pipeEnds.read) }
        if pipeEnds.write >= 0 { close(pipeEnds.write) }
    }

    /// What the loop polls to learn of a push; nil when the pipe could not be made.
    var pollItem: PollItem? { pipeEnds.read >= 0 ? PollItem(fileDescriptor: pipeEnds.read) : nil }

    func push(_ ref: JobRef, _ result: JobResult?) {
        lock.withLock { items.append((ref, result)) }
        var byte: UInt8 = 1
        _ = write(pipeEnds.write, &byte, 1)  // a full pipe already holds a wake-up
    }

    func drain() -> [(JobRef, JobResult?)] {
        var sink = [UInt8](repeating: 0, count: 256)
        while pipeEnds.read >= 0 && read(pipeEnds.read, &sink, sink.count) > 0 {}
        return lock.withLock {
            defer { items.removeAll() }
            return items
        }
    }
}

/// The worker process's main loop: connect, READY, run leased jobs, report, repeat until told to stop.
public final class WorkerLoop: @unchecked Sendable {
    // Shared with other threads: only `config`, `runner` (immutable, Sendable) and `stopRequested`
    // (under `lock`). The socket and all lease state live inside `run()`, on the calling thread.
    public let config: WorkerConfig
    public let runner: any JobRunner
    private let context: Context
    private let lock = NSLock()
    private var stopRequested = false

    public init(config: WorkerConfig, runner: any JobRunner, context: Context? = nil) throws {
        self.config = config
        self.runner = runner
        self.context = try context ?? Context()
    }

    /// Asks `run()` to say BYE and return `.stopped` (from any thread).
    public func stop() { lock.withLock { stopRequested = true } }

    private var shouldStop: Bool { lock.withLock { stopRequested } }

    /// Runs until the coordinator refuses or dismisses the worker, is lost (local workers), or
    /// `stop()` is called. Every wait is finite.
    public func run() -> WorkerExit {
        var session = Session(loop: self)
        return session.run()
    }

    /// A job running on its own thread, or waiting on the loop's clock (`wait`, from `started`).
    struct Running {
        let job: Job
        let progress: JobProgressCounter
        var wait: JobWait? = nil
        var started = ContinuousClock.now
    }

    /// A finished result kept until ACK.
    struct Held {
        let result: JobResult
        var lastSent: ContinuousClock.Instant
    }

    /// The state of one `run()`: owned by the loop thread.
    struct Session {
        let loop: WorkerLoop
        var config: WorkerConfig { loop.config }
        var socket: Socket?
        /// The DEALER's connection events: what a silent coordinator's link did, and the handshake
        /// failures that no retry can mend (CURVE at one end only, a wrong server key, a refused key).
        var linkMonitor: SocketMonitor?
        /// Since the last `connect()`: a TCP/IPC connection opened; a ZeroMQ handshake completed;
        /// handshakes that failed without detail in a row.
        var linkOpened = false
        var handshook = false
        var silentHandshakeFailures = 0
        /// Since the last `connect()`: the other end hung up during a handshake (no CURVE here).
        var hungUp = false
        /// Admitted at least once (a later WELCOME is a re-admission).
        var everWelcomed = false
        var running: [JobRef: Running] = [:]
        /// The jobs of `running` that wait on the loop's clock.
        var waiting: Set<JobRef> = []
        var held: [JobRef: Held] = [:]
        /// Cancelled leases whose thread has not finished yet: their result is dropped.
        var cancelled: Set<JobRef> = []
        let completions = CompletionQueue()
        /// Messages said since the loop last waited (`send`, `flush`).
        let outbox = Outbox()
        let jobThreads = JobThreads()
        var heartbeat: Duration
        var liveness: Int
        var backoff: Duration
        var lastHeard = ContinuousClock.now
        var lastBeat = ContinuousClock.now
        var welcomed = false
        /// The grid of the last WELCOME: the JOBs name its cells.
        var grid: GridSpec?
        /// An exit decided while waiting for the coordinator, returned by the main loop.
        var pendingExit: WorkerExit?

        init(loop: WorkerLoop) {
            self.loop = loop
            heartbeat = loop.config.heartbeatInterval
            liveness = max(1, loop.config.liveness)
            backoff = loop.config.reconnectInitial
        }

        mutating func run() -> WorkerExit {
            defer { closeSocket() }
            do {
                note("connecting to \(config.endpoint) as \(config.name) (\(config.slots) slot\(config.slots == 1 ? "" : "s"))")
                try connect()
                while true {
                    if let pendingExit { return pendingExit }
                    if loop.shouldStop {
                        sayGoodbye()
                        return .stopped
                    }
                    let now = ContinuousClock.now
                    if now - lastHeard > heartbeat * liveness {
                        let silence = "no answer from the coordinator at \(config.endpoint) for \(liveness) heartbeats"
                        if config.exitOnCoordinatorLoss {
                            // The caller says that it exits (`WorkerExit.coordinatorLost`); this says why.
                            config.log("\(silence): \(diagnosis())")
                            return .coordinatorLost
                        }
                        config.log("\(silence): \(diagnosis()); retrying in \(backoff)")
                        // ZeroMQ reconnects the transport by itself: if the coordinator speaks up during the
                        // wait (e.g. a healed link), its messages are read, not dropped with the socket.
                        if try !waitForCoordinator(backoff) { continue }
                        backoff = min(backoff * 2, config.reconnectMaximum)
                        try connect()
                        continue
                    }
                    collectCompletions()
                    // Before WELCOME the coordinator does not know this peer: a HEARTBEAT would only
                    // earn an ERROR unknownPeer. Held results go out again on WELCOME.
                    if welcomed {
                        if now - lastBeat >= heartbeat { sendHeartbeat() }
                        resendDue()
                    }
                    guard let socket else { return .failed("no socket") }
                    var items = [socket.pollItem(.readable)]
                    if let wakeUp = completions.pollItem { items.append(wakeUp) }
                    if let linkMonitor { items.append(linkMonitor.pollItem) }
                    flush()
                    _ = try poll(items, timeout: max(.zero, min(heartbeat, .milliseconds(20), nextWaitEnd() - ContinuousClock.now)))
                    if let exit = try checkLink() { return exit }
                    while let frames = try socket.receive(dontWait: true) {
                        lastHeard = ContinuousClock.now
                        if let exit = handle(frames) { return exit }
                    }
                }
            } catch {
                return .failed("\(error)")
            }
        }

        /// Sends what is queued, then closes the DEALER, its monitor first (see `SocketMonitor.stop()`).
        mutating func closeSocket() {
            flush()
            linkMonitor?.stop()
            linkMonitor = nil
            socket?.close()
            socket = nil
        }

        /// A new DEALER (same routing id), then READY listing every lease still held.
        mutating func connect() throws {
            closeSocket()
            let dealer = try Socket(loop.context, .dealer)
            try dealer.set(.routingID, Array(config.routingID.utf8))
            try dealer.set(.maxMessageSize, Wire.maxMessageSize)
            try dealer.set(.heartbeatInterval, Wire.zmtpHeartbeatInterval)
            try dealer.set(.heartbeatTimeout, Wire.zmtpHeartbeatTimeout)
            try dealer.set(.heartbeatTTL, Wire.zmtpHeartbeatTTL)
            // Long enough to flush a BYE to a live coordinator, bounded so that exiting never waits on a
            // dead one.
            try dealer.set(.linger, Wire.byeLinger)
            if let curve = config.curve {
                try dealer.set(.curveServerKey, curve.serverKey)
                try dealer.set(.curvePublicKey, curve.keys.publicKey)
                try dealer.set(.curveSecretKey, curve.keys.secretKey)
            }
            linkMonitor = try SocketMonitor(dealer, events: [.connected, .handshakeSucceeded, .handshakeFailed])
            (linkOpened, handshook, silentHandshakeFailures, hungUp) = (false, false, 0, false)
            try dealer.connect(config.endpoint)
            socket = dealer
            welcomed = false
            lastHeard = ContinuousClock.now
            sendReady()
        }

        /// Reads the link's events; an exit when the handshake failed in a way no retry mends.
        mutating func checkLink() throws -> WorkerExit? {
            guard let linkMonitor else { return nil }
            for event in try linkMonitor.drain() {
                switch event.event {
                case .connected: linkOpened = true
                case .handshakeSucceeded: (handshook, silentHandshakeFailures) = (true, 0)
                case .handshakeFailedAuth:
                    return fatal("the coordinator at \(config.endpoint) refused this worker's CURVE key "
                                 + "\(config.curve?.keys.publicKey.z85 ?? "?") (\(event)): add its .pub to the sweep's "
                                 + "--curve-allow file, or check --curve-server-key")
                case .handshakeFailedProtocol where event.isMechanismMismatch:
                    return fatal(config.curve == nil
                        ? "the coordinator at \(config.endpoint) uses CURVE and this worker does not: give it "
                            + "--curve-server-key (the coordinator's .pub) and --curve-key (this worker's .key)"
                        : "this worker uses CURVE and the coordinator at \(config.endpoint) does not: drop "
                            + "--curve-server-key and --curve-key, or start the sweep with --curve-secret and --curve-allow")
                case .handshakeFailedNoDetail where config.curve != nil:
                    // The server cannot read a HELLO sealed for another key and drops the connection.
                    silentHandshakeFailures += 1
                    if silentHandshakeFailures >= 2 {
                        return fatal("the CURVE handshake with the coordinator at \(config.endpoint) failed "
                                     + "\(silentHandshakeFailures) times: the key given with --curve-server-key "
                                     + "(\(config.curve?.serverKey.z85 ?? "?")) does not match the coordinator's "
                                     + "secret key; give the .pub that `keygen` wrote beside the sweep's --curve-secret")
                    }
                case .handshakeFailedNoDetail where event.value == UInt32(EPIPE) || event.value == UInt32(ECONNRESET):
                    // A CURVE server that reads this worker's greeting first hangs up before its own
                    // greeting goes out: this side sees the broken connection, and the mechanism
                    // mismatch only on a later try. A proxy with no coordinator behind it (ssh -L,
                    // kubectl port-forward) hangs up the same way, so this is said, not acted on.
                    hungUp = true
                default: break
                }
            }
            return nil
        }

        /// Logs `message` and ends the run: a cause that reconnecting cannot mend.
        func fatal(_ message: String) -> WorkerExit {
            config.log(message)
            return .unauthorized(message)
        }

        /// Why the coordinator is silent, as far as this side can tell.
        func diagnosis() -> String {
            if handshook {
                return "the connection is up but nothing answers (a frozen or overloaded coordinator, "
                    + "or not a ThermoSweep coordinator)"
            }
            if case .success(let address) = EndpointAddress.parse(config.endpoint),
               let reason = address.unreachableReason() {
                return reason
            }
            if hungUp {
                return "the other end hangs up during the ZeroMQ handshake: the coordinator may use CURVE "
                    + "and this worker does not (give it --curve-server-key and --curve-key), or a proxy "
                    + "in between reaches no coordinator"
            }
            return linkOpened ? "the connection opens but the ZeroMQ handshake does not complete"
                : "the connection does not open"
        }

        /// A line about this worker's normal work (silent with `quiet`, and then never formatted).
        func note(_ message: @autoclosure () -> String) {
            if !config.quiet { config.log(message()) }
        }

        func sendReady() {
            let holding = (Array(running.keys) + Array(held.keys)).sorted { ($0.jobId, $0.attempt) < ($1.jobId, $1.attempt) }
            send(.ready(config.ready(holding: holding)))
        }

        /// Waits up to `duration` for the coordinator. Returns false when it spoke meanwhile (its
        /// messages handled; no reconnect needed) or `stop()` came; true when it stayed silent.
        mutating func waitForCoordinator(_ duration: Duration) throws -> Bool {
            let end = ContinuousClock.now + duration
            while ContinuousClock.now < end {
                if loop.shouldStop { return false }
                if let exit = try checkLink() {
                    pendingExit = exit
                    return false
                }
                guard let socket else { return true }
                flush()
                _ = try socket.poll(.readable, timeout: min(.milliseconds(20), end - ContinuousClock.now))
                var heard = false
                while let frames = try socket.receive(dontWait: true) {
                    heard = true
                    lastHeard = ContinuousClock.now
                    if let exit = handle(frames) {
                        pendingExit = exit
                        return false
                    }
                }
                if heard { return false }
            }
            return true
        }

        /// Queues `message`: what one pass of the loop says leaves as one batch, before the loop
        /// waits again (`flush`).
        func send(_ message: Message) {
            outbox.messages.append(message)
        }

        /// BYE: this worker leaves (stopped, or answering the coordinator's).
        func sayGoodbye() { send(.bye(Bye(reason: "worker \(config.name) is leaving"))) }

        /// Sends the queued messages, in order, in batches of at most `Wire.maxBatch`.
        func flush() {
            let messages = outbox.messages
            outbox.messages = []
            guard let socket else { return }
            var start = 0
            while start < messages.count {
                let end = min(start + Wire.maxBatch, messages.count)
                defer { start = end }
                guard let batch = Message.encode(batch: messages[start..<end], refused: { message, error in
                    config.log("\(message.command.rawValue) not sent: \(error)")
                }) else { continue }
                do {
                    if try !socket.send(batch.frames, dontWait: true) {
                        config.log("\(Message.describe(batch.sent)) not sent: the connection is not ready")
                    }
                } catch {
                    config.log("\(Message.describe(batch.sent)) not sent: \(error)")
                }
            }
        }

        mutating func sendHeartbeat() {
            lastBeat = ContinuousClock.now
            for ref in waiting {
                if let job = running[ref], let wait = job.wait {
                    job.progress.report(step: wait.step(after: lastBeat - job.started))
                }
            }
            let jobs = running.filter { !cancelled.contains($0.key) }.sorted { $0.key.jobId < $1.key.jobId }.map { ref, job in
                let total = min(job.progress.totalSteps, 1 << 50)
                return JobProgress(jobId: ref.jobId, attempt: ref.attempt, step: min(job.progress.step, total),
                                   totalSteps: total)
            }
            send(.heartbeat(Heartbeat(jobs: jobs)))
        }

        /// When the first waiting job ends (far ahead when none waits).
        func nextWaitEnd() -> ContinuousClock.Instant {
            var end = ContinuousClock.now + .seconds(3600)
            for ref in waiting {
                if let job = running[ref], let wait = job.wait { end = min(end, job.started + wait.duration) }
            }
            return end
        }

        /// The waiting jobs whose wait is over, with their results.
        mutating func endedWaits() -> [(JobRef, JobResult?)] {
            guard !waiting.isEmpty else { return [] }
            let now = ContinuousClock.now
            var ended: [(JobRef, JobResult?)] = []
            for ref in waiting {
                guard let job = running[ref], let wait = job.wait, now - job.started >= wait.duration else { continue }
                job.progress.report(step: wait.steps)
                ended.append((ref, wait.result(max(0, (now - job.started) / .seconds(1)))))
            }
            for (ref, _) in ended { waiting.remove(ref) }
            return ended
        }

        /// Moves finished jobs from their threads and ended waits into `held` and sends their RESULT.
        mutating func collectCompletions() {
            for (ref, result) in completions.drain() + endedWaits() {
                let job = running.removeValue(forKey: ref)?.job
                if cancelled.remove(ref) != nil { continue }
                guard let result else { continue }
                let what = { "#\(ref.jobId) \(job?.key ?? "")" }
                switch (result.outcome, result.errorKind) {
                case (.done, _): note("\(what()) done in \(String(format: "%.1f", result.wallSeconds)) s")
                case (_, .deterministic?): note("\(what()) failed: \(result.message ?? "")")
                default: config.log("\(what()) failed (to be retried): \(result.message ?? "")")
                }
                held[ref] = Held(result: result, lastSent: ContinuousClock.now)
                if welcomed { send(.result(result)) }
            }
        }

        mutating func resendDue() {
            let now = ContinuousClock.now
            for (ref, entry) in held where now - entry.lastSent >= config.resultResend {
                held[ref]?.lastSent = now
                send(.result(entry.result))
            }
        }

        mutating func resendAll() {
            let now = ContinuousClock.now
            for (ref, entry) in held {
                held[ref]?.lastSent = now
                send(.result(entry.result))
            }
        }

        /// Handles the messages of one batch in order; an exit reason ends the loop (and the rest
        /// of the batch goes unread).
        mutating func handle(_ frames: [[UInt8]]) -> WorkerExit? {
            let messages: [Message]
            do {
                messages = try Message.decodeBatch(frames)
            } catch where error.kind == .wrongVersion {
                // Another release's coordinator: it cannot read this worker either, and waiting
                // for it to answer would only repeat "nothing answers" forever.
                let refusal = "the coordinator at \(config.endpoint) speaks another protocol (\(error.detail)): "
                    + "run the same thermosweep binary on every node"
                config.log("refused (version): \(refusal)")
                return .refused(.version, refusal)
            } catch {
                config.log("ignored a message: \(error)")
                return nil
            }
            for message in messages {
                if let exit = handle(message) { return exit }
            }
            return nil
        }

        /// Handles one message; an exit reason ends the loop.
        mutating func handle(_ message: Message) -> WorkerExit? {
            switch message {
            case .welcome(let welcome):
                do throws(GridSpecError) {
                    try welcome.grid.validate()
                } catch {
                    let message = "the coordinator at \(config.endpoint) sent a grid this worker cannot run: \(error); "
                        + "run the same thermosweep binary on every node"
                    config.log(message)
                    return .failed(message)
                }
                grid = welcome.grid
                note("\(everWelcomed ? "re-admitted" : "admitted") by the coordinator at \(config.endpoint)")
                everWelcomed = true
                welcomed = true
                heartbeat = welcome.heartbeat
                liveness = welcome.liveness
                backoff = config.reconnectInitial
                resendAll()
            case .refuse(let refuse):
                config.log("refused (\(refuse.reason.rawValue)): \(refuse.message)")
                return .refused(refuse.reason, refuse.message)
            case .heartbeat:
                break
            case .job(let lease):
                start(lease)
            case .ack(let ref):
                held[ref] = nil
            case .cancel(let cancel):
                let ref = JobRef(jobId: cancel.jobId, attempt: cancel.attempt)
                if let job = running[ref] {
                    note("#\(ref.jobId) \(job.job.key) cancelled by the coordinator (\(cancel.reason.rawValue))")
                    if waiting.remove(ref) != nil {
                        running[ref] = nil  // no thread to wind down
                    } else {
                        job.progress.cancel()
                        cancelled.insert(ref)
                    }
                }
                held[ref] = nil
            case .bye(let bye):
                // The answer is this connection's last message: the coordinator, which awaits it,
                // then knows that nothing more of this worker is on its way.
                sayGoodbye()
                return .bye(bye.reason)
            case .error(let error):
                config.log("coordinator error \(error.code.rawValue): \(error.message)")
                // One READY per loss: the heartbeats that crossed it earn more unknownPeer errors, and a
                // second READY would make the coordinator drop the jobs it leased after the first.
                if error.code == .unknownPeer && welcomed {
                    welcomed = false
                    sendReady()
                }
            case .ready, .result, .status, .statusReply:
                config.log("ignored an unexpected \(message.command.rawValue)")
            }
            return nil
        }

        /// Starts the job `lease` names on a thread of its own, or on the loop's clock, if a slot is
        /// free; otherwise answers a transient failure, and a lease on no job of the grid a
        /// deterministic one.
        mutating func start(_ lease: JobLease) {
            let ref = lease.ref
            if running[ref] != nil || held[ref] != nil { return }  // a duplicate lease message
            func refuse(_ kind: FailureKind, _ message: String) {
                config.log("#\(lease.jobId) \(lease.key) refused: \(message)")
                let result = JobResult.failed(jobId: lease.jobId, attempt: lease.attempt, kind: lease.kind, wallSeconds: 0,
                                              errorKind: kind, message: message)
                held[ref] = Held(result: result, lastSent: ContinuousClock.now)
                send(.result(result))
            }
            // A JOB follows the WELCOME on the same connection, so a grid is always there.
            guard let grid else { return refuse(.transient, "a JOB before any WELCOME") }
            let job: Job
            do { job = try Job(lease, in: grid) } catch { return refuse(.deterministic, error.description) }
            // A cancelled job's thread may still be winding down (or hung for good): it no longer
            // holds a slot, or the coordinator's next lease would bounce off a full worker.
            guard running.count - cancelled.count < config.slots else {
                let result = JobResult.failed(jobId: job.jobId, attempt: job.attempt, kind: job.kind, wallSeconds: 0,
                                              errorKind: .transient,
                                              message: "worker \(config.name) has no free slot (\(config.slots) busy)")
                held[ref] = Held(result: result, lastSent: ContinuousClock.now)
                send(.result(result))
                return
            }
            let progress = JobProgressCounter(totalSteps: loop.runner.totalSteps(of: job))
            note("#\(job.jobId) \(job.key) started (attempt \(job.attempt))")
            if let wait = loop.runner.wait(for: job) {
                running[ref] = Running(job: job, progress: progress, wait: wait)
                waiting.insert(ref)
                return
            }
            running[ref] = Running(job: job, progress: progress)
            let runner = loop.runner, completions = self.completions
            jobThreads.run {
                completions.push(ref, runner.run(job, progress: progress))
            }
        }
    }
}

/// The messages a worker's loop has said since it last waited: they leave as one batch. A class,
/// so that the loop's non-mutating helpers can say something too; used by the loop thread only.
final class Outbox {
    var messages: [Message] = []
}

/// The threads that run jobs. A thread whose job ended waits a while for the next one, since
/// starting a thread costs more than a short job; a job that never returns keeps its thread, and
/// a new one starts whenever none is idle, so a hung job never holds up another.
final class JobThreads: @unchecked Sendable {
    // Safe to share: `idle` and `pending` are only touched under `condition`.
    private let condition = NSCondition()
    /// Threads waiting for work, less those already promised an item of `pending`.
    private var idle = 0
    private var pending: [@Sendable () -> Void] = []
    /// How long an idle thread waits for work before it ends.
    private let keepAlive: TimeInterval

    init(keepAlive: TimeInterval = 30) {
        self.keepAlive = keepAlive
    }

    /// Runs `work` on an idle thread, or on a new one.
    func run(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        if idle > 0 {
            idle -= 1
            pending.append(work)
            condition.signal()
            condition.unlock()
            return
        }
        condition.unlock()
        let thread = Thread { [self] in serve(first: work) }
        thread.name = "job"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func serve(first: @escaping @Sendable () -> Void) {
        var work = first
        while true {
            work()
            condition.lock()
            idle += 1
            let deadline = Date(timeIntervalSinceNow: keepAlive)
            while pending.isEmpty {
                if !condition.wait(until: deadline) && pending.isEmpty {
                    idle -= 1
                    condition.unlock()
                    return
                }
            }
            work = pending.removeFirst()
            condition.unlock()
        }
    }
}
