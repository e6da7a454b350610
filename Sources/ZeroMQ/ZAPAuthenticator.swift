// A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is on an allow-list.
//
// Pumped, not threaded: the coordinator's event loop is single-threaded and polls with finite
// timeouts, so it adds `authenticator.pollItem` to its poll and calls `handlePending()` when that
// item is readable. The handler then runs on the loop's thread (no locks around the allow-list, and
// the decision callback can log or update state directly). The cost is that a CURVE handshake
// waits for the loop's next turn; a loop that stalls for long would also stall admissions, which
// is the right coupling for a coordinator that could not serve the new worker anyway.
//
// libzmq calls the handler through `inproc://zeromq.zap.01` of the server socket's context: it must
// be bound in the same Context before the CURVE server accepts connections. If nothing is bound
// there, libzmq 4.3 admits every client that knows the server key.
// Non-CURVE sockets without a ZAP_DOMAIN never consult the handler (NULL mechanism), so plain
// inproc/tcp sockets in the same context are unaffected. A client without CURVE that connects to
// a CURVE server fails the handshake before ZAP (mechanism mismatch): it is never reported here;
// a `SocketMonitor` on the server sees it as `.handshakeFailedProtocol`.
import CZeroMQ

/// One admission decision of the `ZAPAuthenticator`.
public struct ZAPDecision: Sendable, CustomStringConvertible {
    /// Whether the peer was admitted (status 200).
    public let accepted: Bool
    /// The ZAP status code sent back: 200 admitted, 400 refused, 500 malformed request.
    public let statusCode: Int
    /// Why, in words.
    public let reason: String
    /// The peer's IP address as libzmq reports it (e.g. "10.0.0.3"; empty for inproc/ipc).
    public let address: String
    /// ZAP domain of the server socket (ZMQ_ZAP_DOMAIN; often empty).
    public let domain: String
    /// Security mechanism: "CURVE", "NULL" or "PLAIN".
    public let mechanism: String
    /// The client's long-term public key (CURVE only).
    public let publicKey: CurvePublicKey?
    // Not reported: the request's "identity" frame. libzmq 4.3 fills it with the *server*
    // socket's own ZMQ_ROUTING_ID (the client's is not known before the handshake ends).

    public var description: String {
        let key = publicKey.map { " key \($0)" } ?? ""
        let from = address.isEmpty ? "" : " from \(address)"
        return "\(accepted ? "admitted" : "refused") \(mechanism) peer\(key)\(from): \(statusCode) \(reason)"
    }
}

/// A ZAP handler bound on a context that admits only CURVE clients with an allowed public key.
public final class ZAPAuthenticator {
    /// Where libzmq sends ZAP requests (RFC 27).
    public static let endpoint = "inproc://zeromq.zap.01"

    /// The REP socket bound at `endpoint`.
    public let socket: Socket
    /// Public keys admitted.
    public private(set) var allowedKeys: Set<CurvePublicKey>
    private let onDecision: (ZAPDecision) -> Void

    /// Binds the handler in `context` (only one per context: a second one gets EADDRINUSE).
    /// `onDecision` is called on the thread that calls `handlePending()`, once per request.
    public init(context: Context, allowedKeys: some Sequence<CurvePublicKey>,
                onDecision: @escaping (ZAPDecision) -> Void = { _ in }) throws {
        socket = try Socket(context, .rep)
        try socket.bind(Self.endpoint)
        self.allowedKeys = Set(allowedKeys)
        self.onDecision = onDecision
    }

    /// Adds a key to the allow-list (takes effect for the next handshake).
    public func allow(_ key: CurvePublicKey) { allowedKeys.insert(key) }
    /// Removes a key (established connections stay up).
    public func revoke(_ key: CurvePublicKey) { allowedKeys.remove(key) }

    /// The item to add to the owner's poll; call `handlePending()` when it is readable.
    public var pollItem: PollItem { socket.pollItem(.readable) }

    /// Answers every waiting ZAP request without blocking; returns how many were answered.
    @discardableResult
    public func handlePending() throws -> Int {
        var handled = 0
        while let request = try socket.receive(dontWait: true) {
            let (reply, decision) = answer(request)
            // The REP socket always has room for its one reply.
            try socket.send(reply)
            handled += 1
            onDecision(decision)
        }
        return handled
    }

    /// The reply frames and the decision for one request:
    /// request = version, request id, domain, address, identity, mechanism, credentials...
    /// reply = version, request id, status code, status text, user id, metadata.
    private func answer(_ frames: [[UInt8]]) -> (reply: [[UInt8]], decision: ZAPDecision) {
        func text(_ index: Int) -> String {
            index < frames.count ? String(decoding: frames[index], as: UTF8.self) : ""
        }
        let requestID = frames.count > 1 ? frames[1] : []
        func reply(_ code: Int, _ reason: String, key: CurvePublicKey? = nil) -> ([[UInt8]], ZAPDecision) {
            let replyFrames: [[UInt8]] = [
                Array("1.0".utf8), requestID, Array(String(code).utf8), Array(reason.utf8),
                Array((key?.z85 ?? "").utf8), [],
            ]
            let decision = ZAPDecision(
                accepted: code == 200, statusCode: code, reason: reason, address: text(3),
                domain: text(2), mechanism: text(5), publicKey: key)
            return (replyFrames, decision)
        }
        guard frames.count >= 6, text(0) == "1.0" else {
            return reply(500, "malformed ZAP request (\(frames.count) frames, version \"\(text(0))\")")
        }
        guard text(5) == "CURVE" else {
            return reply(400, "mechanism \(text(5)) refused: only CURVE clients are admitted")
        }
        guard frames.count == 7, frames[6].count == 32 else {
            return reply(500, "malformed CURVE credentials")
        }
        let key = CurvePublicKey(bytes: frames[6])
        if allowedKeys.contains(key) {
            return reply(200, "OK", key: key)
        }
        return reply(400, "public key not in the allow-list", key: key)
    }
}
