// Why a coordinator's endpoint does not answer, in words. ZeroMQ retries a failed connect by itself
// and tells nobody why; when the coordinator stays silent, one plain connect of our own (bounded)
// names the cause: nothing listening, no route, a name that does not resolve, no answer at all.
import SweepProtocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An endpoint's address parts: `tcp://host:port` or `ipc://path`.
public enum EndpointAddress: Equatable, Sendable {
    case tcp(host: String, port: Int)
    case ipc(path: String)

    /// Parses `text`, or says what is wrong with it and what to give instead. `forBinding`
    /// also accepts port 0 or `*` (any free port) and host `*` (every interface), as `--bind` does.
    public static func parse(_ text: String, forBinding: Bool = false) -> Result<EndpointAddress, EndpointError> {
        if text.hasPrefix("ipc://") {
            let path = String(text.dropFirst(6))
            return path.isEmpty ? .failure(EndpointError("'\(text)' names no socket file: give ipc://PATH."))
                : .success(.ipc(path: path))
        }
        guard text.hasPrefix("tcp://") else {
            return .failure(EndpointError("'\(text)' is not a tcp:// or ipc:// endpoint, e.g. tcp://head-node:5555."))
        }
        let rest = text.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":") else {
            return .failure(EndpointError("'\(text)' has no port: give tcp://HOST:PORT, e.g. tcp://head-node:5555."))
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = rest[rest.index(after: colon)...]
        guard !host.isEmpty else {
            return .failure(EndpointError("'\(text)' has no host: give tcp://HOST:PORT, e.g. tcp://head-node:5555."))
        }
        if forBinding && portText == "*" { return .success(.tcp(host: host, port: 0)) }
        guard let port = Int(portText), ((forBinding ? 0 : 1)...65_535).contains(port) else {
            return .failure(EndpointError("port '\(portText)' of '\(text)' is not a number from "
                                          + (forBinding ? "0 (any free port)" : "1") + " to 65535."))
        }
        return .success(.tcp(host: host, port: port))
    }

    /// What is wrong when a connection to this address cannot be made, found by one connect that
    /// gives up after `timeout`; nil when the connection is made (something listens there).
    public func unreachableReason(timeout: Duration = .seconds(1)) -> String? {
        switch self {
        case .tcp(let host, let port): return Self.probeTCP(host: host, port: port, timeout: timeout)
        case .ipc(let path): return Self.probeIPC(path: path)
        }
    }

    private static func probeTCP(host: String, port: Int, timeout: Duration) -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return "the host name '\(host)' does not resolve (\(String(cString: gai_strerror(status))))"
        }
        defer { freeaddrinfo(list) }
        var reasons: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            switch connectOnce(info.pointee, timeout: timeout) {
            case 0: return nil
            case ECONNREFUSED: reasons.append("connection refused: nothing listens on port \(port) of \(host)")
            case EHOSTUNREACH, ENETUNREACH: reasons.append("no route to \(host)")
            case ETIMEDOUT:
                reasons.append("no answer from \(host):\(port) within \(timeout) (a firewall, or the wrong address)")
            case let code: reasons.append("cannot connect to \(host):\(port): \(String(cString: strerror(code)))")
            }
            entry = info.pointee.ai_next
        }
        return reasons.first
    }

    /// 0 when a non-blocking connect completes within `timeout`, else its errno (ETIMEDOUT).
    private static func connectOnce(_ info: addrinfo, timeout: Duration) -> Int32 {
        let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return 0 }
        guard errno == EINPROGRESS else { return errno }
        var item = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let millis = Int32(clamping: timeout.inMilliseconds)
        guard poll(&item, 1, millis) > 0 else { return ETIMEDOUT }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return errno }
        return error
    }

    private static func probeIPC(path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return "no socket file at \(path) (is the coordinator running, with --bind ipc://\(path)?)"
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result == 0 { return nil }
        return errno == ECONNREFUSED ? "nothing listens on \(path) (a socket file left by a coordinator that is gone?)"
            : "cannot connect to \(path): \(String(cString: strerror(errno)))"
    }
}

/// An endpoint that cannot be used, in words.
public struct EndpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
