/// How a stream keeps messages: until limits are hit, until acknowledged (a work queue),
/// or while a consumer is interested.
public enum RetentionPolicy: String, Sendable, Codable, Equatable {
    /// Messages stay until the stream's limits remove them.
    case limits
    /// A message is removed once a consumer acknowledges it; one consumer per subject.
    case workQueue = "workqueue"
    /// Messages stay while some consumer has not acknowledged them.
    case interest
}

/// Where a stream stores messages.
public enum StorageType: String, Sendable, Codable, Equatable {
    /// On disk, in the server's `store_dir`.
    case file
    /// In memory: lost when the server stops.
    case memory
}

/// What a full stream does with a new message.
public enum DiscardPolicy: String, Sendable, Codable, Equatable {
    /// Removes the oldest messages to make room.
    case old
    /// Refuses the new message.
    case new
}

/// Which messages a new consumer starts from.
public enum DeliverPolicy: Sendable, Equatable {
    /// Every message in the stream.
    case all
    /// The last message only.
    case last
    /// Only messages published after the consumer was created.
    case new
    /// Messages from this stream sequence on.
    case byStartSequence(UInt64)
    /// The last message of each subject.
    case lastPerSubject
}

/// How a consumer expects acknowledgements.
public enum AckPolicy: String, Sendable, Codable, Equatable {
    /// No acknowledgement: delivered is done.
    case none
    /// Acknowledging a message acknowledges every one before it.
    case all
    /// Each message is acknowledged on its own (required by work-queue streams).
    case explicit
}

/// A stream's configuration, as the JetStream 2.9 API names it (`snake_case` JSON,
/// durations in nanoseconds). The defaults are the server's, so a configuration read back
/// from the server compares equal to the one created.
public struct StreamConfig: Sendable, Equatable, Codable {
    /// The stream's name: no blank, `.`, `*` or `>`.
    public var name: String
    /// The subjects the stream captures (wildcards allowed).
    public var subjects: [String]
    /// How long messages are kept.
    public var retention: RetentionPolicy = .limits
    /// Where messages are stored.
    public var storage: StorageType = .file
    /// How many servers hold a copy (1, 3 or 5 in a cluster).
    public var replicas = 1
    /// The most messages kept; -1 is unlimited.
    public var maxMessages: Int64 = -1
    /// The most bytes kept; -1 is unlimited.
    public var maxBytes: Int64 = -1
    /// The most messages kept per subject; -1 is unlimited.
    public var maxMessagesPerSubject: Int64 = -1
    /// The largest message accepted; -1 is the server's `max_payload`.
    public var maxMessageSize: Int32 = -1
    /// The oldest a message may get; zero keeps messages forever.
    public var maxAge: Duration = .zero
    /// The most consumers; -1 is unlimited.
    public var maxConsumers = -1
    /// What a full stream does.
    public var discard: DiscardPolicy = .old
    /// How long `Nats-Msg-Id` values are remembered to drop duplicates.
    public var duplicateWindow: Duration = .seconds(120)

    /// A stream `name` over `subjects`, with the server's defaults otherwise.
    public init(name: String, subjects: [String]) {
        self.name = name
        self.subjects = subjects
    }

    enum CodingKeys: String, CodingKey {
        case name, subjects, retention, storage, discard
        case replicas = "num_replicas"
        case maxMessages = "max_msgs"
        case maxBytes = "max_bytes"
        case maxMessagesPerSubject = "max_msgs_per_subject"
        case maxMessageSize = "max_msg_size"
        case maxAge = "max_age"
        case maxConsumers = "max_consumers"
        case duplicateWindow = "duplicate_window"
    }

    /// Decodes the server's JSON, taking the defaults for fields it leaves out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        subjects = try container.decodeIfPresent([String].self, forKey: .subjects) ?? []
        retention = try container.decodeIfPresent(RetentionPolicy.self, forKey: .retention) ?? .limits
        storage = try container.decodeIfPresent(StorageType.self, forKey: .storage) ?? .file
        replicas = try container.decodeIfPresent(Int.self, forKey: .replicas) ?? 1
        maxMessages = try container.decodeIfPresent(Int64.self, forKey: .maxMessages) ?? -1
        maxBytes = try container.decodeIfPresent(Int64.self, forKey: .maxBytes) ?? -1
        maxMessagesPerSubject = try container.decodeIfPresent(Int64.self, forKey: .maxMessagesPerSubject) ?? -1
        maxMessageSize = try container.decodeIfPresent(Int32.self, forKey: .maxMessageSize) ?? -1
        maxAge = .nanoseconds(try container.decodeIfPresent(Int64.self, forKey: .maxAge) ?? 0)
        maxConsumers = try container.decodeIfPresent(Int.self, forKey: .maxConsumers) ?? -1
        discard = try container.decodeIfPresent(DiscardPolicy.self, forKey: .discard) ?? .old
        duplicateWindow = .nanoseconds(
            try container.decodeIfPresent(Int64.self, forKey: .duplicateWindow) ?? 120_000_000_000)
    }

    /// Encodes every field, durations as nanoseconds.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(subjects, forKey: .subjects)
        try container.encode(retention, forKey: .retention)
        try container.encode(storage, forKey: .storage)
        try container.encode(replicas, forKey: .replicas)
        try container.encode(maxMessages, forKey: .maxMessages)
        try container.encode(maxBytes, forKey: .maxBytes)
        try container.encode(maxMessagesPerSubject, forKey: .maxMessagesPerSubject)
        try container.encode(maxMessageSize, forKey: .maxMessageSize)
        try container.encode(maxAge.nanoseconds, forKey: .maxAge)
        try container.encode(maxConsumers, forKey: .maxConsumers)
        try container.encode(discard, forKey: .discard)
        try container.encode(duplicateWindow.nanoseconds, forKey: .duplicateWindow)
    }
}

/// A pull consumer's configuration, as the JetStream 2.9 API names it (`filter_subject`,
/// singular: 2.9 rejects 2.10's `filter_subjects`).
public struct ConsumerConfig: Sendable, Equatable, Codable {
    /// The durable name, which keeps the consumer across restarts.
    public var durableName: String?
    /// Only messages of this subject (wildcards allowed) are delivered.
    public var filterSubject: String?
    /// Which messages the consumer starts from.
    public var deliverPolicy: DeliverPolicy = .all
    /// How messages are acknowledged.
    public var ackPolicy: AckPolicy = .explicit
    /// How long the server waits for an acknowledgement before delivering again.
    public var ackWait: Duration = .seconds(30)
    /// The most deliveries of one message; -1 is unlimited.
    public var maxDeliver = -1
    /// The most messages delivered and not acknowledged at once.
    public var maxAckPending = 1000
    /// The most pull requests waiting at once.
    public var maxWaiting = 512

    /// A durable consumer named `durableName`, optionally filtered to `filterSubject`.
    public init(durableName: String?, filterSubject: String? = nil) {
        self.durableName = durableName
        self.filterSubject = filterSubject
    }

    enum CodingKeys: String, CodingKey {
        case durableName = "durable_name"
        case filterSubject = "filter_subject"
        case deliverPolicy = "deliver_policy"
        case startSequence = "opt_start_seq"
        case ackPolicy = "ack_policy"
        case ackWait = "ack_wait"
        case maxDeliver = "max_deliver"
        case maxAckPending = "max_ack_pending"
        case maxWaiting = "max_waiting"
        case replayPolicy = "replay_policy"
    }

    /// Decodes the server's JSON, taking the defaults for fields it leaves out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        durableName = try container.decodeIfPresent(String.self, forKey: .durableName)
        let filter = try container.decodeIfPresent(String.self, forKey: .filterSubject)
        filterSubject = filter?.isEmpty == true ? nil : filter
        switch try container.decodeIfPresent(String.self, forKey: .deliverPolicy) ?? "all" {
        case "all": deliverPolicy = .all
        case "last": deliverPolicy = .last
        case "new": deliverPolicy = .new
        case "last_per_subject": deliverPolicy = .lastPerSubject
        case "by_start_sequence":
            deliverPolicy = .byStartSequence(try container.decode(UInt64.self, forKey: .startSequence))
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .deliverPolicy, in: container, debugDescription: "unknown deliver_policy \(other)")
        }
        ackPolicy = try container.decodeIfPresent(AckPolicy.self, forKey: .ackPolicy) ?? .explicit
        ackWait = .nanoseconds(try container.decodeIfPresent(Int64.self, forKey: .ackWait) ?? 30_000_000_000)
        maxDeliver = try container.decodeIfPresent(Int.self, forKey: .maxDeliver) ?? -1
        maxAckPending = try container.decodeIfPresent(Int.self, forKey: .maxAckPending) ?? 1000
        maxWaiting = try container.decodeIfPresent(Int.self, forKey: .maxWaiting) ?? 512
    }

    /// Encodes every field, durations as nanoseconds; `replay_policy` is `instant`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(durableName, forKey: .durableName)
        try container.encodeIfPresent(filterSubject, forKey: .filterSubject)
        switch deliverPolicy {
        case .all: try container.encode("all", forKey: .deliverPolicy)
        case .last: try container.encode("last", forKey: .deliverPolicy)
        case .new: try container.encode("new", forKey: .deliverPolicy)
        case .lastPerSubject: try container.encode("last_per_subject", forKey: .deliverPolicy)
        case .byStartSequence(let sequence):
            try container.encode("by_start_sequence", forKey: .deliverPolicy)
            try container.encode(sequence, forKey: .startSequence)
        }
        try container.encode(ackPolicy, forKey: .ackPolicy)
        try container.encode(ackWait.nanoseconds, forKey: .ackWait)
        try container.encode(maxDeliver, forKey: .maxDeliver)
        try container.encode(maxAckPending, forKey: .maxAckPending)
        try container.encode(maxWaiting, forKey: .maxWaiting)
        try container.encode("instant", forKey: .replayPolicy)
    }
}

/// A stream's configuration and state, as `STREAM.INFO` returns them.
public struct StreamInfo: Sendable, Equatable, Decodable {
    /// The configuration the server holds (with its defaults filled in).
    public var config: StreamConfig
    /// The stream's contents.
    public var state: StreamState
}

/// What a stream holds.
public struct StreamState: Sendable, Equatable, Decodable {
    /// Messages stored.
    public var messages: UInt64
    /// Bytes stored.
    public var bytes: UInt64
    /// The sequence of the oldest message.
    public var firstSequence: UInt64
    /// The sequence of the newest message.
    public var lastSequence: UInt64
    /// Consumers of the stream.
    public var consumerCount: Int

    enum CodingKeys: String, CodingKey {
        case messages, bytes
        case firstSequence = "first_seq"
        case lastSequence = "last_seq"
        case consumerCount = "consumer_count"
    }
}

/// A consumer's configuration and progress, as `CONSUMER.INFO` returns them.
public struct ConsumerInfo: Sendable, Equatable, Decodable {
    /// The stream consumed.
    public var streamName: String
    /// The consumer's name.
    public var name: String
    /// The configuration the server holds.
    public var config: ConsumerConfig
    /// Messages delivered and not yet acknowledged.
    public var ackPendingCount: Int
    /// Messages of the filter not yet delivered.
    public var pendingCount: UInt64
    /// Messages delivered more than once and not yet acknowledged.
    public var redeliveredCount: Int

    enum CodingKeys: String, CodingKey {
        case streamName = "stream_name"
        case name, config
        case ackPendingCount = "num_ack_pending"
        case pendingCount = "num_pending"
        case redeliveredCount = "num_redelivered"
    }
}

/// The server's acknowledgement of a JetStream publish.
public struct PubAck: Sendable, Equatable, Decodable {
    /// The stream that stored the message.
    public var stream: String
    /// The message's stream sequence.
    public var sequence: UInt64
    /// Whether the stream already held a message of that `Nats-Msg-Id` within its
    /// duplicate window (and so stored nothing).
    public var duplicate: Bool

    enum CodingKeys: String, CodingKey {
        case stream
        case sequence = "seq"
        case duplicate
    }

    /// Decodes `{"stream":…,"seq":…[,"duplicate":true]}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stream = try container.decode(String.self, forKey: .stream)
        sequence = try container.decode(UInt64.self, forKey: .sequence)
        duplicate = try container.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64`: the JetStream API's unit for durations.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow {
            return seconds < 0 ? .min : .max
        }
        let (sum, overflowSum) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowSum ? (seconds < 0 ? .min : .max) : sum
    }
}
