// Sockets close themselves; a context terminates as soon as its sockets are gone.
import Foundation
import TestSupport
import Testing
import ZeroMQ

@Suite(.ownThread) struct LifecycleTests {
    @Test func socketsCloseInDeinitAndTheContextTerminatesPromptly() throws {
        weak var weakContext: Context?
        let start = ContinuousClock.now
        do {
            let context = try Context()
            weakContext = context
            let router = try Socket(context, .router)
            let endpoint = try router.bind("tcp://127.0.0.1:*")
            let dealer = try Socket(context, .dealer)
            try dealer.connect(endpoint)
            // Unsent and unread messages must not hold up termination (LINGER 0).
            for _ in 0..<100 { try dealer.send([Array(repeating: 0, count: 1000)]) }
            let peer = try Socket(context, .dealer)
            try peer.connect("tcp://127.0.0.1:1") // never answers: its queue stays full
            try peer.send([bytes("stuck")], dontWait: true)
            #expect(try router.get(.linger) == .zero)
        }
        #expect(weakContext == nil)
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func droppedSocketsAreClosed() throws {
        // With a limit of 16 sockets, a second batch of 16 fits only if the first was closed.
        // libzmq frees a closed socket's slot on its reaper thread, so the second batch may have
        // to wait a moment (bounded).
        let context = try Context(maxSockets: 16)
        var sockets: [Socket] = []
        for index in 0..<16 { sockets.append(try Socket(context, index.isMultiple(of: 2) ? .dealer : .router)) }
        #expect(throws: ZMQError.Code.tooManyOpenFiles.error(in: "zmq_socket(PAIR)")) {
            _ = try Socket(context, .pair)
        }
        sockets.removeAll()
        let deadline = ContinuousClock.now + .seconds(3)
        while sockets.count < 16, ContinuousClock.now < deadline {
            do {
                sockets.append(try Socket(context, .pair))
            } catch ZMQError.Code.tooManyOpenFiles {
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
        #expect(sockets.count == 16)
    }

    @Test func socketsKeepTheirContextAlive() throws {
        weak var weakContext: Context?
        var socket: Socket?
        do {
            let context = try Context()
            weakContext = context
            socket = try Socket(context, .dealer)
        }
        #expect(weakContext != nil)
        socket?.close()
        #expect(socket?.isClosed == true)
        socket = nil
        #expect(weakContext == nil)
    }

    @Test func shutdownWakesABlockedReceiveWithETERM() throws {
        let context = try Context()
        let result = Mutex<String>("")
        let done = spawn {
            do {
                let socket = try Socket(context, .pull)
                // A bound on the wait in case shutdown did not work.
                try socket.set(.receiveTimeout, .seconds(5))
                _ = try socket.receive()
                result.set("returned without error")
            } catch ZMQError.Code.contextTerminated {
                result.set("ETERM")
            } catch {
                result.set("\(error)")
            }
        }
        Thread.sleep(forTimeInterval: 0.05)
        context.shutdown()
        #expect(done.wait(timeout: .now() + 3) == .success)
        #expect(result.get() == "ETERM")
    }

    @Test func contextOptions() throws {
        let context = try Context(ioThreads: 2, maxSockets: 2048)
        #expect(context.ioThreads == 2)
        #expect(context.maxSockets == 2048)
        #expect(context.socketLimit >= 2048)
        #expect(zmqVersion().major == 4)
        #expect(zmqHas("curve"))
        let error = try #require(throws: ZMQError.self) { _ = try Context(ioThreads: -1) }
        #expect(error.code == .invalidArgument)
        #expect(error.operation == "zmq_ctx_set(ZMQ_IO_THREADS, -1)")
    }

    @Test func maxSocketsLimitsSocketsNotPeers() throws {
        let context = try Context(maxSockets: 3)
        let router = try Socket(context, .router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        // A second context plays the peers: ten DEALERs connect to one ROUTER.
        let peers = try Context(maxSockets: 20)
        var dealers: [Socket] = []
        for index in 0..<10 {
            let dealer = try connectDealer(peers, id: "d\(index)", to: endpoint)
            try dealer.send([bytes("hi")])
            dealers.append(dealer)
        }
        var seen = Set<[UInt8]>()
        let deadline = ContinuousClock.now + .seconds(3)
        while seen.count < 10, ContinuousClock.now < deadline {
            if let message = try receive(router, within: .milliseconds(200)) { seen.insert(message[0]) }
        }
        #expect(seen.count == 10)
        // The socket limit itself: three sockets fit, the fourth is refused with EMFILE.
        let second = try Socket(context, .pair)
        let third = try Socket(context, .pair)
        #expect(throws: ZMQError.self) { _ = try Socket(context, .pair) }
        withExtendedLifetime((second, third)) {}
    }
}

/// A tiny lock for test results written by another thread.
final class Mutex<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}
