import Foundation
import LMDB
import Locking
import Logging
import Metrics

/// Several replicas in one process, each in its own LMDB environment under one directory,
/// connected by an in-memory `Network`.
///
/// ```swift
/// let cluster = try Cluster(directory: url, replicas: 3)
/// let a = cluster.replicas[0]
/// try a.update(Key<PNCounter>("likes", bucket: "posts"), .increment(2))
/// try cluster.synchronize()
/// ```
///
/// Replica `i` lives in `directory/replica-<i>/`; `directory/cluster-manifest.json` lists the
/// members. Reopening a directory reopens every member it lists (and adds more if
/// `replicas` asks for more). `close()` — or
/// dropping the cluster — closes every environment, so the directory can be reopened at once.
public final class Cluster: @unchecked Sendable {
    /// The directory holding one folder per replica.
    public let directory: URL
    /// The configuration every replica runs with.
    public let configuration: Configuration
    /// The message bus between the replicas: partitions, faults, statistics.
    public let network: Network
    /// Faults to inject into the replicas' commits (a failed write, a full map): for tests
    /// and the simulator, like `network.faults`.
    public let storageFaults = StorageFaults()
    private let lock = NSLock()
    /// Membership, incarnations and epoch, durably (guarded by `lock`).
    private var clusterDirectory: ClusterDirectory
    private var handles: [ReplicaID: Replica] = [:]
    /// The owner's lock on the directory, held until `close()`.
    private let directoryLock: DirectoryLock
    /// Takes `configuration.backups` in background mode (nil otherwise).
    private var backupScheduler: BackupScheduler?
    /// Where metrics and the log go.
    public let observability: Observability
    /// `concord_replicas_up`.
    private let replicasUp: Gauge
    /// The directory's audit log (nil: `Configuration.auditLog` is off).
    let audit: AuditLog?
    /// Whether the initializer finished (a failed one records no close).
    private var opened = false
    /// Power losses simulated in this process, by replica folder (see `bootIdentity(of:)`):
    /// process-wide, so a cluster reopened in this process still counts them, as a machine
    /// that lost power stays in its new boot.
    private static let simulatedPowerLosses = Mutex<[String: Int]>([:])
    private var closed = false

    /// Creates or reopens a cluster of `replicas` replicas under `directory`.
    ///
    /// The directory describes itself in `cluster-manifest.json` (see `ClusterManifest`):
    /// members, incarnations, removed ids, the membership epoch and the configuration the
    /// cluster was made with. A directory of an earlier build is migrated to it.
    ///
    /// The cluster owns the directory until `close()`: another process (or another `Cluster`
    /// of this one) that opens it meanwhile gets `.directoryInUse`, naming this process;
    /// `ClusterReader` reads it meanwhile.
    ///
    /// - Throws: `ConcordError.invalidArgument` for a count below 1 or a directory that is
    ///   not a Concord cluster; `.directoryInUse` when another process owns it; `.storage`,
    ///   `.corrupted` or `.formatVersionMismatch` when the manifest or a replica's store
    ///   cannot be opened.
    public init(
        directory: URL, replicas count: Int, configuration: Configuration = Configuration(),
        observability: Observability = Observability()
    ) throws(ConcordError) {
        guard count >= 1 else {
            throw ConcordError(.invalidArgument, "a cluster needs at least one replica, not \(count)")
        }
        // A cluster whose stores hide their object keys makes every later store hide them too.
        var configuration = configuration
        if configuration.encryption != nil, (try? ClusterDirectory.readManifest(at: directory))?.hidesObjectKeys == true
        {
            configuration.encryption?.hidesObjectKeys = true
        }
        self.directory = directory
        self.configuration = configuration
        self.observability = observability
        replicasUp = Gauge(
            label: MetricName.replicasUp, factory: observability.metricsFactory ?? MetricsSystem.factory)
        network = Network(configuration: configuration)
        let audit = configuration.auditLog ? AuditLog(clusterDirectory: directory) : nil
        self.audit = audit
        let openArguments = [
            "replicas": "\(count)", "durability": "\(configuration.durability)",
            "key": configuration.encryption?.keyID ?? "none",
        ]
        let fresh: Bool
        do throws(ConcordError) {
            directoryLock = try ClusterDirectory.lock(at: directory, for: "open the cluster")
            var clusterDirectory = try ClusterDirectory.open(at: directory, creating: configuration)
            if let hosting = clusterDirectory.manifest.hosting {
                throw ConcordError(
                    .invalidArgument,
                    "\(directory.path) holds replica \(hosting.replica.rawValue) of cluster \(hosting.clusterName), "
                        + "whose other members run in other processes: run it with ReplicaNode "
                        + "(concord replica run DIR --nats URL), not as a Cluster")
            }
            fresh = clusterDirectory.manifest.members.isEmpty
            var added: Set<ReplicaID> = []
            while clusterDirectory.manifest.members.count < count {
                let id = clusterDirectory.manifest.nextReplicaID
                try clusterDirectory.addMember(id)
                added.insert(id)
            }
            try Self.deleteFolders(ofRemoved: clusterDirectory)
            self.clusterDirectory = clusterDirectory
            let members = clusterDirectory.manifest.memberIDs
            var opening: ReplicaID?
            for id in members {
                handles[id] = Replica(
                    id: id, path: path(of: id), configuration: configuration, transport: network,
                    storageFaults: storageFaults, observability: observability)
            }
            do {
                for id in members {
                    opening = id
                    // A replica added to an existing cluster starts empty and asks for state (one
                    // whose files are gone does too: see `ReplicaCore.init`).
                    try open(handles[id]!, members: members, needsState: !fresh && added.contains(id))
                }
                opening = nil
            } catch {
                for handle in handles.values { handle.close(.crash) }
                guard error.code == .storage || error.code == .corrupted, let id = opening else { throw error }
                throw ConcordError(
                    error.code,
                    "\(error.message); the other replicas hold its data: wipe it so that it resyncs from them "
                        + "(Cluster.wipeReplica(\(id.rawValue), inDirectoryAt:), concord wipe DIR --replica \(id.rawValue)), "
                        + "or restore it from a backup",
                    underlying: error.underlying)
            }
        } catch {
            // Recorded only in a cluster directory: a stranger's directory gets no audit folder.
            if let audit, FileManager.default.fileExists(atPath: ClusterDirectory.manifestURL(in: directory).path) {
                do {
                    try audit.record("open", arguments: openArguments, result: "error: \(error)")
                } catch let failure {
                    throw ConcordError(
                        error.code, "\(error.message); the audit log could not record it: \(failure)",
                        underlying: error.underlying)
                }
            }
            throw error
        }
        do throws(ConcordError) {
            if fresh { try audit?.record("init", arguments: openArguments) }
            try audit?.record("open", arguments: openArguments)
        } catch {
            for handle in handles.values { handle.close(.crash) }
            directoryLock.release()
            throw error
        }
        network.startBackground()
        noteReplicasUp()
        lock.withLock { opened = true }
        if case .background = configuration.deliveryMode, let schedule = configuration.backups {
            backupScheduler = BackupScheduler(schedule: schedule) { [weak self] (url) throws(ConcordError) in
                guard let self else { throw ConcordError(.unavailable, "the cluster was closed") }
                return try self.backup(to: url)
            }
        }
    }

    /// Runs the administrative action `body` and records it, with its outcome, in the audit
    /// log (when it is on). A failure to record fails the action.
    func audited<R>(_ action: String, _ arguments: [String: String] = [:], _ body: () throws(ConcordError) -> R)
        throws(ConcordError) -> R
    {
        guard let audit else { return try body() }
        return try audit.recording(action, arguments, body)
    }

    /// Sets `concord_replicas_up`, and logs a membership or lifecycle `event` if given.
    private func noteReplicasUp(_ event: String? = nil, replica: ReplicaID? = nil) {
        if let event {
            var metadata: Logger.Metadata = [:]
            if let replica { metadata["replica"] = "\(replica.rawValue)" }
            observability.logger.notice("\(event)", metadata: metadata)
        }
        replicasUp.record(replicas.filter(\.isRunning).count)
    }

    /// What the backups of `configuration.backups` have done so far (nil: no schedule runs;
    /// it runs only in background delivery mode).
    public var scheduledBackups: ScheduledBackups? { backupScheduler?.current }

    deinit {
        close()
    }

    /// Deletes what is left of removed replicas' folders (a removal interrupted between its
    /// record and the deletion).
    private static func deleteFolders(ofRemoved clusterDirectory: ClusterDirectory) throws(ConcordError) {
        for id in clusterDirectory.manifest.removed {
            let folder = clusterDirectory.replicaURL(of: id).path
            guard FileManager.default.fileExists(atPath: folder) else { continue }
            do {
                try FileManager.default.removeItem(atPath: folder)
            } catch {
                throw ConcordError(
                    .storage, "cannot delete the files of removed replica \(id) at \(folder)", underlying: "\(error)")
            }
        }
    }

    /// What the cluster directory records: members, incarnations, removed ids, epoch and
    /// the configuration the cluster was made with.
    public var manifest: ClusterManifest { lock.withLock { clusterDirectory.manifest } }

    /// Runs `body` on the cluster directory under the lock.
    private func withDirectory<R>(_ body: (inout ClusterDirectory) throws(ConcordError) -> R) throws(ConcordError) -> R
    {
        lock.lock()
        defer { lock.unlock() }
        return try body(&clusterDirectory)
    }

    /// Opens `replica` and records its incarnation in the cluster directory, so a wiped
    /// replica reopens with an incarnation its peers have not seen.
    private func open(_ replica: Replica, members: [ReplicaID], needsState: Bool) throws(ConcordError) {
        let (epoch, floor) = lock.withLock {
            (clusterDirectory.manifest.epoch, clusterDirectory.manifest.incarnation(of: replica.id) ?? 0)
        }
        try replica.open(
            members: members, epoch: epoch, bootstrapping: needsState, incarnationFloor: floor,
            bootIdentity: bootIdentity(of: replica.id))
        do {
            try withDirectory { (directory) throws(ConcordError) in
                try directory.recordIncarnation(replica.incarnation, of: replica.id)
            }
        } catch {
            replica.close(.crash)
            throw error
        }
    }

    private func path(of id: ReplicaID) -> String {
        ClusterDirectory.replicaURL(of: id, in: directory).path
    }

    // MARK: Replicas

    /// Every member replica (running or crashed), ordered by id.
    public var replicas: [Replica] {
        lock.withLock { handles.keys.sorted().map { handles[$0]! } }
    }

    /// The member replica with `id`, if any.
    public func replica(_ id: ReplicaID) -> Replica? {
        lock.withLock { handles[id] }
    }

    private func member(_ id: ReplicaID) throws(ConcordError) -> Replica {
        guard let replica = replica(id) else {
            throw ConcordError(.invalidArgument, "replica \(id) is not a member of this cluster")
        }
        return replica
    }

    private var memberIDs: [ReplicaID] { lock.withLock { handles.keys.sorted() } }

    // MARK: Manual-mode driving

    /// Performs one delivery or timer event; returns `false` when nothing is left to do.
    @discardableResult
    public func step() -> Bool {
        network.step()
    }

    /// Steps until nothing more can happen. Always terminates: what cannot cross a
    /// partition waits for `heal()`; with loss configured, replicas resend until every
    /// reachable peer has everything.
    ///
    /// - Parameter maximumSteps: a safety bound.
    /// - Throws: `ConcordError.didNotQuiesce` past `maximumSteps` (a bug: please report
    ///   it with the seed).
    public func synchronize(maximumSteps: Int = 50_000_000) throws(ConcordError) {
        try network.synchronize(maximumSteps: maximumSteps)
    }

    // MARK: Faults and membership

    /// Throws when, besides `id`, members remain and every one is running and bootstrapping:
    /// bootstrapping replicas serve no state, so none of them could ever finish. (A member
    /// that is down may come back done, so it counts as able to serve.)
    private func requireAnotherServingMember(besides id: ReplicaID, toBe action: String) throws(ConcordError) {
        let others = replicas.filter { $0.id != id }
        guard others.isEmpty || others.contains(where: { !$0.isRunning || !$0.status().isBootstrapping }) else {
            throw ConcordError(
                .invalidArgument,
                "replica \(id) cannot be \(action): every other member is still bootstrapping, so none could serve "
                    + "a state; wait until one has caught up")
        }
    }

    /// Crashes a replica: drops everything it holds in memory (buffers, peer state not yet
    /// persisted, timers) and closes its environment; its files stay as its last commit
    /// left them. Messages to it are lost until `restart`.
    /// - Throws: `ConcordError.invalidArgument` for a non-member.
    public func crash(_ id: ReplicaID) throws(ConcordError) {
        try crash(id, losingUnsyncedCommits: false)
    }

    /// Crashes a replica, and with `losingUnsyncedCommits` its machine too, as in a power
    /// loss: under `.noSync` durability the replica's last commit vanishes unless it was
    /// flushed (its files go back to the snapshot before it; `.full` commits are always
    /// flushed, so nothing vanishes).
    ///
    /// On `restart` the replica finds its store was left open in another boot of its
    /// machine and recovers: until every member has reported and none knows a transaction
    /// of its own that it lacks, it writes under its incarnation's writer id (so it never
    /// reuses a dot a peer holds) and refuses the types that need the complete state
    /// (`CRDT.operationsNeedCompleteState`), and meanwhile gets back what it lost from its
    /// peers.
    /// - Throws: `ConcordError.invalidArgument` for a non-member; `.storage` when the files
    ///   cannot be rolled back (the replica is down all the same).
    public func crash(_ id: ReplicaID, losingUnsyncedCommits: Bool) throws(ConcordError) {
        try audited("crash", ["replica": "\(id.rawValue)", "losingUnsyncedCommits": "\(losingUnsyncedCommits)"]) {
            () throws(ConcordError) -> Void in
            let replica = try member(id)
            let unsynced = replica.close(.crash)
            noteReplicasUp()
            guard losingUnsyncedCommits else { return }
            Self.simulatedPowerLosses.withLock { $0[replica.path, default: 0] += 1 }
            guard unsynced, configuration.durability != .full else { return }
            do throws(LMDBError) {
                try Environment.discardLastCommit(atPath: replica.path)
            } catch {
                throw .storage(error, "cannot roll back the files of replica \(id) as a power loss would")
            }
        }
    }

    /// The boot of the machine replica `id` runs in: this machine's, and one more for each
    /// power loss `crash(_:losingUnsyncedCommits:)` simulated.
    private func bootIdentity(of id: ReplicaID) -> String {
        let losses = Self.simulatedPowerLosses.withLock { $0[path(of: id)] ?? 0 }
        return losses == 0 ? BootIdentity.current : "\(BootIdentity.current)+power-loss-\(losses)"
    }

    /// Reopens a crashed replica from its files; it tells its peers its clock and catches up.
    /// - Throws: as opening the replica's store.
    public func restart(_ id: ReplicaID) throws(ConcordError) {
        try audited("restart", ["replica": "\(id.rawValue)"]) { () throws(ConcordError) -> Void in
            let replica = try member(id)
            guard !replica.isRunning else { return }
            try open(replica, members: memberIDs, needsState: false)
            network.wakeAll()
            noteReplicasUp()
        }
    }

    /// Crashes a replica, deletes its files, and reopens it empty — the seed's "partial
    /// recovery of one node". It resyncs from a peer's full state; meanwhile it writes under
    /// its incarnation's writer id (so it never reuses a dot of its earlier updates) and
    /// refuses the types that need the complete state (`CRDT.operationsNeedCompleteState`).
    /// - Throws: `.invalidArgument` for a non-member, or when every other member is running
    ///   and bootstrapping itself (none could ever send it a state); `.storage` when its
    ///   files cannot be deleted.
    public func wipe(_ id: ReplicaID) throws(ConcordError) {
        try audited("wipe", ["replica": "\(id.rawValue)"]) { () throws(ConcordError) -> Void in
            let replica = try member(id)
            try requireAnotherServingMember(besides: id, toBe: "wiped")
            try crash(id)
            do {
                try FileManager.default.removeItem(atPath: replica.path)
            } catch {
                throw ConcordError(.storage, "cannot delete the files of replica \(id)", underlying: "\(error)")
            }
            try open(replica, members: memberIDs, needsState: true)
            network.wakeAll()
            noteReplicasUp("wiped a replica: it resyncs from its peers", replica: id)
        }
    }

    /// Adds a replica with a new id; it starts empty and catches up by state transfer.
    ///
    /// The new member is recorded in the cluster directory before it opens; if it cannot
    /// open, it is recorded as removed (its id is never reused) and the error is thrown.
    /// - Throws: `.storage` when the cluster directory cannot be written or the replica's
    ///   store cannot be opened.
    @discardableResult
    public func addReplica() throws(ConcordError) -> Replica {
        return try audited("add replica", [:]) { () throws(ConcordError) -> Replica in
            let id = try withDirectory { (directory) throws(ConcordError) -> ReplicaID in
                let id = directory.manifest.nextReplicaID
                try directory.addMember(id)
                return id
            }
            let replica = Replica(
                id: id, path: path(of: id), configuration: configuration, transport: network,
                storageFaults: storageFaults,
                observability: observability)
            lock.withLock { handles[id] = replica }
            let members = memberIDs
            do throws(ConcordError) {
                try open(replica, members: members, needsState: members.count > 1)
            } catch {
                _ = lock.withLock { handles.removeValue(forKey: id) }
                // Leave no member behind that cannot open; the error that matters is the first.
                _ = Result { () throws(ConcordError) in
                    try withDirectory { (directory) throws(ConcordError) in try directory.removeMember(id) }
                }
                throw error
            }
            let epoch = lock.withLock { clusterDirectory.manifest.epoch }
            for other in replicas where other.id != id {
                other.ifRunning { $0.setMembers(members, epoch: epoch) }
            }
            network.wakeAll()
            noteReplicasUp("added a replica: it catches up by state transfer", replica: id)
            return replica
        }
    }

    /// Removes a replica: it leaves the cluster, its files are deleted, and it no longer
    /// holds back garbage collection at the others.
    ///
    /// The removal is recorded in the cluster directory first (so the id is never reused:
    /// peers know a removed replica's transactions by its id); if that fails the replica
    /// stays a member and nothing changes.
    /// - Throws: `.invalidArgument` for a non-member, or when other members remain and all
    ///   of them are running and bootstrapping (a wiped or new replica gets its state only
    ///   from a member that is done, so the cluster could never recover); `.storage` when the
    ///   removal cannot be recorded or the replica's files cannot be deleted (it has left the
    ///   cluster then, and the next open deletes them).
    public func removeReplica(_ id: ReplicaID) throws(ConcordError) {
        try audited("remove replica", ["replica": "\(id.rawValue)"]) { () throws(ConcordError) -> Void in
            let replica = try member(id)
            try requireAnotherServingMember(besides: id, toBe: "removed")
            try withDirectory { (directory) throws(ConcordError) in try directory.removeMember(id) }
            replica.close(.crash)
            replica.observations.endAll(ConcordError(.unavailable, "replica \(id) was removed from the cluster"))
            _ = lock.withLock { handles.removeValue(forKey: id) }
            let members = memberIDs
            let epoch = lock.withLock { clusterDirectory.manifest.epoch }
            for other in replicas {
                other.ifRunning { $0.setMembers(members, epoch: epoch) }
            }
            network.wakeAll()
            noteReplicasUp("removed a replica", replica: id)
            do {
                try FileManager.default.removeItem(atPath: replica.path)
            } catch {
                throw ConcordError(.storage, "cannot delete the files of replica \(id)", underlying: "\(error)")
            }
        }
    }

    /// Closes every replica's environment and stops the network. Idempotent.
    public func close() {
        let (all, wasOpen): ([Replica]?, Bool) = lock.withLock {
            if closed { return (nil, false) }
            closed = true
            return (Array(handles.values), opened)
        }
        guard let all else { return }
        backupScheduler?.stop()
        network.shutDown()
        for replica in all {
            replica.close()
            replica.observations.endAll(nil)
        }
        replicasUp.record(0)
        do {
            if wasOpen { try audit?.record("close") }
        } catch {
            // `close()` cannot throw (deinit calls it): the failure goes to the log instead.
            observability.logger.error("the audit log could not record the close", metadata: ["error": "\(error)"])
        }
        directoryLock.release()
    }
}
