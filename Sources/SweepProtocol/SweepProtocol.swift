// The wire contract between coordinator and workers: every name and number of PROTOCOL.md, in one
// place. Change the two together; a change of frames or bodies bumps `versionTag`.

/// Frame layout, sizes and socket settings of protocol `TSW3` (PROTOCOL.md, "Transport", "Frames").
public enum Wire {
    /// Frame 0 of every message. Bumped whenever a frame or body changes shape.
    public static let versionTag = "TSW3"
    /// `ZMQ_MAXMSGSIZE` in bytes: above the largest checkpoint (cnn-32-64, 225,034 floats as JSON
    /// ≈ 3 MB) with room to spare; a larger frame cuts the sender off inside libzmq.
    public static let maxMessageSize = 64 << 20
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
    /// `ZMQ_LINGER` in ms: a closing socket drops unsent messages; every message is re-sent until
    /// acknowledged anyway, so waiting would only delay exit.
    public static let lingerMs = 0
    /// `ZMQ_ROUTER_MANDATORY`: a send to an unknown or gone peer fails instead of vanishing.
    public static let routerMandatory = true
    /// `ZMQ_HEARTBEAT_IVL`, `_TIMEOUT`, `_TTL` in ms: connection-level liveness (ZMTP pings),
    /// aligned with the application's 1 s heartbeat and 3-beat liveness.
    public static let zmtpHeartbeatIntervalMs = 1_000
    public static let zmtpHeartbeatTimeoutMs = 3_000
    public static let zmtpHeartbeatTTLMs = 3_000
    /// Routing id of a worker or status client: "host/pid/nonce" (nonce: 8 hex digits per process),
    /// so a restarted process is a new peer.
    public static func routingID(host: String, pid: Int, nonce: String) -> String {
        "\(host)/\(pid)/\(nonce)"
    }

    /// A new per-process nonce: 8 random lowercase hex digits.
    public static func nonce() -> String {
        let hex = String(UInt32.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// Default timing (PROTOCOL.md, "Timing"). All are configurable; the coordinator sends the values
/// in force in WELCOME.
public enum TimingDefaults {
    /// Heartbeat period in ms, both directions: short enough to notice a dead peer in seconds,
    /// long enough that hundreds of workers cost the coordinator nothing.
    public static let heartbeatMs = 1_000
    /// Missed beats before a peer counts as lost (3 s): one lost packet or GC pause is tolerated.
    public static let liveness = 3
    /// Minimum stall window in ms: a job whose step counter does not advance this long is hung.
    /// 60 s covers a cell's evaluation phase (a full pass over 70,000 images without steps).
    public static let stallWindowMinimumMs = 60_000
    /// The stall window is max(minimum, factor × median step time), so slow cells are never killed.
    public static let stallStepFactor = 10
    /// Attempts per job after expiries or transient failures; then the job is failed with its reason.
    public static let retryLimit = 3
    /// After a coordinator restart, journaled running leases wait this long in ms for their worker
    /// (a few heartbeats plus one reconnect backoff step) before they are re-queued.
    public static let readoptGraceMs = 10_000
    /// Worker reconnect backoff in ms: first wait, doubled per failure up to the maximum.
    public static let reconnectInitialMs = 1_000
    public static let reconnectMaximumMs = 32_000
    /// A RESULT without ACK is re-sent after this many ms (and after every reconnect).
    public static let resultResendMs = 3_000
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
