// ROUTER <-> DEALER messaging, poll, and the ROUTER options the coordinator relies on.
import Foundation
import TestSupport
import Testing
import ZeroMQ

@Suite(.ownThread) struct RoundTripTests {
    /// DEALER -> ROUTER -> DEALER with a multipart message; the ROUTER sees the identity first.
    func roundTrip(bind endpoint: String) throws {
        let context = try Context()
        let router = try Socket(context, .router)
        let real = try router.bind(endpoint)
        #expect(!real.contains("*"))
        let dealer = try connectDealer(context, id: "worker-1", to: real)

        #expect(try dealer.send([bytes("READY"), [], bytes("payload"), [0, 255]]))
        let request = try #require(try receive(router))
        #expect(request == [bytes("worker-1"), bytes("READY"), [], bytes("payload"), [0, 255]])

        #expect(try router.send([request[0], bytes("JOB"), Array(repeating: 7, count: 100_000)]))
        let reply = try #require(try receive(dealer))
        #expect(reply.count == 2)
        #expect(reply[0] == bytes("JOB"))
        #expect(reply[1] == Array(repeating: 7, count: 100_000))
    }

    @Test func routerDealerRoundTripOverTCP() throws {
        try roundTrip(bind: "tcp://127.0.0.1:*")
    }

    @Test func routerDealerRoundTripOverIPC() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try roundTrip(bind: folder.endpoint("router.sock"))
    }

    @Test func bindReturnsTheRealPort() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        #expect(port > 0)
        try router.unbind(endpoint)
        #expect(throws: ZMQError(code: .noSuchEndpoint, operation: "zmq_unbind(\(endpoint))")) {
            try router.unbind(endpoint)
        }
    }

    @Test func dontWaitReceiveReturnsNilWhenEmpty() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        _ = try router.bind("tcp://127.0.0.1:*")
        #expect(try router.receive(dontWait: true) == nil)
        // A receive timeout gives nil too, after about that long.
        try router.set(.receiveTimeout, .milliseconds(30))
        let start = ContinuousClock.now
        #expect(try router.receive() == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(25))
    }

    @Test func pollTimesOutAndReportsWhichSocketIsReadable() throws {
        let context = try Context()
        let first = try Socket(context, .router)
        let second = try Socket(context, .router)
        _ = try first.bind("tcp://127.0.0.1:*")
        let secondEndpoint = try second.bind("tcp://127.0.0.1:*")
        let items = [first.pollItem(), second.pollItem()]

        let start = ContinuousClock.now
        let idle = try poll(items, timeout: .milliseconds(50))
        let waited = ContinuousClock.now - start
        #expect(idle == [[], []])
        #expect(waited >= .milliseconds(45))
        #expect(waited < .seconds(2))

        let dealer = try Socket(context, .dealer)
        try dealer.connect(secondEndpoint)
        try dealer.send([bytes("ping")])
        var ready: [PollEvents] = [[], []]
        let deadline = ContinuousClock.now + .seconds(3)
        while ready[1].isEmpty && ContinuousClock.now < deadline {
            ready = try poll(items, timeout: .milliseconds(100))
        }
        #expect(ready == [[], .readable])
        #expect(try second.events.contains(.readable))
        #expect(try second.receive(dontWait: true)?.last == bytes("ping"))
        #expect(try second.poll(timeout: .zero) == [])
        #expect(try dealer.poll(.writable, timeout: .zero) == .writable)
    }

    @Test func routerMandatoryRefusesUnknownIdentity() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.routerMandatory, true)
        _ = try router.bind("tcp://127.0.0.1:*")
        #expect(throws: ZMQError(code: .hostUnreachable, operation: "zmq_send(ROUTER, 6 bytes)")) {
            try router.send([bytes("nobody"), bytes("JOB")])
        }
        // The socket is still usable afterwards, and `catch Code` patterns work.
        do {
            try router.send([bytes("ghost"), bytes("JOB")], dontWait: true)
            Issue.record("send to an unknown identity should throw")
        } catch ZMQError.Code.hostUnreachable {
        }
    }

    @Test func routerHandoverGivesTheIdentityToTheNewPeer() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.routerHandover, true)
        try router.set(.routerMandatory, true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        let old = try connectDealer(context, id: "w1", to: endpoint)
        try old.send([bytes("from-old")])
        #expect(try receive(router) == [bytes("w1"), bytes("from-old")])

        let new = try connectDealer(context, id: "w1", to: endpoint)
        try new.send([bytes("from-new")])
        #expect(try receive(router) == [bytes("w1"), bytes("from-new")])

        try router.send([bytes("w1"), bytes("to-w1")])
        #expect(try receive(new) == [bytes("to-w1")])
        #expect(try collect(old, for: .milliseconds(100)).isEmpty)
    }

    @Test func maxMessageSizeCutsOffTheSenderOnly() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.maxMessageSize, 1000)
        #expect(try router.get(.maxMessageSize) == 1000)
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        let big = try connectDealer(context, id: "big", to: endpoint)
        let small = try connectDealer(context, id: "small", to: endpoint)

        let monitor = try SocketMonitor(router, events: .disconnected)
        try big.send([Array(repeating: 1, count: 2000)])
        try small.send([bytes("hello")])
        // Wait (bounded) until the big sender was cut off, collecting what the ROUTER receives.
        var received: [[[UInt8]]] = []
        var disconnects = 0
        let deadline = ContinuousClock.now + .seconds(3)
        while disconnects == 0 || received.isEmpty, ContinuousClock.now < deadline {
            _ = try poll([router.pollItem(), monitor.pollItem], timeout: .milliseconds(20))
            while let message = try router.receive(dontWait: true) { received.append(message) }
            disconnects += try monitor.drain().count
        }
        received += try collect(router, for: .milliseconds(50))
        #expect(disconnects >= 1)
        #expect(received == [[bytes("small"), bytes("hello")]])

        // Still usable for the well-behaved peer.
        try router.send([bytes("small"), bytes("ack")])
        #expect(try receive(small) == [bytes("ack")])
        try small.send([Array(repeating: 2, count: 1000)])
        #expect(try receive(router)?.last?.count == 1000)
    }

    @Test func stringsAndEmptyFrames() throws {
        let context = try Context()
        let pull = try Socket(context, .pair)
        let endpoint = "inproc://strings-\(UUID().uuidString)"
        try pull.bind(endpoint)
        let push = try Socket(context, .pair)
        try push.connect(endpoint)
        try push.send(strings: ["a", "", "ü"])
        #expect(try receive(pull) == [bytes("a"), [], bytes("ü")])
    }
}
