import NATSClient

/// How a member replicates through NATS JetStream: the servers, the stream's shape, and the
/// limits that keep an offline member's backlog bounded.
///
/// One work-queue stream per cluster, `CONCORD_<cluster>`, holds every message between its
/// members under the subjects `concord.<cluster>.to.<replica>`; each member reads its own
/// subject through a durable pull consumer, `replica-<id>`, and acknowledges a message only
/// once its effect is committed to LMDB. A member that is offline finds its messages waiting
/// when it starts, even from a member that has stopped since.
public struct NATSReplicationOptions: Sendable {
    /// The servers and the connection's behaviour (credentials, TLS, keepalive, reconnect).
    public var nats: NATSOptions
    /// How many servers keep a copy of the stream (1, or 3 for a three-server cluster). Used
    /// only by the member that creates the stream; the others find it.
    public var streamReplicas: Int = 1
    /// The most messages the stream keeps for one member; beyond, its oldest are dropped.
    /// Nothing is lost by that: a sender resends what a member has not acknowledged (in the
    /// replication protocol, not in NATS), so what is dropped is superseded.
    public var maximumPendingMessagesPerMember: Int = 100_000
    /// The most bytes the whole stream keeps; beyond, its oldest messages are dropped.
    public var maximumStreamBytes: Int = 1 << 30
    /// How long a sender waits for a member's acknowledgement before it sends again what the
    /// member lacks.
    public var retransmitTimeout: Duration = .seconds(3)
    /// How long one publish waits for the stream's acknowledgement before it is tried again
    /// with the same message id (the stream drops the duplicate).
    public var publishTimeout: Duration = .seconds(2)
    /// How many times a publish is tried before the message is given up (the replication
    /// protocol sends its content again later). A stream leader election stalls publishes for
    /// several seconds, so the default spans about a minute.
    public var publishAttempts: Int = 30
    /// How many publishes wait for their acknowledgements at once.
    public var publishWindow: Int = 64
    /// How many messages one fetch asks for.
    public var fetchBatch: Int = 256
    /// How long JetStream keeps an unacknowledged message from redelivery.
    public var acknowledgementWait: Duration = .seconds(30)

    /// Options for `nats` with the defaults above.
    public init(nats: NATSOptions) {
        self.nats = nats
    }
}
