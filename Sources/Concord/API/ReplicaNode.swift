import Foundation
import Logging

/// One member of a cluster whose members run in separate processes (or machines): its own
/// directory, its own LMDB environment, and a transport between processes instead of the
/// in-memory bus.
///
/// A member directory is made once with `ReplicaNode.createDirectory(at:clusterName:replica:members:configuration:)`
/// and then opened by one process at a time. It holds the same files as a `Cluster`'s
/// directory — `cluster-manifest.json` and `replica-<id>/` — but only the hosted member's
/// folder; the manifest names the cluster and the member (`ClusterManifest.hosting`).
/// `ClusterReader`, and so `concord read`, `status`, `verify`, `digest` and `backup`, read it
/// while the node runs.
///
/// The transport is given by the module that provides it (ConcordNATS's `NATSReplica`
/// opens a node over NATS JetStream). Everything else — updates, reads, transactions,
/// observation — goes through `replica`, exactly as with a `Cluster`'s replicas.
public final class ReplicaNode: @unchecked Sendable {
    /// The member directory.
    public let directory: URL
    /// The manifest as it was when the node opened (with the member's new incarnation).
    public let manifest: ClusterManifest
    /// The hosted member: read and write through it.
    public let replica: Replica
    /// The configuration the member runs with (the directory's, with the key given at
    /// opening).
    public let configuration: Configuration
    private let directoryLock: DirectoryLock
    private let lock = NSLock()
    private var closed = false

    /// Makes the directory of member `replica` of the cluster `clusterName`, whose members are
    /// `members`; each member's process makes its own, with the same name and members.
    ///
    /// - Parameters:
    ///   - clusterName: 1 to 64 letters, digits, `-` or `_`; it names the cluster on the
    ///     transport (NATS subjects and the stream), so every member must use the same.
    ///   - replica: the member this directory holds.
    ///   - members: every member of the cluster, this one included; ids start at 1.
    ///   - configuration: durability, bounds and intervals; `encryption`, when set, encrypts
    ///     the store and authenticates every replication message, so every member needs the
    ///     same key.
    /// - Returns: the manifest written.
    /// - Throws: `.invalidArgument` for a directory that exists and is not empty, a bad name,
    ///   or members that repeat an id, hold 0 or leave out `replica`; `.storage` when the
    ///   directory cannot be written.
    @discardableResult
    public static func createDirectory(
        at directory: URL, clusterName: String, replica: ReplicaID, members: [ReplicaID],
        configuration: Configuration = Configuration()
    ) throws(ConcordError) -> ClusterManifest {
        try ClusterDirectory.checkMemberArguments(clusterName: clusterName, replica: replica, members: members)
        let lock = try ClusterDirectory.lock(at: directory, for: "make the member directory")
        defer { lock.release() }
        return try ClusterDirectory.createMember(
            at: directory, clusterName: clusterName, replica: replica, members: members, configuration: configuration
        ).manifest
    }

    /// Opens the member directory at `directory` over `transport`: the store opens, the
    /// member takes a new incarnation (recorded in the manifest) and starts replicating.
    ///
    /// - Parameters:
    ///   - encryption: the key of an encrypted cluster (the manifest names its identifier).
    ///   - configure: changes to the directory's configuration for this run (intervals,
    ///     bounds); durability and encryption stay as the directory says.
    /// - Throws: `.invalidArgument` when the directory is not a member directory;
    ///   `.directoryInUse` when another process runs it; `.keyMismatch` for a wrong key;
    ///   `.storage`, `.corrupted` or `.formatVersionMismatch` when the store cannot be opened.
    package init(
        directory: URL, encryption: Encryption?, transport: any Transport,
        observability: Observability = Observability(), configure: (inout Configuration) -> Void = { _ in }
    ) throws(ConcordError) {
        self.directory = directory
        directoryLock = try ClusterDirectory.lock(at: directory, for: "run the member")
        do throws(ConcordError) {
            var clusterDirectory = try ClusterDirectory.openMember(at: directory)
            let manifest = clusterDirectory.manifest
            guard let hosting = manifest.hosting else { preconditionFailure("openMember returned a whole cluster") }
            if manifest.encryptionKeyID != nil, encryption == nil {
                throw ConcordError(
                    .keyMismatch,
                    "\(directory.path) is encrypted with key '\(manifest.encryptionKeyID ?? "")': give its key")
            }
            var configuration = manifest.configuration
            configure(&configuration)
            configuration.durability = manifest.configuration.durability
            configuration.encryption = encryption
            if manifest.hidesObjectKeys { configuration.encryption?.hidesObjectKeys = true }
            self.configuration = configuration
            let replica = Replica(
                id: hosting.replica, path: ClusterDirectory.replicaURL(of: hosting.replica, in: directory).path,
                configuration: configuration, transport: transport, observability: observability)
            try replica.open(
                members: manifest.memberIDs, epoch: manifest.epoch, bootstrapping: false,
                incarnationFloor: manifest.incarnation(of: hosting.replica) ?? 0)
            do {
                try clusterDirectory.recordIncarnation(replica.incarnation, of: replica.id)
            } catch {
                replica.close(.crash)
                throw error
            }
            self.replica = replica
            self.manifest = clusterDirectory.manifest
        } catch {
            directoryLock.release()
            throw error
        }
    }

    deinit { close() }

    /// The cluster's name on the transport.
    public var clusterName: String { manifest.hosting?.clusterName ?? "" }

    /// Closes the member cleanly: its store records that it lost nothing, its transport stops
    /// delivering to it, observations end. Idempotent. Close the transport afterwards.
    public func close() {
        let wasOpen = lock.withLock {
            defer { closed = true }
            return !closed
        }
        guard wasOpen else { return }
        replica.close()
        replica.observations.endAll(nil)
        directoryLock.release()
    }
}
