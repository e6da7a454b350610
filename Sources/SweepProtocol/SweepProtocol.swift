// The wire contract between coordinator and workers: every name and number of PROTOCOL.md, in one
// place. Change the two together; a change of frames or bodies bumps `versionTag`.

/// Frame layout, sizes and socket settings of protocol `TSW6` (PROTOCOL.md, "Transport", "Frames").
public enum Wire {
    /// Frame 0 of every message. Bumped whenever a frame or body changes shape.
    public static let versionTag = "TSW6"
    /// `ZMQ_MAXMSGSIZE` in bytes: above the largest checkpoint (cnn-32-64, 225,034 floats as JSON
    /// ≈ 3 MB) with room to spare; a larger frame cuts the sender off inside libzmq.
    public static let maxMessageSize = 64 << 20
    /// Most protocol messages in one ZeroMQ message (a batch): the ACKs and JOBs of a round for one
    /// worker of 1,024 slots, with room to spare.
    public static let maxBatch = 4096
    /// Largest JSON body (frame 2) in bytes; bodies are small, so anything larger is garbage and is
    /// refused before it is parsed.
    public static let maxBodySize = 1 << 20
    /// Largest result JSON attachment (a CellResult is a few tens of kB).
    public static let maxResultSize = 16 << 20
    /// Largest checkpoint attachment.
    public static let maxCheckpointSize = maxMessageSize
    /// Longest accepted string field (names, keys, hashes) in characters.
    public static let maxShortString = 256
    /// Longest accepted free-text message (errors, refusals) in characters.
    public static let maxMessageText = 4096
    /// Longest accepted list in a body (CPU features, data sets, jobs of one heartbeat, workers).
    public static let maxListCount = 4096
    /// `ZMQ_LINGER`: a closing socket drops unsent messages; every message is re-sent until
    /// acknowledged anyway, so waiting would only delay exit. Closes after a BYE wait `byeLinger`.
    public static let linger = Duration.zero
    /// `ZMQ_LINGER` of a socket closing after its BYEs (a leaving worker's DEALER, the coordinator's
    /// ROUTER after the last job): long enough to flush them to a live peer, bounded so that
    /// exiting never waits long on a dead one (while the process lives on).
    public static let byeLinger = Duration.milliseconds(500)
    /// `ZMQ_ROUTER_MANDATORY`: a send to an unknown or gone peer fails instead of vanishing.
    public static let routerMandatory = true
    /// `ZMQ_HEARTBEAT_IVL`, `_TIMEOUT`, `_TTL`: connection-level liveness (ZMTP pings), aligned
    /// with the application's 1 s heartbeat and 3-beat liveness.
    public static let zmtpHeartbeatInterval = Duration.seconds(1)
    public static let zmtpHeartbeatTimeout = Duration.seconds(3)
    public static let zmtpHeartbeatTTL = Duration.seconds(3)
    /// Routing id of a worker or status client: "host/pid/nonce" (nonce: 8 hex digits per process),
    /// so a restarted process is a new peer.
    public static func routingID(host: String, pid: Int, nonce: String) -> String {
        "\(host)/\(pid)/\(nonce)"
    }

    /// Whether `scalar` is a control character, which no string on the wire may hold.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || scalar.value == 0x7F }

    /// Free text (an error, a refusal) as a message field takes it: control characters (a
    /// multi-line error) become spaces, and text past `maxMessageText` bytes is cut at a
    /// character boundary with "…".
    public static func messageText(_ text: String) -> String {
        var out = String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? " " : $0 }))
        guard out.utf8.count > maxMessageText else { return out }
        while out.utf8.count > maxMessageText - 3 { out.removeLast() }
        return out + "…"
    }

    /// A new per-process nonce: 8 random lowercase hex digits.
    public static func nonce() -> String {
        let hex = String(UInt32.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// Default timing (PROTOCOL.md, "Timing"). All are configurable; the coordinator sends the values
/// in force in WELCOME. Every interval in ThermoSweep is a `Duration`; whole milliseconds appear
/// only where the wire or the command line writes numbers (`Duration.inMilliseconds`).
public enum TimingDefaults {
    /// Heartbeat period, both directions: short enough to notice a dead peer in seconds, long
    /// enough that hundreds of workers cost the coordinator nothing.
    public static let heartbeat = Duration.seconds(1)
    /// Missed beats before a peer counts as lost (3 s): one lost packet or GC pause is tolerated.
    public static let liveness = 3
    /// Minimum stall window: a job whose step counter does not advance this long is hung. 60 s
    /// covers a cell's evaluation phase (a full pass over 70,000 images without steps).
    public static let stallWindowMinimum = Duration.seconds(60)
    /// The stall window is max(minimum, factor × median step time), so slow cells are never killed.
    public static let stallStepFactor = 10
    /// Attempts per job after expiries or transient failures; then the job is failed with its reason.
    public static let retryLimit = 3
    /// After a coordinator restart, journaled running leases wait this long for their worker (a
    /// few heartbeats plus one reconnect backoff step) before they are re-queued.
    public static let readoptGrace = Duration.seconds(10)
    /// Worker reconnect backoff: first wait, doubled per failure up to the maximum.
    public static let reconnectInitial = Duration.seconds(1)
    public static let reconnectMaximum = Duration.seconds(32)
    /// A RESULT without ACK is re-sent after this long (and after every reconnect).
    public static let resultResend = Duration.seconds(3)
}

extension Duration {
    /// Whole milliseconds (truncated toward zero): the unit the wire and the command line write.
    public var inMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}

/// The command frame (frame 1) of a message.
public enum Command: String, CaseIterable, Sendable, Codable {
    case ready = "READY"
    case welcome = "WELCOME"
    case refuse = "REFUSE"
    case heartbeat = "HEARTBEAT"
    case job = "JOB"
    case result = "RESULT"
    case ack = "ACK"
    case cancel = "CANCEL"
    case status = "STATUS"
    case statusReply = "STATUS-REPLY"
    case error = "ERROR"
    case bye = "BYE"
}

/// JSON format tags of records the protocol carries or stores.
public enum FormatTag {
    /// A grid spec (canonical JSON).
    public static let grid = "thermosweep-grid/1"
    /// The result of a measure job: Thermometer's `CellResult.currentFormat`.
    public static let cell = "thermosweep-cell/1"
    /// The result of a warm-start job (a summary; the checkpoint travels as its own frame).
    public static let warmStart = "thermosweep-warm/1"
    /// The result of a trivial job.
    public static let trivial = "thermosweep-trivial/1"
}
