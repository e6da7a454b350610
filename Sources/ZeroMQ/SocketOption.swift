// Typed socket options: call sites say `try socket.set(.routerMandatory, true)` and
// `try socket.get(.routingID)`, never a raw option number or a raw size.
import CZeroMQ

/// A zmq socket option with the Swift type of its value.
public struct SocketOption<Value>: Sendable {
    /// The ZMQ_* name, for error messages.
    public let name: String
    let code: Int32
    let storage: Storage
    let encode: @Sendable (Value) -> RawOptionValue
    let decode: @Sendable (RawOptionValue) -> Value

    enum Storage: Sendable {
        case int32, int64, bytes(capacity: Int)
    }
}

/// The C representation of an option value.
enum RawOptionValue: Sendable {
    case int32(Int32), int64(Int64), bytes([UInt8])

    var int32: Int32 {
        if case .int32(let value) = self { return value }
        preconditionFailure("ZeroMQ: option read with the wrong storage")
    }
    var int64: Int64 {
        if case .int64(let value) = self { return value }
        preconditionFailure("ZeroMQ: option read with the wrong storage")
    }
    var bytes: [UInt8] {
        if case .bytes(let value) = self { return value }
        preconditionFailure("ZeroMQ: option read with the wrong storage")
    }
}

/// Whole milliseconds in `duration`, rounded to the nearest and clamped to Int32.
func milliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    let ms = seconds.multipliedReportingOverflow(by: 1000)
    if ms.overflow { return seconds < 0 ? Int32.min : Int32.max }
    return Int32(clamping: ms.partialValue + (attoseconds + 500_000_000_000_000) / 1_000_000_000_000_000)
}

extension SocketOption {
    static func int32(_ code: Int32, _ name: String,
                      encode: @escaping @Sendable (Value) -> Int32,
                      decode: @escaping @Sendable (Int32) -> Value) -> Self {
        Self(name: name, code: code, storage: .int32,
             encode: { .int32(encode($0)) }, decode: { decode($0.int32) })
    }

    static func bytes(_ code: Int32, _ name: String, capacity: Int,
                      encode: @escaping @Sendable (Value) -> [UInt8],
                      decode: @escaping @Sendable ([UInt8]) -> Value) -> Self {
        Self(name: name, code: code, storage: .bytes(capacity: capacity),
             encode: { .bytes(encode($0)) }, decode: { decode($0.bytes) })
    }
}

extension SocketOption where Value == Bool {
    static func flag(_ code: Int32, _ name: String) -> Self {
        .int32(code, name, encode: { $0 ? 1 : 0 }, decode: { $0 != 0 })
    }

    /// ZMQ_ROUTER_MANDATORY (ROUTER, set only): a send to an unknown routing id throws
    /// EHOSTUNREACH instead of being dropped silently.
    public static var routerMandatory: Self { flag(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY") }
    /// ZMQ_ROUTER_HANDOVER (ROUTER, set only): a new peer with a routing id already in use takes
    /// it over (a restarted worker is accepted) instead of being ignored.
    public static var routerHandover: Self { flag(ZMQ_ROUTER_HANDOVER, "ZMQ_ROUTER_HANDOVER") }
    /// ZMQ_IMMEDIATE: queue messages only to completed connections.
    public static var immediate: Self { flag(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE") }
    /// ZMQ_CURVE_SERVER: this socket is the CURVE server (needs `curveSecretKey`).
    public static var curveServer: Self { flag(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER") }
    /// ZMQ_IPV6: allow IPv6 on tcp endpoints.
    public static var ipv6: Self { flag(ZMQ_IPV6, "ZMQ_IPV6") }
}

extension SocketOption where Value == Int {
    /// ZMQ_SNDHWM: messages queued per peer before sends block or fail (0 = no limit).
    public static var sendHighWaterMark: Self {
        .int32(ZMQ_SNDHWM, "ZMQ_SNDHWM", encode: { Int32(clamping: $0) }, decode: { Int($0) })
    }
    /// ZMQ_RCVHWM: messages queued per peer on the receive side (0 = no limit).
    public static var receiveHighWaterMark: Self {
        .int32(ZMQ_RCVHWM, "ZMQ_RCVHWM", encode: { Int32(clamping: $0) }, decode: { Int($0) })
    }
    /// ZMQ_TCP_KEEPALIVE_CNT: unanswered keepalive probes before the kernel drops the connection.
    public static var tcpKeepaliveCount: Self {
        .int32(ZMQ_TCP_KEEPALIVE_CNT, "ZMQ_TCP_KEEPALIVE_CNT",
               encode: { Int32(clamping: $0) }, decode: { Int($0) })
    }
}

extension SocketOption where Value == Int? {
    /// ZMQ_MAXMSGSIZE: the largest inbound message in bytes (nil = no limit); a peer that sends
    /// more is disconnected.
    public static var maxMessageSize: Self {
        Self(name: "ZMQ_MAXMSGSIZE", code: ZMQ_MAXMSGSIZE, storage: .int64,
             encode: { .int64($0.map { Int64($0) } ?? -1) },
             decode: { $0.int64 < 0 ? nil : Int($0.int64) })
    }
}

extension SocketOption where Value == Duration {
    static func ms(_ code: Int32, _ name: String) -> Self {
        .int32(code, name, encode: { milliseconds($0) }, decode: { .milliseconds($0) })
    }

    /// ZMQ_HEARTBEAT_IVL: send a ZMTP PING this often (0 = off).
    public static var heartbeatInterval: Self { ms(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL") }
    /// ZMQ_HEARTBEAT_TIMEOUT: close the connection if no traffic arrives this long after a PING.
    public static var heartbeatTimeout: Self { ms(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT") }
    /// ZMQ_HEARTBEAT_TTL: asks the peer to drop us after this long without traffic
    /// (sent in deciseconds: below 100 ms it rounds to 0 = off).
    public static var heartbeatTTL: Self { ms(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL") }
    /// ZMQ_RECONNECT_IVL: first wait before reconnecting.
    public static var reconnectInterval: Self { ms(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL") }
    /// ZMQ_RECONNECT_IVL_MAX: the reconnect wait doubles up to this (0 = no doubling).
    public static var reconnectIntervalMax: Self { ms(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX") }
    /// ZMQ_HANDSHAKE_IVL: drop a connection whose ZMTP/CURVE handshake takes longer (0 = never).
    public static var handshakeInterval: Self { ms(ZMQ_HANDSHAKE_IVL, "ZMQ_HANDSHAKE_IVL") }

    static func seconds(_ code: Int32, _ name: String) -> Self {
        .int32(code, name, encode: { Int32(clamping: $0.components.seconds) },
               decode: { .seconds($0) })
    }

    /// ZMQ_TCP_KEEPALIVE_IDLE (whole seconds): idle time before the first keepalive probe.
    public static var tcpKeepaliveIdle: Self { seconds(ZMQ_TCP_KEEPALIVE_IDLE, "ZMQ_TCP_KEEPALIVE_IDLE") }
    /// ZMQ_TCP_KEEPALIVE_INTVL (whole seconds): time between keepalive probes.
    public static var tcpKeepaliveInterval: Self {
        seconds(ZMQ_TCP_KEEPALIVE_INTVL, "ZMQ_TCP_KEEPALIVE_INTVL")
    }
}

extension SocketOption where Value == Duration? {
    static func msOrInfinite(_ code: Int32, _ name: String) -> Self {
        .int32(code, name, encode: { $0.map(milliseconds) ?? -1 },
               decode: { $0 < 0 ? nil : .milliseconds($0) })
    }

    /// ZMQ_LINGER: how long `close` keeps unsent messages (nil = forever). Sockets here start at 0.
    public static var linger: Self { msOrInfinite(ZMQ_LINGER, "ZMQ_LINGER") }
    /// ZMQ_SNDTIMEO: a blocking send gives up (returns false) after this (nil = never).
    public static var sendTimeout: Self { msOrInfinite(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO") }
    /// ZMQ_RCVTIMEO: a blocking receive gives up (returns nil) after this (nil = never).
    public static var receiveTimeout: Self { msOrInfinite(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO") }
}

extension SocketOption where Value == Bool? {
    /// ZMQ_TCP_KEEPALIVE: SO_KEEPALIVE on tcp connections (nil = the OS default).
    public static var tcpKeepalive: Self {
        .int32(ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE",
               encode: { $0.map { $0 ? 1 : 0 } ?? -1 }, decode: { $0 < 0 ? nil : $0 != 0 })
    }
}

extension SocketOption where Value == [UInt8] {
    /// ZMQ_ROUTING_ID: this socket's identity as seen by a ROUTER peer (1...255 bytes, the first
    /// not 0); set before `connect`.
    public static var routingID: Self {
        .bytes(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", capacity: 255, encode: { $0 }, decode: { $0 })
    }
    /// ZMQ_SUBSCRIBE (SUB, set only): receive messages starting with these bytes.
    public static var subscribe: Self {
        .bytes(ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", capacity: 0, encode: { $0 }, decode: { $0 })
    }
    /// ZMQ_UNSUBSCRIBE (SUB, set only).
    public static var unsubscribe: Self {
        .bytes(ZMQ_UNSUBSCRIBE, "ZMQ_UNSUBSCRIBE", capacity: 0, encode: { $0 }, decode: { $0 })
    }
}

/// Text of a string option without the trailing NUL that libzmq includes.
private func optionString(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
}

extension SocketOption where Value == String {
    /// ZMQ_ZAP_DOMAIN: the domain sent to the ZAP handler.
    public static var zapDomain: Self {
        .bytes(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", capacity: 256,
               encode: { Array($0.utf8) }, decode: optionString)
    }
    /// ZMQ_LAST_ENDPOINT (get only): the endpoint of the last bind, with the real port.
    public static var lastEndpoint: Self {
        .bytes(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT", capacity: 1024,
               encode: { Array($0.utf8) }, decode: optionString)
    }
}

extension SocketOption where Value == CurvePublicKey {
    /// ZMQ_CURVE_PUBLICKEY: this client's long-term public key.
    public static var curvePublicKey: Self {
        .bytes(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", capacity: 41,
               encode: { Array($0.z85.utf8) + [0] },
               decode: { CurvePublicKey(checkedZ85: optionString($0)) })
    }
    /// ZMQ_CURVE_SERVERKEY: the server's public key, which a CURVE client must know.
    public static var curveServerKey: Self {
        .bytes(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", capacity: 41,
               encode: { Array($0.z85.utf8) + [0] },
               decode: { CurvePublicKey(checkedZ85: optionString($0)) })
    }
}

extension SocketOption where Value == CurveSecretKey {
    /// ZMQ_CURVE_SECRETKEY: this socket's long-term secret key (client and server).
    public static var curveSecretKey: Self {
        .bytes(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", capacity: 41,
               encode: { Array($0.z85.utf8) + [0] },
               decode: { CurveSecretKey(checkedZ85: optionString($0)) })
    }
}

extension SocketOption where Value == PollEvents {
    /// ZMQ_EVENTS (get only): can a message be received / sent right now.
    public static var events: Self {
        .int32(ZMQ_EVENTS, "ZMQ_EVENTS", encode: { Int32($0.rawValue) },
               decode: { PollEvents(rawValue: Int16(truncatingIfNeeded: $0)) })
    }
}

extension Socket {
    /// Sets a socket option (zmq_setsockopt).
    public func set<Value>(_ option: SocketOption<Value>, _ value: Value) throws {
        let result: Int32
        switch option.encode(value) {
        case .int32(var raw):
            result = zmq_setsockopt(handle, option.code, &raw, MemoryLayout<Int32>.size)
        case .int64(var raw):
            result = zmq_setsockopt(handle, option.code, &raw, MemoryLayout<Int64>.size)
        case .bytes(let raw):
            result = raw.withUnsafeBytes { zmq_setsockopt(handle, option.code, $0.baseAddress, $0.count) }
        }
        if result != 0 {
            throw lastZMQError("zmq_setsockopt(\(type), \(option.name))")
        }
    }

    /// Reads a socket option (zmq_getsockopt).
    public func get<Value>(_ option: SocketOption<Value>) throws -> Value {
        while true {
            let raw: RawOptionValue
            var result: Int32
            switch option.storage {
            case .int32:
                var value: Int32 = 0
                var size = MemoryLayout<Int32>.size
                result = zmq_getsockopt(handle, option.code, &value, &size)
                raw = .int32(value)
            case .int64:
                var value: Int64 = 0
                var size = MemoryLayout<Int64>.size
                result = zmq_getsockopt(handle, option.code, &value, &size)
                raw = .int64(value)
            case .bytes(let capacity):
                var value = [UInt8](repeating: 0, count: max(capacity, 1))
                var size = value.count
                result = value.withUnsafeMutableBytes { zmq_getsockopt(handle, option.code, $0.baseAddress, &size) }
                raw = .bytes(Array(value.prefix(size)))
            }
            if result == 0 { return option.decode(raw) }
            let error = lastZMQError("zmq_getsockopt(\(type), \(option.name))")
            // ZMQ_EVENTS can be interrupted while it processes commands.
            if error.code != .interrupted { throw error }
        }
    }
}
