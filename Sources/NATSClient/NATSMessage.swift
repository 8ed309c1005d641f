/// A message delivered by the server (`MSG` or `HMSG`), or built to publish.
public struct NATSMessage: Sendable, Equatable {
    /// The subject the message was published to.
    public var subject: String
    /// The subject to reply to, if the publisher gave one.
    public var replyTo: String?
    /// The headers, `nil` for a message sent without a header block (`MSG`).
    public var headers: NATSHeaders?
    /// The body.
    public var payload: [UInt8]

    /// A message of `subject` with `payload`.
    public init(subject: String, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: [UInt8]) {
        self.subject = subject
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// The status code of a status message (`NATS/1.0 404 No Messages` gives 404), or `nil`
    /// for a message that carries data.
    public var status: Int? { headers?.status }

    /// Whether this is a status message with no body (a JetStream fetch's 404, 408, 409 or a
    /// heartbeat's 100, a request's 503), which is never application data.
    public var isStatusOnly: Bool { status != nil && payload.isEmpty }
}
