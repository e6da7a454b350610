// CURVE keys as validated Z85 text (40 characters for 32 bytes).
import CZeroMQ

/// Why a text is not a CURVE key.
public struct CurveKeyError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
}

/// The 85 characters of the Z85 alphabet (ZeroMQ RFC 32).
private let z85Alphabet: Set<UInt8> = Set(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

/// Checks `text` is a Z85-encoded 32-byte key and returns the 32 bytes.
/// `echo` is false for secret keys, whose text must not end up in logs.
private func decodeKey(_ text: String, kind: String, echo: Bool) throws -> [UInt8] {
    let bytes = Array(text.utf8)
    let shown = echo ? ": \"\(text)\"" : " (secret key text not shown)"
    guard bytes.count == 40 else {
        throw CurveKeyError(description: "a CURVE \(kind) key is 40 Z85 characters; got \(bytes.count)\(shown)")
    }
    if let offset = bytes.firstIndex(where: { !z85Alphabet.contains($0) }) {
        let character = echo ? " '\(Character(Unicode.Scalar(bytes[offset])))'" : ""
        throw CurveKeyError(description: "a CURVE \(kind) key is 40 Z85 characters; character\(character) at offset \(offset) is not Z85\(shown)")
    }
    var key = [UInt8](repeating: 0, count: 32)
    let decoded = key.withUnsafeMutableBufferPointer { zmq_z85_decode($0.baseAddress, text) }
    guard decoded != nil else {
        // All characters are in the alphabet, so only a group above 2^32 - 1 is left.
        throw CurveKeyError(description: "a CURVE \(kind) key is 40 Z85 characters; this one does not decode to 32 bytes\(shown)")
    }
    return key
}

/// Z85 text of 32 key bytes.
func encodeKey(_ key: [UInt8]) -> String {
    precondition(key.count == 32, "ZeroMQ: a CURVE key is 32 bytes; got \(key.count)")
    var text = [CChar](repeating: 0, count: 41)
    key.withUnsafeBufferPointer { keyBytes in
        text.withUnsafeMutableBufferPointer { _ = zmq_z85_encode($0.baseAddress, keyBytes.baseAddress, 32) }
    }
    return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A CURVE public key (Z85 text, 40 characters).
public struct CurvePublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The Z85 text.
    public let z85: String

    /// Validates Z85 text; throws a `CurveKeyError` that says what is wrong.
    public init(z85: String) throws {
        _ = try decodeKey(z85, kind: "public", echo: true)
        self.z85 = z85
    }

    /// From 32 raw key bytes (as in a ZAP request's credentials frame).
    public init(bytes: [UInt8]) {
        self.z85 = encodeKey(bytes)
    }

    /// Text libzmq produced (already valid).
    init(checkedZ85 z85: String) { self.z85 = z85 }

    public var description: String { z85 }
}

/// A CURVE secret key (Z85 text, 40 characters); its description never shows the key.
public struct CurveSecretKey: Hashable, Sendable, CustomStringConvertible {
    /// The Z85 text (keep it out of logs).
    public let z85: String

    /// Validates Z85 text; the error does not repeat the text.
    public init(z85: String) throws {
        _ = try decodeKey(z85, kind: "secret", echo: false)
        self.z85 = z85
    }

    init(checkedZ85 z85: String) { self.z85 = z85 }

    public var description: String { "CurveSecretKey(…)" }
}

/// A CURVE long-term key pair.
public struct CurveKeyPair: Sendable, Hashable {
    public let publicKey: CurvePublicKey
    public let secretKey: CurveSecretKey

    public init(publicKey: CurvePublicKey, secretKey: CurveSecretKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair (zmq_curve_keypair); throws ENOTSUP if libzmq lacks CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        if zmq_curve_keypair(&publicText, &secretText) != 0 {
            throw lastZMQError("zmq_curve_keypair()")
        }
        return CurveKeyPair(publicKey: CurvePublicKey(checkedZ85: z85String(publicText)),
                            secretKey: CurveSecretKey(checkedZ85: z85String(secretText)))
    }

    /// The public key that belongs to `secret` (zmq_curve_public).
    public static func publicKey(fromSecret secret: CurveSecretKey) throws -> CurvePublicKey {
        var publicText = [CChar](repeating: 0, count: 41)
        if zmq_curve_public(&publicText, secret.z85) != 0 {
            throw lastZMQError("zmq_curve_public()")
        }
        return CurvePublicKey(checkedZ85: z85String(publicText))
    }

    /// The key pair of a secret key.
    public init(secretKey: CurveSecretKey) throws {
        self.init(publicKey: try Self.publicKey(fromSecret: secretKey), secretKey: secretKey)
    }
}

private func z85String(_ text: [CChar]) -> String {
    String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Socket {
    /// Makes this socket a CURVE server with `keys` (ZMQ_CURVE_SERVER + ZMQ_CURVE_SECRETKEY);
    /// call before `bind`. Clients are checked by the context's ZAP handler if one is bound;
    /// without one, libzmq admits every client that knows the server's public key (traffic is
    /// still encrypted). Prefer `makeCurveServer(_:authenticatedBy:)`.
    public func makeCurveServer(_ keys: CurveKeyPair) throws {
        try set(.curveServer, true)
        try set(.curveSecretKey, keys.secretKey)
    }

    /// Makes this socket a CURVE server whose clients `authenticator` admits; taking the
    /// authenticator here makes sure it is bound (in this socket's context) before any client
    /// can connect, since libzmq would admit everyone while no ZAP handler is bound.
    public func makeCurveServer(_ keys: CurveKeyPair, authenticatedBy authenticator: ZAPAuthenticator) throws {
        precondition(authenticator.socket.context === context,
                     "ZeroMQ: the ZAP authenticator must live in the CURVE server socket's context")
        try makeCurveServer(keys)
    }

    /// Makes this socket a CURVE client of a server with public key `serverKey`; call before
    /// `connect`.
    public func makeCurveClient(_ keys: CurveKeyPair, serverKey: CurvePublicKey) throws {
        try set(.curveServerKey, serverKey)
        try set(.curvePublicKey, keys.publicKey)
        try set(.curveSecretKey, keys.secretKey)
    }
}
