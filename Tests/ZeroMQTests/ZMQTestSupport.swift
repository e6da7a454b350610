// Shared helpers: bounded waits only (poll with a timeout, then a non-blocking receive).
import Foundation
import Testing
import ZeroMQ

/// Receives one message from `socket`, waiting at most `timeout`.
func receive(_ socket: Socket, within timeout: Duration = .seconds(3)) throws -> [[UInt8]]? {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if let message = try socket.receive(dontWait: true) { return message }
        _ = try socket.poll(.readable, timeout: min(.milliseconds(50), deadline - clock.now))
    }
    return try socket.receive(dontWait: true)
}

/// Every message that arrives on `socket` within `window`.
func collect(_ socket: Socket, for window: Duration) throws -> [[[UInt8]]] {
    let clock = ContinuousClock()
    let deadline = clock.now + window
    var messages: [[[UInt8]]] = []
    while clock.now < deadline {
        while let message = try socket.receive(dontWait: true) { messages.append(message) }
        _ = try socket.poll(.readable, timeout: min(.milliseconds(20), max(.zero, deadline - clock.now)))
    }
    while let message = try socket.receive(dontWait: true) { messages.append(message) }
    return messages
}

/// Runs `body` on a new thread; returns a semaphore signalled when it ends.
func spawn(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.start()
    return done
}

/// A DEALER with routing id `id`, connected to `endpoint`.
func connectDealer(_ context: Context, id: String, to endpoint: String) throws -> Socket {
    let socket = try Socket(context, .dealer)
    try socket.set(.routingID, bytes(id))
    try socket.connect(endpoint)
    return socket
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// A fresh temporary folder for ipc:// endpoints, removed by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        // Short path: ipc:// paths are limited to about 107 bytes.
        url = URL(fileURLWithPath: "/tmp/zmqt-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func endpoint(_ name: String) -> String { "ipc://\(url.path)/\(name)" }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
