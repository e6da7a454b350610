// CURVE keys, and the ZAP authenticator admitting only allowed workers.
import TestSupport
import Testing
import ZeroMQ

@Suite struct CurveKeyTests {
    @Test func generatedKeysAreValidZ85AndThePublicKeyFollowsFromTheSecret() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.utf8.count == 40)
        #expect(try CurvePublicKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try CurveKeyPair.publicKey(fromSecret: pair.secretKey) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(try CurveKeyPair.generate() != pair)
        // The secret never shows in descriptions.
        #expect(!"\(pair.secretKey)".contains(pair.secretKey.z85))
    }

    @Test func knownKeyPair() throws {
        // Test vector from libzmq's tests (test_security_curve.cpp).
        let secret = try CurveSecretKey(z85: "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
        let expected = try CurvePublicKey(z85: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")
        #expect(try CurveKeyPair.publicKey(fromSecret: secret) == expected)
    }

    @Test func validationSaysWhatIsWrong() throws {
        let good = try CurveKeyPair.generate().publicKey.z85
        let short = String(good.dropLast())
        let shortError = try #require(throws: CurveKeyError.self) { try CurvePublicKey(z85: short) }
        #expect(shortError.description == "a CURVE public key is 40 Z85 characters; got 39: \"\(short)\"")
        let badCharacter = "~" + good.dropFirst()
        let error = try #require(throws: CurveKeyError.self) { try CurvePublicKey(z85: badCharacter) }
        #expect(error.description.contains("character '~' at offset 0 is not Z85"))
        // A secret key's text is not repeated in its error.
        let secretError = try #require(throws: CurveKeyError.self) { try CurveSecretKey(z85: "short-secret") }
        #expect(secretError.description == "a CURVE secret key is 40 Z85 characters; got 12 (secret key text not shown)")
        // In the alphabet but above 2^32 - 1 in a 5-character group.
        let overflow = "#####" + good.dropFirst(5)
        #expect(throws: CurveKeyError.self) { try CurvePublicKey(z85: overflow) }
        #expect(throws: CurveKeyError.self) { try CurvePublicKey(z85: "") }
    }

    @Test func keysRoundTripThroughSocketOptions() throws {
        let context = try Context()
        let socket = try Socket(context, .dealer)
        let client = try CurveKeyPair.generate()
        let server = try CurveKeyPair.generate()
        try socket.makeCurveClient(client, serverKey: server.publicKey)
        #expect(try socket.get(.curvePublicKey) == client.publicKey)
        #expect(try socket.get(.curveSecretKey) == client.secretKey)
        #expect(try socket.get(.curveServerKey) == server.publicKey)
    }
}

@Suite(.ownThread) struct ZAPAuthenticatorTests {
    @Test func onlyAllowedCurveKeysGetThrough() throws {
        let context = try Context()
        let serverKeys = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()

        var decisions: [ZAPDecision] = []
        let authenticator = try ZAPAuthenticator(context: context, allowedKeys: [allowed.publicKey]) {
            decisions.append($0)
        }
        let router = try Socket(context, .router)
        try router.makeCurveServer(serverKeys, authenticatedBy: authenticator)
        let monitor = try SocketMonitor(router, events: [.handshakeFailed, .handshakeSucceeded])
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        func worker(_ name: String, keys: CurveKeyPair?) throws -> Socket {
            let dealer = try Socket(context, .dealer)
            try dealer.set(.routingID, bytes(name))
            try dealer.set(.reconnectInterval, .milliseconds(50))
            if let keys { try dealer.makeCurveClient(keys, serverKey: serverKeys.publicKey) }
            try dealer.connect(endpoint)
            try dealer.send([bytes("hello from \(name)")])
            return dealer
        }
        let good = try worker("good", keys: allowed)
        let wrong = try worker("wrong", keys: stranger)
        let plain = try worker("plain", keys: nil)

        var messages: [[[UInt8]]] = []
        var events: [MonitorEvent] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3)
        var settledAt: ContinuousClock.Instant?
        while clock.now < deadline {
            let ready = try poll([router.pollItem(), authenticator.pollItem, monitor.pollItem],
                                 timeout: .milliseconds(20))
            if ready[1].contains(.readable) { try authenticator.handlePending() }
            if ready[0].contains(.readable) {
                while let message = try router.receive(dontWait: true) { messages.append(message) }
            }
            if ready[2].contains(.readable) { events += try monitor.drain() }
            let refusedWrong = decisions.contains { !$0.accepted && $0.publicKey == stranger.publicKey }
            let refusedPlain = events.contains { $0.event == .handshakeFailedProtocol }
            if settledAt == nil, !messages.isEmpty, refusedWrong, refusedPlain { settledAt = clock.now }
            // Keep listening a little after everything happened, to catch a late leak.
            if let settledAt, clock.now - settledAt > .milliseconds(200) { break }
        }

        #expect(messages == [[bytes("good"), bytes("hello from good")]])
        let admitted = decisions.filter(\.accepted)
        #expect(admitted.count == 1)
        #expect(admitted.first?.publicKey == allowed.publicKey)
        let refused = try #require(decisions.first { !$0.accepted })
        #expect(refused.publicKey == stranger.publicKey)
        #expect(refused.address == "127.0.0.1")
        #expect(refused.mechanism == "CURVE")
        #expect(refused.statusCode == 400)
        #expect("\(refused)".contains("refused CURVE peer key \(stranger.publicKey) from 127.0.0.1"))
        // Refusals show on the server's monitor too: 400 from ZAP, and the client without CURVE.
        #expect(events.contains { $0.event == .handshakeFailedAuth && $0.value == 400 })
        #expect(events.contains { $0.event == .handshakeFailedProtocol })
        #expect(events.contains { $0.event == .handshakeSucceeded })

        // The admitted worker gets replies; the others never got a message.
        try router.send([bytes("good"), bytes("welcome")])
        #expect(try receive(good) == [bytes("welcome")])
        #expect(try wrong.receive(dontWait: true) == nil)
        #expect(try plain.receive(dontWait: true) == nil)
    }

    /// Why `makeCurveServer(_:authenticatedBy:)` exists: with no ZAP handler bound, libzmq admits
    /// any CURVE client that knows the server key.
    @Test func withoutAnAuthenticatorAnyClientKeyIsAdmitted() throws {
        let context = try Context()
        let serverKeys = try CurveKeyPair.generate()
        let router = try Socket(context, .router)
        try router.makeCurveServer(serverKeys)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try Socket(context, .dealer)
        try dealer.makeCurveClient(try CurveKeyPair.generate(), serverKey: serverKeys.publicKey)
        try dealer.connect(endpoint)
        try dealer.send([bytes("anyone")])
        #expect(try receive(router)?.last == bytes("anyone"))
    }

    @Test func onlyOneAuthenticatorPerContext() throws {
        let context = try Context()
        let first = try ZAPAuthenticator(context: context, allowedKeys: [])
        #expect(throws: ZMQError(code: .addressInUse, operation: "zmq_bind(inproc://zeromq.zap.01)")) {
            _ = try ZAPAuthenticator(context: context, allowedKeys: [])
        }
        withExtendedLifetime(first) {}
    }

    @Test func malformedRequestsGetA500AndTheHandlerStaysUsable() throws {
        let context = try Context()
        var decisions: [ZAPDecision] = []
        let authenticator = try ZAPAuthenticator(context: context, allowedKeys: []) { decisions.append($0) }
        let client = try Socket(context, .req)
        try client.connect(ZAPAuthenticator.endpoint)
        try client.send([bytes("0.9"), bytes("id")])
        #expect(try authenticator.pollItem.socket?.poll(timeout: .seconds(3)) == .readable)
        #expect(try authenticator.handlePending() == 1)
        let reply = try #require(try receive(client))
        #expect(reply.count == 6)
        #expect(reply[1] == bytes("id"))
        #expect(reply[2] == bytes("500"))
        // A NULL-mechanism request is refused with 400.
        try client.send([bytes("1.0"), bytes("2"), [], bytes("10.0.0.3"), [], bytes("NULL")])
        _ = try authenticator.socket.poll(timeout: .seconds(3))
        try authenticator.handlePending()
        #expect(try receive(client)?[2] == bytes("400"))
        #expect(decisions.map(\.statusCode) == [500, 400])
        #expect(decisions.last?.address == "10.0.0.3")
    }
}

@Suite(.ownThread) struct MonitorStopTests {
    /// libzmq sends monitor events with a blocking send: a socket that lingers after `close()`, still
    /// reconnecting and failing handshakes, blocks its context on an event no one reads. The
    /// worker's case: a DEALER whose handshakes fail (here: the wrong server key; each failure a
    /// dropped connection and a new dial), closed and replaced by a new one, a few times over; each
    /// new one's monitor must report its own dials.
    @Test func socketsReplacedWhileTheirHandshakesFailKeepReportingEvents() throws {
        let serverContext = try Context()
        let authenticator = try ZAPAuthenticator(context: serverContext, allowedKeys: []) { _ in }
        let curveRouter = try Socket(serverContext, .router)
        try curveRouter.makeCurveServer(try CurveKeyPair.generate(), authenticatedBy: authenticator)
        let curveEndpoint = try curveRouter.bind("tcp://127.0.0.1:*")

        let context = try Context()
        var dealer: Socket?
        var monitor: SocketMonitor?
        for round in 1...4 {
            // Closing the dealer first and its monitor's socket after it, as the worker once did,
            // silences every later round.
            monitor?.stop()
            dealer?.close()
            let next = try Socket(context, .dealer)
            try next.set(.linger, .milliseconds(500))
            try next.set(.reconnectInterval, .milliseconds(10))
            try next.makeCurveClient(try CurveKeyPair.generate(), serverKey: try CurveKeyPair.generate().publicKey)
            let nextMonitor = try SocketMonitor(next, events: [.connected, .handshakeSucceeded, .handshakeFailed])
            try next.connect(curveEndpoint)
            try next.send([bytes("never delivered")])
            (dealer, monitor) = (next, nextMonitor)
            var failures = 0
            let deadline = ContinuousClock.now + .seconds(3)
            while failures < 5, ContinuousClock.now < deadline {
                _ = try poll([nextMonitor.pollItem], timeout: .milliseconds(20))
                failures += try nextMonitor.drain().filter { SocketEvents.handshakeFailed.contains($0.event) }.count
            }
            #expect(failures >= 5, "round \(round): the handshakes fail and the dealer dials again")
        }
        monitor?.stop()
        dealer?.close()
    }
}
