import Concord
import Foundation

/// A replica as the status documents show it, from a running cluster (`Cluster.status()`)
/// or from its store read by another process (`ClusterReader.status()`).
public struct ReplicaReport: Sendable, Hashable {
    /// A peer as the replica sees it.
    public struct Peer: Sendable, Hashable {
        /// The peer.
        public var peer: ReplicaID
        /// What the peer has acknowledged.
        public var acknowledgedClock: VectorClock
        /// Transactions the replica has that the peer has not acknowledged.
        public var lagOperations: UInt64
        /// How long the oldest of those has waited, in milliseconds.
        public var lagMilliseconds: Double
        /// Whether the link to it is up (nil: unknown to a reader of the store).
        public var isReachable: Bool?
    }

    /// The replica.
    public var replica: ReplicaID
    /// Whether it runs (a reader of the store cannot tell: nil).
    public var isRunning: Bool?
    /// Whether it has a store.
    public var hasStore: Bool
    /// Its clock.
    public var clock: VectorClock
    /// Objects stored.
    public var objects: Int
    /// Log entries kept.
    public var logLength: Int
    /// Whether it waits for a peer's state or recovers.
    public var isBootstrapping: Bool
    /// The size of its store file.
    public var fileBytes: UInt64
    /// The bytes of its map in use.
    public var mapUsedBytes: UInt64
    /// Its peers.
    public var peers: [Peer]
    /// Why it could not be read, if it could not.
    public var problem: String?
}

/// The JSON documents of `concord status --json`, `concord health --json` and of `concord
/// serve`'s `/cluster/status`, `/replication/lag` and `/health`: one shape whether the
/// cluster is read from its owner or from another process.
public enum StatusDocuments {
    /// Reports from the stores, as another process reads them.
    public static func reports(_ statuses: [StoredReplicaStatus]) -> [ReplicaReport] {
        statuses.map { status in
            ReplicaReport(
                replica: status.replica, isRunning: nil, hasStore: status.hasStore, clock: status.clock,
                objects: status.objects, logLength: status.logLength, isBootstrapping: status.needsState,
                fileBytes: status.fileBytes, mapUsedBytes: status.mapUsedBytes,
                peers: status.peers.map {
                    ReplicaReport.Peer(
                        peer: $0.peer, acknowledgedClock: $0.acknowledgedClock, lagOperations: $0.lagOperations,
                        lagMilliseconds: $0.lagMilliseconds, isReachable: nil)
                }, problem: status.problem)
        }
    }

    /// Reports from the running cluster that owns the directory.
    public static func reports(_ cluster: Cluster) -> [ReplicaReport] {
        cluster.replicas.map { replica in
            let status = replica.status()
            let usage = replica.storeUsage()
            return ReplicaReport(
                replica: status.replica, isRunning: status.isRunning, hasStore: usage != nil || !status.isRunning,
                clock: status.clock, objects: usage?.objects ?? 0, logLength: status.logLength,
                isBootstrapping: status.isBootstrapping, fileBytes: usage?.fileBytes ?? 0,
                mapUsedBytes: usage?.mapUsedBytes ?? 0,
                peers: status.peers.map {
                    ReplicaReport.Peer(
                        peer: $0.peer, acknowledgedClock: $0.acknowledgedClock, lagOperations: $0.lagOperations,
                        lagMilliseconds: $0.lagMilliseconds, isReachable: $0.isReachable)
                }, problem: status.lastFailure)
        }
    }

    /// Whether every replica with a store has the same clock.
    public static func isConverged(_ reports: [ReplicaReport]) -> Bool {
        Set(reports.filter { $0.hasStore && $0.isRunning != false && $0.problem == nil }.map(\.clock)).count <= 1
    }

    /// The status document.
    public static func status(
        manifest: ClusterManifest, directory: URL, owner: String?, _ reports: [ReplicaReport]
    ) -> JSON {
        .object([
            ("directory", .string(directory.path)),
            ("owner", owner.map(JSON.string) ?? .null),
            ("epoch", .uint(manifest.epoch)),
            ("durability", .string("\(manifest.configuration.durability)")),
            ("converged", .bool(isConverged(reports))),
            ("replicas", .array(reports.map(replica))),
        ])
    }

    /// The replication lag document: per replica, per peer.
    public static func lag(_ reports: [ReplicaReport]) -> JSON {
        .object([
            (
                "replicas",
                .array(
                    reports.map { report in
                        .object([
                            ("replica", .uint(report.replica.rawValue)),
                            ("peers", .array(report.peers.map(peer))),
                        ])
                    })
            )
        ])
    }

    /// The health document.
    public static func health(_ health: Health) -> JSON {
        .object([("status", .string(health.state.rawValue)), ("reasons", .array(health.reasons.map(JSON.string)))])
    }

    private static func replica(_ report: ReplicaReport) -> JSON {
        .object([
            ("replica", .uint(report.replica.rawValue)),
            ("running", report.isRunning.map(JSON.bool) ?? .null),
            ("hasStore", .bool(report.hasStore)),
            ("clock", JSON.clock(report.clock)),
            ("objects", .int(Int64(report.objects))),
            ("logLength", .int(Int64(report.logLength))),
            ("bootstrapping", .bool(report.isBootstrapping)),
            ("fileBytes", .uint(report.fileBytes)),
            ("mapUsedBytes", .uint(report.mapUsedBytes)),
            ("peers", .array(report.peers.map(peer))),
            ("problem", report.problem.map(JSON.string) ?? .null),
        ])
    }

    private static func peer(_ peer: ReplicaReport.Peer) -> JSON {
        .object([
            ("peer", .uint(peer.peer.rawValue)),
            ("acknowledgedClock", JSON.clock(peer.acknowledgedClock)),
            ("lagOperations", .uint(peer.lagOperations)),
            ("lagMilliseconds", .double(peer.lagMilliseconds)),
            ("reachable", peer.isReachable.map(JSON.bool) ?? .null),
        ])
    }
}
