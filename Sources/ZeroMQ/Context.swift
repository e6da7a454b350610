// The libzmq context: owns the I/O threads and every socket made from it.
//
// The ZeroMQ module is the only Swift code in ThermoSweep that calls zmq_*. A coordinator loop
// built on it looks like this (one thread, every wait finite):
//
//     let context = try Context()
//     let zap = try ZAPAuthenticator(context: context, allowedKeys: keys) { log("\($0)") }
//     let router = try Socket(context, .router)
//     try router.set(.routerMandatory, true)
//     try router.set(.routerHandover, true)
//     try router.set(.maxMessageSize, limit)
//     try router.makeCurveServer(serverKeys, authenticatedBy: zap)
//     let endpoint = try router.bind("tcp://0.0.0.0:5555")
//     while running {
//         let ready = try poll([router.pollItem(), zap.pollItem], timeout: .milliseconds(100))
//         if ready[1].contains(.readable) { try zap.handlePending() }
//         while let frames = try router.receive(dontWait: true) { handle(frames) } // [id, ...]
//         // timers: leases, heartbeats
//     }
import CZeroMQ

/// A libzmq context (`zmq_ctx_new`); thread-safe, terminated when the last reference goes away.
///
/// Lifetime: `zmq_ctx_term` blocks until every socket of the context is closed. Each `Socket`
/// keeps a strong reference to its context, so the context's `deinit` runs only after all its
/// sockets are gone; with LINGER 0 (every socket here starts with it) termination is then
/// immediate, and a socket set to linger delays it at most that long.
/// A thread blocked in `receive()`/`send()` on some socket keeps that socket (and so the context)
/// alive: call `shutdown()` to make such calls throw `ETERM`, after which their owners close them.
///
/// Limits: `maxSockets` (ZMQ_MAX_SOCKETS, default 1023) counts *sockets* of this context, not
/// connections. One ROUTER with 500 connected DEALER peers is one socket; each peer costs one file
/// descriptor (the TCP connection) instead, so the process fd limit (`ulimit -n`) is what bounds
/// the number of workers a coordinator can hold. A test process that creates hundreds of DEALERs
/// in one context needs both a larger `maxSockets` and about three fds per DEALER (its mailbox
/// eventfd, its TCP connection and the ROUTER's accepted end).
public final class Context: @unchecked Sendable {
    // Safe to share: libzmq documents contexts as thread-safe; the pointer is never reassigned.
    let handle: UnsafeMutableRawPointer

    /// Creates a context; `ioThreads` (ZMQ_IO_THREADS, default 1, enough for about a gigabyte/s)
    /// and `maxSockets` (ZMQ_MAX_SOCKETS) must be set before any socket exists, so they are
    /// arguments here.
    public init(ioThreads: Int = 1, maxSockets: Int? = nil) throws {
        guard let handle = zmq_ctx_new() else {
            throw lastZMQError("zmq_ctx_new()")
        }
        // Options first: a throw after `self.handle` is set would run deinit (a second term).
        do {
            try Self.set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads), name: "ZMQ_IO_THREADS")
            if let maxSockets {
                try Self.set(handle, ZMQ_MAX_SOCKETS, Int32(clamping: maxSockets),
                             name: "ZMQ_MAX_SOCKETS")
            }
        } catch {
            _ = zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
    }

    private static func set(_ handle: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32,
                            name: String) throws {
        if zmq_ctx_set(handle, option, value) != 0 {
            throw lastZMQError("zmq_ctx_set(\(name), \(value))")
        }
    }

    private func contextOption(_ option: Int32, name: String) -> Int {
        // zmq_ctx_get fails only for an unknown option, which would be a bug here.
        let value = zmq_ctx_get(handle, option)
        precondition(value >= 0, "zmq_ctx_get(\(name)) failed: \(lastZMQError(name))")
        return Int(value)
    }

    /// ZMQ_IO_THREADS.
    public var ioThreads: Int { contextOption(ZMQ_IO_THREADS, name: "ZMQ_IO_THREADS") }
    /// ZMQ_MAX_SOCKETS: how many sockets this context may open (not how many peers).
    public var maxSockets: Int { contextOption(ZMQ_MAX_SOCKETS, name: "ZMQ_MAX_SOCKETS") }
    /// ZMQ_SOCKET_LIMIT: the largest `maxSockets` this libzmq build accepts.
    public var socketLimit: Int { contextOption(ZMQ_SOCKET_LIMIT, name: "ZMQ_SOCKET_LIMIT") }

    /// Makes every blocking call on this context's sockets return ETERM (from any thread);
    /// the sockets must still be closed, after which the context terminates.
    public func shutdown() {
        // Fails only with EFAULT for an invalid context, which cannot happen here.
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // Every socket holds a reference to self, so none is open here and this returns at once.
        while zmq_ctx_term(handle) != 0 {
            if zmq_errno() != EINTR { break }
        }
    }
}

/// The linked libzmq version, e.g. (4, 3, 4).
public func zmqVersion() -> (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}

/// Whether libzmq was built with a capability: "curve", "ipc", "tipc", "norm", "draft", ...
public func zmqHas(_ capability: String) -> Bool {
    zmq_has(capability) != 0
}
