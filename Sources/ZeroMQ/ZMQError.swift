// Typed errors for every libzmq call, in the style of swift-system's `Errno`.
//
// Each wrapper reads `zmq_errno()` right after the failing call (before anything else can touch
// errno) and throws a `ZMQError` that names the C call and its argument, e.g.
// `zmq_bind(tcp://0.0.0.0:5555): Address already in use (EADDRINUSE, errno 98)`.
// EINTR is retried inside the wrappers, EAGAIN is returned as a result (nil / false), and the
// codes that can only mean a bug in this module (ENOTSOCK, EFAULT) trap.
import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error returned by a libzmq call: the errno value, its `zmq_strerror` text and the operation.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A libzmq / POSIX error number; compare with the named constants (`.hostUnreachable`, ...).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// EAGAIN: non-blocking call would block, or a send/receive timeout expired.
        public static let wouldBlock = Code(rawValue: EAGAIN)
        /// EHOSTUNREACH: ROUTER_MANDATORY send to a routing id that is not connected.
        public static let hostUnreachable = Code(rawValue: EHOSTUNREACH)
        /// ETERM: the context was shut down or terminated; close the socket.
        public static let contextTerminated = Code(rawValue: ZMQ_HAUSNUMERO + 53)
        /// EINTR: interrupted by a signal (retried inside the wrappers; seen only from `Context`).
        public static let interrupted = Code(rawValue: EINTR)
        /// EADDRINUSE: bind to an address that is taken.
        public static let addressInUse = Code(rawValue: EADDRINUSE)
        /// EADDRNOTAVAIL: bind to an address that is not local.
        public static let addressNotAvailable = Code(rawValue: EADDRNOTAVAIL)
        /// EINVAL: invalid argument (bad option value, malformed endpoint, ...).
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// EPROTONOSUPPORT: unknown transport in an endpoint (`tcpp://...`).
        public static let protocolNotSupported = Code(rawValue: EPROTONOSUPPORT)
        /// ENOCOMPATPROTO: transport not compatible with the socket type.
        public static let incompatibleProtocol = Code(rawValue: ZMQ_HAUSNUMERO + 52)
        /// EFSM: operation not valid in the socket's state (REQ send twice, REP receive twice).
        public static let invalidState = Code(rawValue: ZMQ_HAUSNUMERO + 51)
        /// EMTHREAD: no I/O thread available.
        public static let noIOThread = Code(rawValue: ZMQ_HAUSNUMERO + 54)
        /// EMFILE: too many open files (process fd limit or ZMQ_MAX_SOCKETS reached).
        public static let tooManyOpenFiles = Code(rawValue: EMFILE)
        /// ENOENT: unbind/disconnect of an endpoint that is not bound/connected.
        public static let noSuchEndpoint = Code(rawValue: ENOENT)
        /// ENOTSUP: operation not supported by this socket type.
        public static let notSupported = Code(rawValue: ENOTSUP)
        /// ENODEV: the interface in the endpoint does not exist.
        public static let noSuchDevice = Code(rawValue: ENODEV)
        /// EMSGSIZE: message too large for the transport.
        public static let messageTooLarge = Code(rawValue: EMSGSIZE)
        /// ENOTSOCK: not a socket (a bug in this module; traps).
        public static let notSocket = Code(rawValue: ENOTSOCK)
        /// EFAULT: bad pointer (a bug in this module; traps).
        public static let badAddress = Code(rawValue: EFAULT)

        /// The symbolic name (`EHOSTUNREACH`) or the number.
        public var name: String {
            switch self {
            case .wouldBlock: "EAGAIN"
            case .hostUnreachable: "EHOSTUNREACH"
            case .contextTerminated: "ETERM"
            case .interrupted: "EINTR"
            case .addressInUse: "EADDRINUSE"
            case .addressNotAvailable: "EADDRNOTAVAIL"
            case .invalidArgument: "EINVAL"
            case .protocolNotSupported: "EPROTONOSUPPORT"
            case .incompatibleProtocol: "ENOCOMPATPROTO"
            case .invalidState: "EFSM"
            case .noIOThread: "EMTHREAD"
            case .tooManyOpenFiles: "EMFILE"
            case .noSuchEndpoint: "ENOENT"
            case .notSupported: "ENOTSUP"
            case .noSuchDevice: "ENODEV"
            case .messageTooLarge: "EMSGSIZE"
            case .notSocket: "ENOTSOCK"
            case .badAddress: "EFAULT"
            default: "errno \(rawValue)"
            }
        }

        /// `zmq_strerror` text for this code.
        public var message: String { String(cString: zmq_strerror(rawValue)) }

        public var description: String { name }
    }

    /// The error number.
    public let code: Code
    /// The C call and its main argument, e.g. `zmq_bind(tcp://127.0.0.1:*)`.
    public let operation: String

    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The `zmq_strerror` text.
    public var message: String { code.message }

    public var description: String {
        let number = code.name.hasPrefix("errno") ? "" : ", errno \(code.rawValue)"
        return "\(operation): \(message) (\(code.name)\(number))"
    }
}

extension ZMQError.Code {
    /// Lets callers write `catch ZMQError.Code.hostUnreachable { ... }`.
    public static func ~= (code: ZMQError.Code, error: any Error) -> Bool {
        (error as? ZMQError)?.code == code
    }
}

/// Reads `zmq_errno()` now and builds the error; traps on codes that can only mean a bug here.
@inline(never)
func lastZMQError(_ operation: @autoclosure () -> String) -> ZMQError {
    let code = ZMQError.Code(rawValue: zmq_errno())
    let error = ZMQError(code: code, operation: operation())
    if code == .notSocket || code == .badAddress {
        fatalError("ZeroMQ: \(error) — a closed or invalid handle reached libzmq; this is a bug in the caller of the ZeroMQ module")
    }
    return error
}
