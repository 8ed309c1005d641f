/// An error from the NATS client: what went wrong (``kind``) and a message that names it.
///
/// Compare errors by ``kind``; ``message`` is for people and may change.
public struct NATSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The class of an error.
    public enum Kind: Sendable, Equatable {
        /// No server accepted a TCP connection.
        case connectionRefused
        /// The server refused the credentials (`-ERR 'Authorization Violation'`).
        case authorization
        /// The TLS handshake failed or the TLS files could not be loaded.
        case tls
        /// The peer sent bytes that are not the NATS protocol, or broke one of its limits.
        case protocolViolation
        /// An operation did not complete in time.
        case timeout
        /// A request found no subscriber (status 503).
        case noResponders
        /// The connection was closed by ``NATSConnection/close()`` or gave up reconnecting.
        case closed
        /// The connection dropped while the operation waited; the client is reconnecting.
        case connectionLost
        /// Unsent bytes exceed the bound (``NATSOptions/reconnectBufferBytes`` while
        /// disconnected, ``NATSOptions/maxPendingBytes`` while connected).
        case bufferFull
        /// A payload (with its headers) exceeds the server's `max_payload`.
        case payloadTooLarge
        /// A subject, reply subject or queue group name is not valid.
        case invalidSubject
        /// A header name or value is not valid (empty name, `:` in a name, CR or LF).
        case invalidHeader
        /// An argument is out of its range (a batch size of 0, a negative count).
        case invalidArgument
        /// The server sent `-ERR` with a reason not covered by another kind.
        case serverError
        /// A JetStream API error: its HTTP-like `code`, the NATS `errCode` (0 for a status
        /// message) and the server's description.
        case jetStream(code: Int, errCode: Int, description: String)
        /// ``JetStreamContext/createStream(_:)`` found a stream of that name whose
        /// configuration differs from the one asked for.
        case streamConfigurationMismatch
    }

    /// The class of the error.
    public var kind: Kind
    /// What happened, for people.
    public var message: String

    /// An error of `kind` saying `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The kind and the message.
    public var description: String { "NATSError.\(kind): \(message)" }
}
