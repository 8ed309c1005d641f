/// Where a JetStream message stands, read from its `$JS.ACK` reply subject.
public struct JetStreamMetadata: Sendable, Equatable {
    /// The JetStream domain, when the subject names one.
    public var domain: String?
    /// The stream the message belongs to.
    public var stream: String
    /// The consumer that delivered it.
    public var consumer: String
    /// How many times it was delivered (1 the first time).
    public var deliveryCount: UInt64
    /// Its sequence in the stream.
    public var streamSequence: UInt64
    /// Its sequence among the consumer's deliveries.
    public var consumerSequence: UInt64
    /// When it was stored, in nanoseconds since 1970.
    public var timestampNanoseconds: Int64
    /// Messages left for the consumer after this one.
    public var pending: UInt64

    /// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or
    /// the form with a domain and account hash (`$JS.ACK.<domain>.<hash>.<stream>…`).
    ///
    /// - Throws: ``NATSError/Kind/protocolViolation`` when the subject is not of either form.
    public init(ackSubject: String) throws(NATSError) {
        let tokens = ackSubject.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else {
            throw NATSError(.protocolViolation, "not a JetStream ack subject: \(ackSubject.debugDescription)")
        }
        let fields: ArraySlice<String>
        if tokens.count == 9 {
            domain = nil
            fields = tokens[2...]
        } else if tokens.count >= 11 {
            domain = tokens[2] == "_" ? nil : tokens[2]
            fields = tokens[4..<11]
        } else {
            throw NATSError(.protocolViolation, "JetStream ack subject of \(tokens.count) tokens: \(ackSubject)")
        }
        let values = Array(fields)
        func number<T: FixedWidthInteger>(_ index: Int, _ name: String) throws(NATSError) -> T {
            guard let value = T(values[index]) else {
                throw NATSError(.protocolViolation, "\(name) \(values[index].debugDescription) in \(ackSubject)")
            }
            return value
        }
        guard !values[0].isEmpty, !values[1].isEmpty else {
            throw NATSError(.protocolViolation, "empty stream or consumer in \(ackSubject)")
        }
        stream = values[0]
        consumer = values[1]
        deliveryCount = try number(2, "delivery count")
        streamSequence = try number(3, "stream sequence")
        consumerSequence = try number(4, "consumer sequence")
        timestampNanoseconds = try number(5, "timestamp")
        pending = try number(6, "pending count")
    }
}

/// A message fetched from a JetStream pull consumer, with its metadata and its
/// acknowledgements.
public struct JetStreamMessage: Sendable {
    /// The message as delivered (its subject is the one it was published to).
    public var message: NATSMessage
    /// Stream, consumer, sequences and delivery count.
    public var metadata: JetStreamMetadata
    private let connection: NATSConnection

    /// A message delivered on `connection`, whose reply subject is its `$JS.ACK` subject.
    ///
    /// - Throws: ``NATSError/Kind/protocolViolation`` when the reply subject is missing or
    ///   not an ack subject.
    public init(_ message: NATSMessage, connection: NATSConnection) throws(NATSError) {
        guard let reply = message.replyTo else {
            throw NATSError(.protocolViolation, "JetStream message on \(message.subject) has no reply subject")
        }
        self.message = message
        self.metadata = try JetStreamMetadata(ackSubject: reply)
        self.connection = connection
    }

    /// The body.
    public var payload: [UInt8] { message.payload }

    /// Acknowledges the message (`+ACK`): a work-queue stream removes it. Returns without
    /// waiting; use ``acknowledge(timeout:)`` to know the server has it.
    ///
    /// - Throws: the errors of ``NATSConnection/publish(_:replyTo:headers:payload:)``.
    public func ack() throws(NATSError) {
        try send("+ACK")
    }

    /// Acknowledges the message and waits for the server to confirm it.
    ///
    /// - Throws: ``NATSError/Kind/timeout`` and the errors of
    ///   ``NATSConnection/request(_:headers:payload:timeout:)``.
    public func acknowledge(timeout: Duration) async throws {
        _ = try await connection.request(message.replyTo!, payload: Array("+ACK".utf8), timeout: timeout)
    }

    /// Asks for the message to be delivered again (`-NAK`), after `delay` if given.
    ///
    /// - Throws: the errors of ``NATSConnection/publish(_:replyTo:headers:payload:)``.
    public func nak(delay: Duration? = nil) throws(NATSError) {
        if let delay {
            try send("-NAK {\"delay\":\(delay.nanoseconds)}")
        } else {
            try send("-NAK")
        }
    }

    /// Tells the server work on the message goes on (`+WPI`): its `ack_wait` restarts.
    ///
    /// - Throws: the errors of ``NATSConnection/publish(_:replyTo:headers:payload:)``.
    public func inProgress() throws(NATSError) {
        try send("+WPI")
    }

    /// Tells the server never to deliver the message again (`+TERM`).
    ///
    /// - Throws: the errors of ``NATSConnection/publish(_:replyTo:headers:payload:)``.
    public func terminate() throws(NATSError) {
        try send("+TERM")
    }

    private func send(_ body: String) throws(NATSError) {
        try connection.publish(message.replyTo!, payload: Array(body.utf8))
    }
}
