// Error values: code, operation and zmq_strerror text.
import Testing
import ZeroMQ

@Suite struct ZMQErrorTests {
    @Test func unknownTransportIsEPROTONOSUPPORT() throws {
        let context = try Context()
        let socket = try Socket(context, .router)
        do {
            try socket.bind("tcpx://127.0.0.1:*")
            Issue.record("bind should fail")
        } catch let error as ZMQError {
            #expect(error.code == .protocolNotSupported)
            #expect(error.operation == "zmq_bind(tcpx://127.0.0.1:*)")
            #expect(error.description == "zmq_bind(tcpx://127.0.0.1:*): Protocol not supported (EPROTONOSUPPORT, errno \(error.code.rawValue))")
        }
    }

    @Test func bindingATakenPortIsEADDRINUSE() throws {
        let context = try Context()
        let first = try Socket(context, .router)
        let endpoint = try first.bind("tcp://127.0.0.1:*")
        let second = try Socket(context, .router)
        let error = try #require(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error.code == .addressInUse)
        #expect(error.description.contains("zmq_bind(\(endpoint)): Address already in use (EADDRINUSE"))
    }

    @Test func malformedEndpointAndBadOptionValuesAreEINVAL() throws {
        let context = try Context()
        let socket = try Socket(context, .dealer)
        #expect(throws: ZMQError(code: .invalidArgument, operation: "zmq_connect(tcp://no-port)")) {
            try socket.connect("tcp://no-port")
        }
        // A routing id is 1...255 bytes.
        let error = try #require(throws: ZMQError.self) { try socket.set(.routingID, []) }
        #expect(error.code == .invalidArgument)
        #expect(error.operation == "zmq_setsockopt(DEALER, ZMQ_ROUTING_ID)")
        #expect(throws: ZMQError.Code.noSuchEndpoint.error(in: "zmq_disconnect(tcp://127.0.0.1:9)")) {
            try socket.disconnect("tcp://127.0.0.1:9")
        }
    }

    @Test func replySocketInWrongStateIsEFSM() throws {
        let context = try Context()
        let socket = try Socket(context, .rep)
        let error = try #require(throws: ZMQError.self) { try socket.send([bytes("unasked")]) }
        #expect(error.code == .invalidState)
        #expect(error.code.name == "EFSM")
        #expect(!error.message.isEmpty)
    }

    @Test func namesAndMessagesOfCodes() {
        #expect(ZMQError.Code.contextTerminated.name == "ETERM")
        #expect(ZMQError.Code.contextTerminated.message == "Context was terminated")
        #expect(ZMQError.Code.hostUnreachable.name == "EHOSTUNREACH")
        #expect(ZMQError.Code(rawValue: 12345).name == "errno 12345")
        #expect(ZMQError(code: .init(rawValue: 12345), operation: "x").description.hasSuffix("(errno 12345)"))
    }
}

extension ZMQError.Code {
    func error(in operation: String) -> ZMQError { ZMQError(code: self, operation: operation) }
}
