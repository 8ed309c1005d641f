import LMDB

/// An engine error: what went wrong, and what to do about it.
///
/// Like `Errno`, an open struct with static codes, so callers can match
/// `catch let error as ConcordError where error.code == .timeout`.
public struct ConcordError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of error.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The raw code.
        public let rawValue: UInt16
        /// Creates a code from its raw value.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// The key holds an object of another CRDT type than the `Key` names.
        public static let typeMismatch = Code(rawValue: 1)
        /// Stored bytes failed to decode: the store is damaged (nothing was changed).
        public static let corrupted = Code(rawValue: 2)
        /// The replica is crashed, removed or closed.
        public static let unavailable = Code(rawValue: 3)
        /// `read(_:after:)` waited longer than its timeout.
        public static let timeout = Code(rawValue: 4)
        /// The CRDT refused the operation (e.g. a bounded-counter decrement without rights).
        public static let operationRejected = Code(rawValue: 5)
        /// The on-disk format version is not one this build reads.
        public static let formatVersionMismatch = Code(rawValue: 6)
        /// An LMDB call failed (the underlying `LMDBError` is in the message).
        public static let storage = Code(rawValue: 7)
        /// A wiped or new replica has not yet received its state from a peer.
        public static let bootstrapping = Code(rawValue: 8)
        /// A call's arguments are out of range (an unknown replica id, a zero count).
        public static let invalidArgument = Code(rawValue: 9)
        /// `synchronize()` ran more steps than its limit without quiescing.
        public static let didNotQuiesce = Code(rawValue: 10)
        /// A call on a replica was made from inside a transaction's closure on the same
        /// replica (it would wait forever for the lock the transaction holds).
        public static let reentrantCall = Code(rawValue: 11)
        /// The cluster directory is owned by another process (or another `Cluster` of this
        /// one); the message names it. Reading it works meanwhile (`ClusterReader`).
        public static let directoryInUse = Code(rawValue: 12)
        /// The key given does not fit the store: a wrong key, no key for an encrypted store,
        /// a key for a plain one, or an unfinished rekey. Nothing was read or written.
        public static let keyMismatch = Code(rawValue: 13)

        /// The code's name.
        public var description: String {
            switch self {
            case .typeMismatch: "type mismatch"
            case .corrupted: "corrupted"
            case .unavailable: "unavailable"
            case .timeout: "timeout"
            case .operationRejected: "operation rejected"
            case .formatVersionMismatch: "format version mismatch"
            case .storage: "storage"
            case .bootstrapping: "bootstrapping"
            case .invalidArgument: "invalid argument"
            case .didNotQuiesce: "did not quiesce"
            case .reentrantCall: "reentrant call"
            case .directoryInUse: "directory in use"
            case .keyMismatch: "key mismatch"
            default: "code \(rawValue)"
            }
        }
    }

    /// The kind of error.
    public var code: Code
    /// What went wrong and what to do.
    public var message: String
    /// The underlying error, when another layer raised it.
    public var underlying: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: String? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `<code>: <message>`.
    public var description: String {
        underlying.map { "\(code): \(message) (\($0))" } ?? "\(code): \(message)"
    }

    static func storage(_ error: LMDBError, _ context: String) -> ConcordError {
        ConcordError(.storage, context, underlying: error.description)
    }

    static func corrupted(_ error: CodecError, _ context: String) -> ConcordError {
        ConcordError(
            .corrupted, "\(context) failed to decode; the stored bytes are damaged", underlying: error.description)
    }
}
