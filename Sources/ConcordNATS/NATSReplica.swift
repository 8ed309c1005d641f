import Concord
import Foundation
import Logging
import NATSClient

/// A member of a cluster running in this process, replicating with the other members'
/// processes through NATS JetStream.
///
/// ```swift
/// try ReplicaNode.createDirectory(
///     at: url, clusterName: "orders", replica: ReplicaID(1), members: [1, 2, 3].map(ReplicaID.init))
/// let member = try await NATSReplica.open(
///     directory: url, options: NATSReplicationOptions(nats: NATSOptions(servers: ["nats://10.0.0.5:4222"])))
/// try member.replica.update(Key<PNCounter>("hits", bucket: "web"), .increment(1))
/// await member.close()
/// ```
///
/// The member's store, reads, writes, transactions and observation are those of any
/// `Replica`; only its messages travel differently (see `NATSReplicationOptions` for the
/// stream, the subjects and what is acknowledged when).
public final class NATSReplica: Sendable {
    /// The member directory and its open store.
    public let node: ReplicaNode
    let transport: NATSTransport

    /// The hosted member: read and write through it.
    public var replica: Replica { node.replica }

    /// Connects to NATS, makes the cluster's stream and this member's consumer when they are
    /// missing, opens the member directory at `directory` (made by
    /// `ReplicaNode.createDirectory`) and starts replicating.
    ///
    /// - Parameters:
    ///   - encryption: the key of an encrypted cluster; every member needs the same, and
    ///     every replication message is authenticated with it.
    /// - Throws: `NATSError` when no server can be reached, the credentials or certificate are
    ///   refused, or JetStream refuses the stream or consumer; `ConcordError` when the
    ///   directory cannot be opened (see `ReplicaNode`).
    public static func open(
        directory: URL, options: NATSReplicationOptions, encryption: Encryption? = nil,
        observability: Observability = Observability()
    ) async throws -> NATSReplica {
        let manifest = try ClusterDirectory.readManifest(at: directory)
        guard let hosting = manifest.hosting else {
            throw ConcordError(
                .invalidArgument,
                "\(directory.path) holds a whole cluster, not one member: make a member directory with "
                    + "concord replica init")
        }
        let transport = try await NATSTransport.connect(
            clusterName: hosting.clusterName, local: hosting.replica, options: options,
            logger: observability.logger)
        do {
            let node = try ReplicaNode(
                directory: directory, encryption: encryption, transport: transport, observability: observability
            ) { configuration in
                // Between processes a round trip takes milliseconds, not microseconds: waking
                // every 5 ms to look for work a peer has not acknowledged would only spin.
                configuration.antiEntropyIntervalMicroseconds = max(
                    configuration.antiEntropyIntervalMicroseconds, Self.antiEntropyIntervalMicroseconds)
            }
            transport.start()
            // Whatever the member owes its peers from before, it ships now.
            transport.scheduleTick(for: hosting.replica, at: transport.nowMicroseconds)
            return NATSReplica(node: node, transport: transport)
        } catch {
            await transport.close(drainTimeout: .zero)
            throw error
        }
    }

    /// The least time between a member's anti-entropy rounds over NATS.
    static let antiEntropyIntervalMicroseconds: UInt64 = 50_000

    private init(node: ReplicaNode, transport: NATSTransport) {
        self.node = node
        self.transport = transport
    }

    /// Messages this member published (acknowledged by the stream), publishes it gave up
    /// after every attempt, and messages it took from the stream.
    public var messageCounts: (published: UInt64, failed: UInt64, delivered: UInt64) { transport.counts }

    /// Closes the member cleanly, publishes what it still has to send (waiting at most
    /// `drainTimeout`), and closes the connection. What is not published by then the member
    /// sends again when it next runs.
    public func close(drainTimeout: Duration = .seconds(5)) async {
        node.close()
        await transport.close(drainTimeout: drainTimeout)
    }
}
