// ZMTP heartbeats: a ROUTER drops a peer that stops answering PINGs, and keeps a live one.
import Foundation
import TestSupport
import Testing
import ZeroMQ

@Suite(.ownThread) struct HeartbeatTests {
    /// ZMTP 3.1 greeting for the NULL mechanism, as a client (RFC 23 / 37): 64 bytes.
    static let greeting: [UInt8] = [0xFF] + [UInt8](repeating: 0, count: 8) + [0x7F, 3, 1]
        + Array("NULL".utf8) + [UInt8](repeating: 0, count: 16) + [0] + [UInt8](repeating: 0, count: 31)

    /// READY command with Socket-Type DEALER: flags 0x04 (short command), size, body.
    static let ready: [UInt8] = {
        let body: [UInt8] = [5] + Array("READY".utf8) + [11] + Array("Socket-Type".utf8)
            + [0, 0, 0, 6] + Array("DEALER".utf8)
        return [0x04, UInt8(body.count)] + body
    }()

    @Test func routerDropsASilentPeerAndKeepsALiveOne() throws {
        #expect(Self.greeting.count == 64)
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.heartbeatInterval, .milliseconds(100))
        try router.set(.heartbeatTimeout, .milliseconds(300))
        try router.set(.routerMandatory, true)
        let monitor = try SocketMonitor(router, events: [.handshakeSucceeded, .disconnected])
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        // A live DEALER: libzmq's I/O thread answers every PING.
        let live = try connectDealer(context, id: "live", to: endpoint)
        try live.send([bytes("hello")])
        #expect(try receive(router) == [bytes("live"), bytes("hello")])

        // A raw TCP peer that completes the ZMTP handshake, then never answers a PING.
        let silent = try Socket(context, .stream)
        try silent.connect(endpoint)
        let connectNotice = try #require(try receive(silent)) // [connection id, empty]
        try silent.send([connectNotice[0], Self.greeting + Self.ready])

        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3)
        var handshakes = 0
        var succeededAt: ContinuousClock.Instant?
        var disconnectedAt: ContinuousClock.Instant?
        while disconnectedAt == nil, clock.now < deadline {
            _ = try poll([monitor.pollItem, silent.pollItem()], timeout: .milliseconds(20))
            _ = try silent.receive(dontWait: true) // the ROUTER's greeting and PINGs: ignored
            for event in try monitor.drain() {
                if event.event == .handshakeSucceeded {
                    handshakes += 1
                    if handshakes == 2 { succeededAt = clock.now }
                }
                if event.event == .disconnected {
                    disconnectedAt = clock.now
                    // libzmq 4.3 reports the local (bound) endpoint, not the peer's address.
                    #expect(event.endpoint == endpoint)
                }
            }
        }
        let start = try #require(succeededAt)
        let end = try #require(disconnectedAt)
        // PING after 100 ms, no answer within 300 ms: dropped at about 400 ms.
        #expect(end - start >= .milliseconds(250))
        #expect(end - start < .seconds(2))

        // The live peer is still there.
        try router.send([bytes("live"), bytes("still here")])
        #expect(try receive(live) == [bytes("still here")])
        #expect(try monitor.drain().filter { $0.event == .disconnected }.isEmpty)
    }
}
