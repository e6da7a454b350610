// Typed options round-trip through libzmq.
import Testing
import ZeroMQ

@Suite struct SocketOptionTests {
    @Test func optionsRoundTrip() throws {
        let context = try Context()
        let socket = try Socket(context, .dealer)
        try socket.set(.routingID, bytes("worker-7/1234"))
        #expect(try socket.get(.routingID) == bytes("worker-7/1234"))
        try socket.set(.sendHighWaterMark, 5000)
        try socket.set(.receiveHighWaterMark, 0)
        #expect(try socket.get(.sendHighWaterMark) == 5000)
        #expect(try socket.get(.receiveHighWaterMark) == 0)
        #expect(try socket.get(.maxMessageSize) == nil)
        try socket.set(.maxMessageSize, 1 << 20)
        #expect(try socket.get(.maxMessageSize) == 1 << 20)
        try socket.set(.linger, nil)
        #expect(try socket.get(.linger) == nil)
        try socket.set(.linger, .milliseconds(250))
        #expect(try socket.get(.linger) == .milliseconds(250))
        try socket.set(.sendTimeout, .milliseconds(1500))
        #expect(try socket.get(.sendTimeout) == .milliseconds(1500))
        #expect(try socket.get(.receiveTimeout) == nil)
        try socket.set(.reconnectInterval, .seconds(1))
        try socket.set(.reconnectIntervalMax, .seconds(32))
        #expect(try socket.get(.reconnectInterval) == .seconds(1))
        #expect(try socket.get(.reconnectIntervalMax) == .seconds(32))
        try socket.set(.immediate, true)
        #expect(try socket.get(.immediate))
        #expect(try socket.get(.tcpKeepalive) == nil)
        try socket.set(.tcpKeepalive, true)
        try socket.set(.tcpKeepaliveIdle, .seconds(30))
        try socket.set(.tcpKeepaliveInterval, .seconds(5))
        try socket.set(.tcpKeepaliveCount, 4)
        #expect(try socket.get(.tcpKeepalive) == true)
        #expect(try socket.get(.tcpKeepaliveIdle) == .seconds(30))
        #expect(try socket.get(.tcpKeepaliveInterval) == .seconds(5))
        #expect(try socket.get(.tcpKeepaliveCount) == 4)
        try socket.set(.zapDomain, "thermosweep")
        #expect(try socket.get(.zapDomain) == "thermosweep")
        try socket.set(.handshakeInterval, .seconds(5))
        #expect(try socket.get(.handshakeInterval) == .seconds(5))
    }

    @Test func heartbeatOptionsAreAccepted() throws {
        let context = try Context()
        let socket = try Socket(context, .router)
        try socket.set(.heartbeatInterval, .seconds(1))
        try socket.set(.heartbeatTimeout, .seconds(3))
        try socket.set(.heartbeatTTL, .seconds(3))
        #expect(try socket.get(.heartbeatInterval) == .seconds(1))
        #expect(try socket.get(.heartbeatTimeout) == .seconds(3))
        #expect(try socket.get(.heartbeatTTL) == .seconds(3))
    }

    @Test func durationsRoundToWholeMilliseconds() throws {
        let context = try Context()
        let socket = try Socket(context, .dealer)
        try socket.set(.reconnectInterval, .microseconds(1499))
        #expect(try socket.get(.reconnectInterval) == .milliseconds(1))
        try socket.set(.reconnectInterval, .microseconds(1500))
        #expect(try socket.get(.reconnectInterval) == .milliseconds(2))
        try socket.set(.sendTimeout, .seconds(Int64.max))
        #expect(try socket.get(.sendTimeout) == .milliseconds(Int32.max))
    }

    @Test func routerOnlyOptionsAreRefusedByADealerSocket() throws {
        let context = try Context()
        let dealer = try Socket(context, .dealer)
        let error = try #require(throws: ZMQError.self) { try dealer.set(.routerMandatory, true) }
        #expect(error.code == .invalidArgument)
        #expect(error.operation == "zmq_setsockopt(DEALER, ZMQ_ROUTER_MANDATORY)")
    }
}
