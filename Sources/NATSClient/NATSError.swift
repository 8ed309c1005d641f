/// An error from the NATS client: what went wrong (`kind`) and a message that names it.
public struct NATSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The class of an error.
    public enum Kind: Sendable, Equatable {
        /// No server accepted a TCP connection.
        case connectionRefused
        /// The server refused the credentials (`-ERR 'Authorization Violation'`).
        case authorization
        /// The TLS handshake failed or TLS was misconfigured.
        case tls
        /// The peer sent bytes that are not the NATS protocol, or broke one of its limits.
        case protocolViolation
        /// An operation did not complete in time.
        case timeout
        /// A request found no subscriber (status 503).
        case noResponders
        /// The connection is closed.
        case closed
        /// A payload exceeds the server's `max_payload`.
        case payloadTooLarge
        /// A subject or queue group name is not valid.
        case invalidSubject
        /// The server sent `-ERR`.
        case serverError
        /// A JetStream API error: HTTP-like `code`, NATS `errCode`, and the description.
        case jetStream(code: Int, errCode: Int, description: String)
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
