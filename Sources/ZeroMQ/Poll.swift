// zmq_poll over several sockets, always with a finite timeout.
import CZeroMQ

/// Readiness flags of a socket (ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR).
public struct PollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// At least one whole message can be received without blocking.
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// At least one message can be sent without blocking.
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// One socket (or plain file descriptor) to poll and what to wait for.
public struct PollItem {
    /// The socket (kept alive by the item); nil for a file descriptor.
    public let socket: Socket?
    /// A plain file descriptor (e.g. a pipe another thread writes to wake the poller); -1 for a socket.
    public let fileDescriptor: Int32
    /// What to wait for.
    public let events: PollEvents

    public init(_ socket: Socket, _ events: PollEvents = .readable) {
        self.socket = socket
        fileDescriptor = -1
        self.events = events
    }

    /// Polls a file descriptor: `.readable` when a read would not block.
    public init(fileDescriptor: Int32, _ events: PollEvents = .readable) {
        socket = nil
        self.fileDescriptor = fileDescriptor
        self.events = events
    }
}

extension Socket {
    /// A poll item for this socket.
    public func pollItem(_ events: PollEvents = .readable) -> PollItem {
        PollItem(self, events)
    }
}

/// Waits until one of `items` is ready or `timeout` passes; returns, per item and in order, the
/// events that are ready (all empty after the timeout or when a signal interrupted the wait).
///
/// The timeout must be finite and not negative (a loop that polls must come back to check its
/// timers); it is rounded up to whole milliseconds so that a sub-millisecond wait does not spin.
public func poll(_ items: [PollItem], timeout: Duration) throws -> [PollEvents] {
    precondition(timeout >= .zero, "ZeroMQ.poll: the timeout must be finite and not negative; got \(timeout)")
    var (seconds, attoseconds) = timeout.components
    if attoseconds % 1_000_000_000_000_000 != 0 { attoseconds += 1_000_000_000_000_000 }
    seconds = min(seconds, Int64(Int32.max) / 1000)
    let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    var cItems = items.map {
        zmq_pollitem_t(socket: $0.socket?.handle, fd: $0.fileDescriptor, events: $0.events.rawValue, revents: 0)
    }
    let count = cItems.withUnsafeMutableBufferPointer {
        zmq_poll($0.baseAddress, Int32($0.count), Int(ms))
    }
    if count < 0 {
        let error = lastZMQError("zmq_poll(\(items.count) items, \(ms) ms)")
        if error.code == .interrupted {
            return Array(repeating: [], count: items.count)
        }
        throw error
    }
    // Keep the sockets alive until zmq_poll returned.
    withExtendedLifetime(items) {}
    return cItems.map { PollEvents(rawValue: $0.revents) }
}

extension Socket {
    /// Waits up to `timeout` for this one socket; returns the ready events (empty on timeout).
    public func poll(_ events: PollEvents = .readable, timeout: Duration) throws -> PollEvents {
        try ZeroMQ.poll([pollItem(events)], timeout: timeout)[0]
    }
}
