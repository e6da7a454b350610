// Connection events of one socket (zmq_socket_monitor over an inproc PAIR socket).
//
// Useful on the coordinator's ROUTER to log connects, disconnects and refused handshakes
// (`.handshakeFailedAuth` after a ZAP refusal, `.handshakeFailedProtocol` for a client without
// CURVE). Limits of libzmq 4.3 without the draft API: the event's endpoint is the *local*
// endpoint for connections accepted by a bound socket (e.g. "tcp://127.0.0.1:5555"), not the
// peer's address, and events carry no routing id. The peer address of a CURVE client is in the
// ZAP request (`ZAPDecision.address`); which worker went away is the scheduler's business
// (application heartbeats), not this monitor's.
import CZeroMQ
import Synchronization

/// Numbers each monitor's inproc endpoint: a socket's handle alone is not unique over time (a new
/// socket can get a closed one's address, and a monitor endpoint named after it then reports
/// nothing).
private let monitorSerial = Atomic<UInt64>(0)

/// Kinds of socket events (ZMQ_EVENT_*), usable as a mask.
public struct SocketEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let connected = SocketEvents(rawValue: ZMQ_EVENT_CONNECTED)
    public static let connectDelayed = SocketEvents(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
    public static let connectRetried = SocketEvents(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
    public static let listening = SocketEvents(rawValue: ZMQ_EVENT_LISTENING)
    public static let bindFailed = SocketEvents(rawValue: ZMQ_EVENT_BIND_FAILED)
    public static let accepted = SocketEvents(rawValue: ZMQ_EVENT_ACCEPTED)
    public static let acceptFailed = SocketEvents(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
    public static let closed = SocketEvents(rawValue: ZMQ_EVENT_CLOSED)
    public static let closeFailed = SocketEvents(rawValue: ZMQ_EVENT_CLOSE_FAILED)
    public static let disconnected = SocketEvents(rawValue: ZMQ_EVENT_DISCONNECTED)
    public static let monitorStopped = SocketEvents(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
    public static let handshakeFailedNoDetail = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    public static let handshakeSucceeded = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    public static let handshakeFailedProtocol = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    public static let handshakeFailedAuth = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    /// Every event of the stable API.
    public static let all = SocketEvents(rawValue: ZMQ_EVENT_ALL)
    /// Any failed handshake.
    public static let handshakeFailed: SocketEvents = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]

    private static let names: [(SocketEvents, String)] = [
        (.connected, "connected"), (.connectDelayed, "connect delayed"),
        (.connectRetried, "connect retried"), (.listening, "listening"),
        (.bindFailed, "bind failed"), (.accepted, "accepted"), (.acceptFailed, "accept failed"),
        (.closed, "closed"), (.closeFailed, "close failed"), (.disconnected, "disconnected"),
        (.monitorStopped, "monitor stopped"), (.handshakeFailedNoDetail, "handshake failed"),
        (.handshakeSucceeded, "handshake succeeded"),
        (.handshakeFailedProtocol, "handshake failed (protocol)"),
        (.handshakeFailedAuth, "handshake failed (authentication)"),
    ]

    public var description: String {
        let parts = Self.names.filter { contains($0.0) }.map(\.1)
        return parts.isEmpty ? "event 0x\(String(rawValue, radix: 16))" : parts.joined(separator: ", ")
    }
}

/// One event from a `SocketMonitor`.
public struct MonitorEvent: Sendable, CustomStringConvertible {
    /// What happened (one flag).
    public let event: SocketEvents
    /// Event value: the fd for connect/accept/disconnect, the errno for failures, the ZAP status
    /// code for `.handshakeFailedAuth`, a ZMQ_PROTOCOL_ERROR_* code for `.handshakeFailedProtocol`.
    public let value: UInt32
    /// The endpoint (the local one for connections accepted by a bound socket).
    public let endpoint: String

    public var description: String { "\(event) on \(endpoint) (value \(value))" }

    /// A handshake that failed because one side uses CURVE and the other does not.
    public var isMechanismMismatch: Bool {
        event == .handshakeFailedProtocol && value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
    }
}

/// Receives connection events of one socket; pumped from the owner's poll loop.
public final class SocketMonitor {
    /// The socket being watched (kept alive by the monitor).
    public let monitored: Socket
    /// The PAIR socket that receives the events.
    public let socket: Socket

    /// Starts monitoring `monitored` for `events` (replaces any earlier monitor of that socket).
    public init(_ monitored: Socket, events: SocketEvents = .all) throws {
        let serial = monitorSerial.add(1, ordering: .relaxed).newValue
        let endpoint = "inproc://zeromq.monitor.\(UInt(bitPattern: monitored.handle)).\(serial)"
        if zmq_socket_monitor(monitored.handle, endpoint, events.rawValue) != 0 {
            throw lastZMQError("zmq_socket_monitor(\(endpoint))")
        }
        self.monitored = monitored
        do {
            socket = try Socket(monitored.context, .pair)
            try socket.connect(endpoint)
        } catch {
            _ = zmq_socket_monitor(monitored.handle, nil, 0)
            throw error
        }
    }

    /// Stops the events and closes the receiving socket. libzmq sends events with a blocking send:
    /// a monitored socket that lingers after `close()` (reconnecting, failing handshakes) while no
    /// one reads its monitor blocks the context's I/O thread, and with it every other socket of the
    /// context. So the events must end first; `Socket.close()` ends them too. It stops whichever
    /// monitor the socket has now: drop an old `SocketMonitor` before attaching a new one.
    public func stop() {
        if !monitored.isClosed {
            _ = zmq_socket_monitor(monitored.handle, nil, 0)
        }
        socket.close()
    }

    deinit {
        stop()
    }

    /// The item to add to the owner's poll.
    public var pollItem: PollItem { socket.pollItem(.readable) }

    /// The next event, or nil if none is waiting.
    public func next() throws -> MonitorEvent? {
        guard let frames = try socket.receive(dontWait: true) else { return nil }
        // Frame 1: uint16 event, uint32 value in host order; frame 2: the endpoint.
        guard frames.count == 2, frames[0].count == 6 else {
            preconditionFailure("ZeroMQ: unexpected monitor message of \(frames.count) frames")
        }
        let header = frames[0]
        let event = UInt16(header[0]) | UInt16(header[1]) << 8
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(header[2 + i]) << (8 * i) }
        // Host order: every platform Swift runs this project on is little-endian.
        return MonitorEvent(event: SocketEvents(rawValue: Int32(event)), value: value,
                            endpoint: String(decoding: frames[1], as: UTF8.self))
    }

    /// Every event waiting now.
    public func drain() throws -> [MonitorEvent] {
        var events: [MonitorEvent] = []
        while let event = try next() { events.append(event) }
        return events
    }
}
