// One zmq socket, owned by a final class that closes it in deinit.
//
// Why a final class and not a `~Copyable` struct: a socket must be referenced by poll items
// (`[PollItem]`), by a monitor and by the ZAP authenticator while its owner keeps using it, and
// Swift 6.3's standard library has no growable array of non-copyable values, nor can a borrowed
// non-copyable value be stored. With a `~Copyable` Socket, poll items would have to carry the raw
// `void *` handle, which could outlive the socket (use after close = ENOTSOCK at best). A class
// gives the same "closes itself exactly once" guarantee through `deinit`, keeps the handle alive
// as long as a poll item or monitor refers to it, and keeps its context alive too.
// The class is deliberately not Sendable: libzmq sockets must be used by one thread at a time, so
// the compiler stops a socket from being shared across concurrency domains.
import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The zmq socket patterns this project uses.
public enum SocketType: Sendable, CustomStringConvertible {
    case router, dealer, req, rep, pair, pub, sub, push, pull
    /// Raw TCP (ZMQ_STREAM): frames are [connection id, bytes]; tests use it to play a broken or
    /// silent ZMTP peer.
    case stream

    var rawValue: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .stream: ZMQ_STREAM
        }
    }

    public var description: String {
        switch self {
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .req: "REQ"
        case .rep: "REP"
        case .pair: "PAIR"
        case .pub: "PUB"
        case .sub: "SUB"
        case .push: "PUSH"
        case .pull: "PULL"
        case .stream: "STREAM"
        }
    }
}

/// One zmq socket; closed in `deinit` (or by `close()`), created with LINGER 0.
public final class Socket {
    /// The context this socket belongs to (kept alive by the socket).
    public let context: Context
    /// The socket pattern.
    public let type: SocketType
    private var rawHandle: UnsafeMutableRawPointer?

    /// Creates a socket of `type` in `context`, with LINGER 0 so that closing never waits for
    /// unsent messages (the protocol above re-sends what was not acknowledged).
    public init(_ context: Context, _ type: SocketType) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw lastZMQError("zmq_socket(\(type))")
        }
        // LINGER before the properties are set: a throw after that would run deinit (a second close).
        var zero: Int32 = 0
        if zmq_setsockopt(handle, ZMQ_LINGER, &zero, MemoryLayout<Int32>.size) != 0 {
            let error = lastZMQError("zmq_setsockopt(\(type), ZMQ_LINGER, 0)")
            _ = zmq_close(handle)
            throw error
        }
        self.context = context
        self.type = type
        self.rawHandle = handle
    }

    /// The live handle; using a socket after `close()` is a bug.
    var handle: UnsafeMutableRawPointer {
        guard let rawHandle else {
            preconditionFailure("ZeroMQ: \(type) socket used after close()")
        }
        return rawHandle
    }

    /// Whether `close()` was called.
    public var isClosed: Bool { rawHandle == nil }

    /// Closes the socket now (idempotent); `deinit` does the same.
    public func close() {
        if let rawHandle {
            // A monitor ends with its socket, not after it (see `SocketMonitor.stop()`); with none
            // this is a no-op.
            _ = zmq_socket_monitor(rawHandle, nil, 0)
            // zmq_close fails only with ENOTSOCK, impossible for a handle we own.
            _ = zmq_close(rawHandle)
            self.rawHandle = nil
        }
    }

    deinit {
        close()
    }

    // MARK: Endpoints

    /// Binds to `endpoint` and returns the real endpoint (ZMQ_LAST_ENDPOINT), so that
    /// `tcp://127.0.0.1:*` comes back with the port the kernel chose.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        if zmq_bind(handle, endpoint) != 0 {
            throw lastZMQError("zmq_bind(\(endpoint))")
        }
        return try get(.lastEndpoint)
    }

    /// Connects to `endpoint` (asynchronously: the connection is made and remade in the background).
    public func connect(_ endpoint: String) throws {
        if zmq_connect(handle, endpoint) != 0 {
            throw lastZMQError("zmq_connect(\(endpoint))")
        }
    }

    /// Undoes `connect(endpoint)`; ENOENT if it was not connected.
    public func disconnect(_ endpoint: String) throws {
        if zmq_disconnect(handle, endpoint) != 0 {
            throw lastZMQError("zmq_disconnect(\(endpoint))")
        }
    }

    /// Undoes `bind`; pass the endpoint `bind` returned (a wildcard is not accepted by libzmq).
    public func unbind(_ endpoint: String) throws {
        if zmq_unbind(handle, endpoint) != 0 {
            throw lastZMQError("zmq_unbind(\(endpoint))")
        }
    }

    // MARK: Messages

    /// Sends one message made of `frames` (all parts or none are delivered).
    ///
    /// Returns false when the message could not be queued now: with `dontWait`, or when a send
    /// timeout (ZMQ_SNDTIMEO) expired, or for a ROUTER_MANDATORY ROUTER whose peer is at its
    /// high-water mark. Throws EHOSTUNREACH for a ROUTER_MANDATORY send to an unknown routing id.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        precondition(!frames.isEmpty, "ZeroMQ: a message has at least one frame")
        let wait: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        for (index, frame) in frames.enumerated() {
            let more: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            // Only the first frame can be refused for lack of room: once it is queued, libzmq
            // accepts the remaining frames of the message (the high-water mark counts messages).
            let sent = try sendFrame(frame, flags: (index == 0 ? wait : 0) | more)
            if !sent {
                precondition(index == 0, "ZeroMQ: frame \(index) of a message was refused after the first was queued")
                return false
            }
        }
        return true
    }

    /// Sends one frame (zmq_send); false on EAGAIN, retries EINTR.
    private func sendFrame(_ frame: [UInt8], flags: Int32) throws -> Bool {
        while true {
            let result = frame.withUnsafeBytes { bytes in
                zmq_send(handle, bytes.baseAddress, bytes.count, flags)
            }
            if result >= 0 { return true }
            let error = lastZMQError("zmq_send(\(type), \(frame.count) bytes)")
            switch error.code {
            case .interrupted: continue
            case .wouldBlock: return false
            default: throw error
            }
        }
    }

    /// Receives one whole message (all its frames); nil when none is waiting (`dontWait`) or the
    /// receive timeout (ZMQ_RCVTIMEO) expired.
    public func receive(dontWait: Bool = false) throws -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        // zmq_msg_init cannot fail.
        _ = zmq_msg_init(&message)
        defer { _ = zmq_msg_close(&message) }
        var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        while true {
            let result = zmq_msg_recv(&message, handle, flags)
            if result < 0 {
                let error = lastZMQError("zmq_msg_recv(\(type))")
                switch error.code {
                case .interrupted: continue
                case .wouldBlock where frames.isEmpty: return nil
                default: throw error
                }
            }
            let count = zmq_msg_size(&message)
            if count == 0 {
                frames.append([])
            } else {
                let data = zmq_msg_data(&message).assumingMemoryBound(to: UInt8.self)
                frames.append(Array(UnsafeBufferPointer(start: data, count: count)))
            }
            if zmq_msg_more(&message) == 0 { return frames }
            // The rest of a message is always there once its first frame arrived.
            flags = 0
        }
    }

    /// Sends a message of UTF-8 string frames.
    @discardableResult
    public func send(strings: [String], dontWait: Bool = false) throws -> Bool {
        try send(strings.map { Array($0.utf8) }, dontWait: dontWait)
    }

    // MARK: Readiness

    /// ZMQ_EVENTS: whether a message can be received / sent now without blocking.
    public var events: PollEvents {
        get throws { try get(.events) }
    }
}

extension Socket: CustomStringConvertible {
    public var description: String {
        "\(type) socket\(isClosed ? " (closed)" : "")"
    }
}
