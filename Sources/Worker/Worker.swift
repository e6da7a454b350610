// A worker's identity and timing (PROTOCOL.md, "Conversation" and "Timing"), and how it ends.
import Cell
import Foundation
import SweepProtocol
import ZeroMQ

/// Everything a worker needs to know before it connects.
public struct WorkerConfig: Sendable {
    /// The coordinator's endpoint (`tcp://host:port` or `ipc://path`).
    public var endpoint: String
    /// Display name, e.g. `node-3/2`.
    public var name: String
    /// Jobs run at once (one thread each).
    public var slots: Int
    /// HEARTBEAT period until WELCOME says otherwise.
    public var heartbeatInterval: Duration
    /// Missed coordinator beats before the coordinator counts as lost.
    public var liveness: Int
    /// First wait before reconnecting after a loss; doubled per loss up to `reconnectMaximum`.
    public var reconnectInitial: Duration
    public var reconnectMaximum: Duration
    /// A RESULT without ACK is re-sent this often.
    public var resultResend: Duration
    /// Local workers (`--local-workers`) exit when the coordinator is lost instead of reconnecting.
    public var exitOnCoordinatorLoss: Bool
    /// Binary version, compared by the coordinator.
    public var version: String
    /// The CPU the binary was compiled for.
    public var buildCPU: String
    public var cpuFeatures: [String]
    /// Data sets this worker has loaded: (name, content hash).
    public var datasets: [DatasetOffer]
    public var host: String
    public var pid: Int
    /// Per-process nonce (8 hex digits), part of the routing id.
    public var nonce: String
    public var cores: Int
    /// CURVE: the coordinator's public key and this worker's key pair; nil for a plain connection.
    public var curve: WorkerCurve?
    /// Where the loop reports what it does (stderr by default).
    public var log: @Sendable (String) -> Void
    /// Report only problems: no line per job or admission (local workers, whose coordinator
    /// already logs each job).
    public var quiet = false

    public init(endpoint: String, name: String, slots: Int = 1,
                heartbeatInterval: Duration = TimingDefaults.heartbeat,
                liveness: Int = TimingDefaults.liveness,
                reconnectInitial: Duration = TimingDefaults.reconnectInitial,
                reconnectMaximum: Duration = TimingDefaults.reconnectMaximum,
                resultResend: Duration = TimingDefaults.resultResend,
                exitOnCoordinatorLoss: Bool = false, version: String, buildCPU: String,
                cpuFeatures: [String] = [], datasets: [DatasetOffer],
                host: String = ProcessInfo.processInfo.hostName,
                pid: Int = Int(ProcessInfo.processInfo.processIdentifier),
                nonce: String = Wire.nonce(),
                cores: Int = ProcessInfo.processInfo.activeProcessorCount,
                curve: WorkerCurve? = nil,
                log: (@Sendable (String) -> Void)? = nil) {
        self.endpoint = endpoint
        self.name = name
        self.slots = slots
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.reconnectInitial = reconnectInitial
        self.reconnectMaximum = reconnectMaximum
        self.resultResend = resultResend
        self.exitOnCoordinatorLoss = exitOnCoordinatorLoss
        self.version = version
        self.buildCPU = buildCPU
        self.cpuFeatures = cpuFeatures
        self.datasets = datasets
        self.host = host
        self.pid = pid
        self.nonce = nonce
        self.cores = cores
        self.curve = curve
        self.log = log ?? WorkerConfig.standardErrorLog(name: name)
    }

    /// Writes each line to standard error after the local time and the worker's name
    /// (`14:03:07 worker node-3/1: …`), in one write (so lines of workers sharing a pipe stay whole).
    public static func standardErrorLog(name: String) -> @Sendable (String) -> Void {
        { line in FileHandle.standardError.write(Data("\(LocalClock.now()) worker \(name): \(line)\n".utf8)) }
    }

    /// `host/pid/nonce`: the DEALER's routing id.
    public var routingID: String { Wire.routingID(host: host, pid: pid, nonce: nonce) }

    /// The READY body, listing the leases still held.
    func ready(holding running: [JobRef]) -> Ready {
        Ready(name: name, host: host, pid: pid, nonce: nonce, cores: max(1, cores), cpuFeatures: cpuFeatures,
              buildCPU: buildCPU, version: version, datasets: datasets, slots: slots, running: running)
    }
}

/// A worker's CURVE settings: whom it talks to and who it is.
public struct WorkerCurve: Sendable {
    public var serverKey: CurvePublicKey
    public var keys: CurveKeyPair

    public init(serverKey: CurvePublicKey, keys: CurveKeyPair) {
        self.serverKey = serverKey
        self.keys = keys
    }
}

/// Why `WorkerLoop.run()` returned.
public enum WorkerExit: Sendable, Equatable {
    /// The coordinator refused this worker (version, data set, CPU…); the message names both sides.
    case refused(RefuseReason, String)
    /// The coordinator's CURVE handshake refused this worker's key (its ZAP handler said no).
    case unauthorized(String)
    /// The coordinator said BYE: the sweep is over.
    case bye(String)
    /// The coordinator went silent and `exitOnCoordinatorLoss` is set.
    case coordinatorLost
    /// `stop()` was called; the worker said BYE.
    case stopped
    /// The socket could not be set up or used.
    case failed(String)

    /// The process exit status: 2 for a refusal (PROTOCOL.md), 1 for a failure or loss, else 0.
    public var exitStatus: Int32 {
        switch self {
        case .refused, .unauthorized: return 2
        case .coordinatorLost, .failed: return 1
        case .bye, .stopped: return 0
        }
    }
}
