import struct Foundation.Data
import class Foundation.JSONDecoder
import class Foundation.JSONEncoder

/// JetStream over a ``NATSConnection``: streams, durable pull consumers, acknowledged
/// publishes and batched fetches, through the request/reply API under `$JS.API`.
public struct JetStreamContext: Sendable {
    /// The connection the API requests go over.
    public let connection: NATSConnection
    /// The API subject prefix (`$JS.API`, or a domain's).
    public let prefix: String
    /// How long an API request waits for its reply.
    public let timeout: Duration

    /// JetStream over `connection`.
    public init(_ connection: NATSConnection, prefix: String = "$JS.API", timeout: Duration = .seconds(5)) {
        self.connection = connection
        self.prefix = prefix
        self.timeout = timeout
    }

    private struct APIErrorEnvelope: Decodable {
        struct APIError: Decodable {
            var code: Int
            var errCode: Int?
            var description: String?

            enum CodingKeys: String, CodingKey {
                case code
                case errCode = "err_code"
                case description
            }
        }
        var error: APIError?
    }

    /// The `err_code` of "stream name already in use with a different configuration".
    static let streamNameInUse = 10058

    /// Creates a stream, or returns the existing one's info when its configuration equals
    /// `config`.
    ///
    /// - Throws: ``NATSError/Kind/streamConfigurationMismatch`` when a stream of that name
    ///   exists with another configuration; ``NATSError/Kind/jetStream(code:errCode:description:)``
    ///   for other API errors; ``NATSError/Kind/noResponders`` when JetStream is not enabled.
    public func createStream(_ config: StreamConfig) async throws -> StreamInfo {
        try Self.validateName(config.name, "stream")
        do {
            return try await apiRequest("STREAM.CREATE.\(config.name)", body: config)
        } catch let error as NATSError {
            guard case .jetStream(_, Self.streamNameInUse, _) = error.kind else { throw error }
            let existing = try await streamInfo(config.name)
            guard existing.config == config else {
                throw NATSError(
                    .streamConfigurationMismatch,
                    "stream \(config.name) exists with configuration \(existing.config), not \(config)")
            }
            return existing
        }
    }

    /// The configuration and state of stream `name`.
    ///
    /// - Throws: ``NATSError/Kind/jetStream(code:errCode:description:)`` (code 404 when it
    ///   does not exist).
    public func streamInfo(_ name: String) async throws -> StreamInfo {
        try Self.validateName(name, "stream")
        return try await apiRequest("STREAM.INFO.\(name)", body: String?.none)
    }

    /// Deletes stream `name` and its messages and consumers.
    ///
    /// - Throws: ``NATSError/Kind/jetStream(code:errCode:description:)`` (code 404 when it
    ///   does not exist).
    public func deleteStream(_ name: String) async throws {
        try Self.validateName(name, "stream")
        struct Success: Decodable { var success: Bool }
        let reply: Success = try await apiRequest("STREAM.DELETE.\(name)", body: String?.none)
        guard reply.success else {
            throw NATSError(.jetStream(code: 500, errCode: 0, description: "not deleted"), "stream \(name) not deleted")
        }
    }

    /// Creates (or returns, when equal) the durable pull consumer `config.durableName` of
    /// `stream` (`CONSUMER.DURABLE.CREATE.<stream>.<durable>`).
    ///
    /// - Throws: ``NATSError/Kind/invalidArgument`` without a durable name;
    ///   ``NATSError/Kind/jetStream(code:errCode:description:)`` for API errors.
    public func createDurableConsumer(stream: String, _ config: ConsumerConfig) async throws -> ConsumerInfo {
        try Self.validateName(stream, "stream")
        guard let durable = config.durableName else {
            throw NATSError(.invalidArgument, "a durable consumer needs a durable name")
        }
        try Self.validateName(durable, "durable")
        struct Request: Encodable {
            var stream_name: String
            var config: ConsumerConfig
        }
        return try await apiRequest(
            "CONSUMER.DURABLE.CREATE.\(stream).\(durable)", body: Request(stream_name: stream, config: config))
    }

    /// The configuration and progress of consumer `name` of `stream`.
    ///
    /// - Throws: ``NATSError/Kind/jetStream(code:errCode:description:)`` for API errors.
    public func consumerInfo(stream: String, _ name: String) async throws -> ConsumerInfo {
        try Self.validateName(stream, "stream")
        try Self.validateName(name, "consumer")
        return try await apiRequest("CONSUMER.INFO.\(stream).\(name)", body: String?.none)
    }

    /// Deletes consumer `name` of `stream`; a pull waiting on it ends with `409 Consumer
    /// Deleted`.
    ///
    /// - Throws: ``NATSError/Kind/jetStream(code:errCode:description:)`` (code 404 when it
    ///   does not exist).
    public func deleteConsumer(stream: String, _ name: String) async throws {
        try Self.validateName(stream, "stream")
        try Self.validateName(name, "consumer")
        struct Success: Decodable { var success: Bool }
        let reply: Success = try await apiRequest("CONSUMER.DELETE.\(stream).\(name)", body: String?.none)
        guard reply.success else {
            throw NATSError(
                .jetStream(code: 500, errCode: 0, description: "not deleted"), "consumer \(stream).\(name) not deleted")
        }
    }

    /// Publishes to a stream's subject and waits for its ``PubAck``.
    ///
    /// With a `messageID` (sent as `Nats-Msg-Id`), a timeout or a "no responders" (a
    /// stream leader change stalls publishes for seconds) is retried with the same id up to
    /// `attempts` times, waiting 250 ms, 500 ms, 1 s, then 2 s between tries: the stream
    /// stores the message once, and a retry of a stored one gets `duplicate` true.
    /// Without an id a retry could store the message twice, so there is one attempt.
    ///
    /// - Throws: the last ``NATSError/Kind/timeout`` or ``NATSError/Kind/noResponders``;
    ///   ``NATSError/Kind/jetStream(code:errCode:description:)`` when the stream refuses it.
    public func publish(
        _ subject: String, headers: NATSHeaders? = nil, payload: [UInt8], messageID: String? = nil,
        timeout: Duration, attempts: Int = 1
    ) async throws -> PubAck {
        var headers = headers
        if let messageID {
            var withID = headers ?? NATSHeaders()
            try withID.set("Nats-Msg-Id", messageID)
            headers = withID
        }
        let tries = messageID == nil ? 1 : max(1, attempts)
        var backoff = Duration.milliseconds(250)
        for attempt in 1...tries {
            do {
                let reply = try await connection.request(subject, headers: headers, payload: payload, timeout: timeout)
                return try Self.decodeReply(PubAck.self, reply, what: "publish to \(subject)")
            } catch let error as NATSError where error.kind == .timeout || error.kind == .noResponders {
                if attempt == tries { throw error }
            }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(2))
        }
        fatalError("unreachable: the last attempt returns or throws")
    }

    /// Fetches up to `batch` messages from durable pull consumer `durable` of `stream`
    /// (`CONSUMER.MSG.NEXT` with `{"batch":N,"expires":ns}`).
    ///
    /// Returns when `batch` messages arrived or the server ends the pull with a status:
    /// 404 (no messages) and 408 (the pull expired) return what was received, as does 409
    /// for a transient cause (`Leadership Change`, `Server Shutdown`, a message over the
    /// byte limit); 100 (heartbeat) is skipped. A status message is never returned as data.
    /// With `noWait`, the server answers at once (404 when nothing is pending) instead of
    /// waiting up to `expires`.
    ///
    /// - Throws: ``NATSError/Kind/jetStream(code:errCode:description:)`` for a 409 such as
    ///   `Consumer Deleted` or `Exceeded MaxWaiting`, or another status;
    ///   ``NATSError/Kind/noResponders`` when JetStream does not answer;
    ///   ``NATSError/Kind/timeout`` when nothing at all came back within `expires` plus the
    ///   context's timeout (2.9 ignores a pull from a consumer that does not exist);
    ///   ``NATSError/Kind/invalidArgument`` for a batch below 1 or an expiry not above 0.
    public func fetch(
        stream: String, durable: String, batch: Int, expires: Duration, noWait: Bool = false
    ) async throws -> [JetStreamMessage] {
        try Self.validateName(stream, "stream")
        try Self.validateName(durable, "durable")
        guard batch >= 1, expires > .zero else {
            throw NATSError(.invalidArgument, "fetch needs a batch of at least 1 and a positive expiry")
        }
        let inbox = connection.newInbox()
        let subscription = try connection.subscribe(inbox)
        defer { subscription.unsubscribe() }
        // 2.9 waits for `expires` even with `no_wait`, so a no-wait pull sends no expiry.
        let body =
            noWait
            ? "{\"batch\":\(batch),\"no_wait\":true}" : "{\"batch\":\(batch),\"expires\":\(expires.nanoseconds)}"
        try connection.publish(
            "\(prefix).CONSUMER.MSG.NEXT.\(stream).\(durable)", replyTo: inbox, payload: Array(body.utf8))
        // The server ends the pull by `expires`; this bound only guards against a lost end.
        let guardTimer = Task { [timeout] in
            try await Task.sleep(for: noWait ? timeout : expires + timeout)
            subscription.unsubscribe()
        }
        defer { guardTimer.cancel() }
        var messages: [JetStreamMessage] = []
        for await message in subscription {
            if let status = message.status {
                let description = message.headers?.statusDescription ?? ""
                switch status {
                case 100:
                    continue
                case 404, 408:
                    return messages
                case 409 where Self.isTransientConflict(description):
                    return messages
                case 503:
                    throw NATSError(.noResponders, "no JetStream consumer \(stream).\(durable) answers")
                default:
                    throw NATSError(
                        .jetStream(code: status, errCode: 0, description: description),
                        "fetch from \(stream).\(durable) ended with status \(status) \(description)")
                }
            }
            messages.append(try JetStreamMessage(message, connection: connection))
            if messages.count == batch {
                return messages
            }
        }
        // The subscription ended without a status: cancelled, closed, or the guard fired.
        try Task.checkCancellation()
        if connection.status == .closed {
            throw NATSError(.closed, "connection closed during a fetch from \(stream).\(durable)")
        }
        if messages.isEmpty {
            throw NATSError(
                .timeout, "no answer to a pull from \(stream).\(durable): does the consumer exist?")
        }
        return messages
    }

    static func isTransientConflict(_ description: String) -> Bool {
        description == "Leadership Change" || description == "Server Shutdown"
            || description.hasPrefix("Message Size Exceeds MaxBytes")
    }

    private func apiRequest<Reply: Decodable>(_ operation: String, body: (some Encodable)?) async throws -> Reply {
        var payload: [UInt8] = []
        if let body {
            do {
                payload = Array(try JSONEncoder().encode(body))
            } catch {
                throw NATSError(.invalidArgument, "\(operation) body could not be encoded: \(error)")
            }
        }
        let reply: NATSMessage
        do {
            reply = try await connection.request("\(prefix).\(operation)", payload: payload, timeout: timeout)
        } catch let error as NATSError where error.kind == .noResponders {
            throw NATSError(.noResponders, "no JetStream API answers \(prefix).\(operation): is JetStream enabled?")
        }
        return try Self.decodeReply(Reply.self, reply, what: operation)
    }

    static func decodeReply<Reply: Decodable>(_ type: Reply.Type, _ reply: NATSMessage, what: String) throws(NATSError)
        -> Reply
    {
        let data = Data(reply.payload)
        let decoder = JSONDecoder()
        let envelope: APIErrorEnvelope
        do {
            envelope = try decoder.decode(APIErrorEnvelope.self, from: data)
        } catch {
            throw NATSError(.protocolViolation, "\(what): the reply is not JSON: \(error)")
        }
        if let apiError = envelope.error {
            let description = apiError.description ?? ""
            throw NATSError(
                .jetStream(code: apiError.code, errCode: apiError.errCode ?? 0, description: description),
                "\(what): \(description) (\(apiError.code), err_code \(apiError.errCode ?? 0))")
        }
        do {
            return try decoder.decode(Reply.self, from: data)
        } catch {
            throw NATSError(.protocolViolation, "\(what): unexpected reply: \(error)")
        }
    }

    static func validateName(_ name: String, _ what: String) throws(NATSError) {
        if name.isEmpty
            || name.utf8.contains(where: {
                $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "*")
                    || $0 == UInt8(ascii: ">")
            })
        {
            throw NATSError(
                .invalidArgument, "\(what) name \(name.debugDescription) is empty or holds . * > or a blank")
        }
    }
}
