import Foundation

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
/// Replica `i` lives in `directory/replica-<i>/`. Reopening a directory reopens every
/// replica found there (and creates more if `replicas` asks for more). `close()` — or
/// dropping the cluster — closes every environment, so the directory can be reopened at once.
public final class Cluster: @unchecked Sendable {
    /// The directory holding one folder per replica.
    public let directory: URL
    /// The configuration every replica runs with.
    public let configuration: Configuration
    /// The message bus between the replicas: partitions, faults, statistics.
    public let network: Network
    private let lock = NSLock()
    private var handles: [ReplicaID: Replica] = [:]
    private var closed = false

    /// Creates or reopens a cluster of `replicas` replicas under `directory`.
    ///
    /// - Throws: `ConcordError.invalidArgument` for a count below 1; `.storage`,
    ///   `.corrupted` or `.formatVersionMismatch` when a replica's store cannot be opened.
    public init(directory: URL, replicas count: Int, configuration: Configuration = Configuration())
        throws(ConcordError)
    {
        guard count >= 1 else {
            throw ConcordError(.invalidArgument, "a cluster needs at least one replica, not \(count)")
        }
        self.directory = directory
        self.configuration = configuration
        network = Network(configuration: configuration)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ConcordError(
                .storage, "cannot create the cluster directory \(directory.path)", underlying: "\(error)")
        }
        var ids = try Self.existingReplicas(in: directory)
        let fresh = ids.isEmpty
        var next = ((ids + (try Self.removedReplicas(in: directory))).max()?.rawValue ?? 0) + 1
        while ids.count < count {
            ids.append(ReplicaID(next))
            next += 1
        }
        for id in ids {
            handles[id] = Replica(id: id, path: path(of: id), configuration: configuration, transport: network)
        }
        let members = ids.sorted()
        let existing = Set(try Self.existingReplicas(in: directory))
        do {
            for id in members {
                // A replica added to an existing cluster starts empty and asks for state.
                try open(handles[id]!, members: members, needsState: !fresh && !existing.contains(id))
            }
        } catch {
            for handle in handles.values { handle.close() }
            throw error
        }
        network.startBackground()
    }

    deinit {
        close()
    }

    /// Replica ids named by entries `<prefix><id>` of the cluster directory, sorted.
    private static func replicaIDs(in directory: URL, prefix: String) throws(ConcordError) -> [ReplicaID] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw ConcordError(.storage, "cannot list the cluster directory \(directory.path)", underlying: "\(error)")
        }
        return names.compactMap { name -> ReplicaID? in
            guard name.hasPrefix(prefix), let raw = UInt64(name.dropFirst(prefix.count)) else { return nil }
            return ReplicaID(raw)
        }.sorted()
    }

    /// The replicas with a folder `replica-<id>`.
    private static func existingReplicas(in directory: URL) throws(ConcordError) -> [ReplicaID] {
        try replicaIDs(in: directory, prefix: "replica-")
    }

    /// Ids of removed replicas, remembered by marker files so an id is never reused: peers
    /// know a removed replica's transactions by its id, and a new replica reusing it would
    /// have its first updates taken for old ones.
    private static func removedReplicas(in directory: URL) throws(ConcordError) -> [ReplicaID] {
        try replicaIDs(in: directory, prefix: "removed-replica-")
    }

    /// How many replicas have ever been removed: the membership epoch replicas put in their
    /// messages (see `Message.epoch`).
    private func membershipEpoch() throws(ConcordError) -> UInt64 {
        UInt64(try Self.removedReplicas(in: directory).count)
    }

    private func nextReplicaID() throws(ConcordError) -> ReplicaID {
        let used = memberIDs + (try Self.removedReplicas(in: directory))
        return ReplicaID((used.max()?.rawValue ?? 0) + 1)
    }

    /// The file that remembers a replica's last incarnation outside its own folder, so a
    /// wiped replica reopens with an incarnation its peers have not seen.
    private func incarnationFile(of id: ReplicaID) -> URL {
        directory.appendingPathComponent("incarnation-\(id.rawValue)")
    }

    private func incarnationFloor(of id: ReplicaID) -> UInt64 {
        guard let data = FileManager.default.contents(atPath: incarnationFile(of: id).path),
            let text = String(data: data, encoding: .utf8)
        else { return 0 }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Opens `replica` and records its incarnation.
    private func open(_ replica: Replica, members: [ReplicaID], needsState: Bool) throws(ConcordError) {
        try replica.open(
            members: members, epoch: membershipEpoch(), bootstrapping: needsState,
            incarnationFloor: incarnationFloor(of: replica.id))
        do {
            try Data("\(replica.incarnation)\n".utf8).write(to: incarnationFile(of: replica.id), options: .atomic)
        } catch {
            replica.close()
            throw ConcordError(
                .storage, "cannot record the incarnation of replica \(replica.id) in \(directory.path)",
                underlying: "\(error)")
        }
    }

    private func path(of id: ReplicaID) -> String {
        directory.appendingPathComponent("replica-\(id.rawValue)").path
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
        var steps = 0
        while network.step() {
            steps += 1
            if steps >= maximumSteps {
                throw ConcordError(
                    .didNotQuiesce, "no quiescence after \(steps) steps (seed \(configuration.seed))")
            }
        }
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
        let replica = try member(id)
        replica.close()
    }

    /// Reopens a crashed replica from its files; it tells its peers its clock and catches up.
    /// - Throws: as opening the replica's store.
    public func restart(_ id: ReplicaID) throws(ConcordError) {
        let replica = try member(id)
        guard !replica.isRunning else { return }
        try open(replica, members: memberIDs, needsState: false)
        network.wakeAll()
    }

    /// Crashes a replica, deletes its files, and reopens it empty: it refuses writes until
    /// a peer's full state arrives (so it never reuses an id of its own earlier updates),
    /// then resyncs — the seed's "partial recovery of one node".
    /// - Throws: `.invalidArgument` for a non-member, or when every other member is running
    ///   and bootstrapping itself (none could ever send it a state); `.storage` when its
    ///   files cannot be deleted.
    public func wipe(_ id: ReplicaID) throws(ConcordError) {
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
    }

    /// Adds a replica with a new id; it starts empty and catches up by state transfer.
    @discardableResult
    public func addReplica() throws(ConcordError) -> Replica {
        let id = try nextReplicaID()
        let replica = Replica(id: id, path: path(of: id), configuration: configuration, transport: network)
        lock.withLock { handles[id] = replica }
        let members = memberIDs
        do {
            try open(replica, members: members, needsState: members.count > 1)
        } catch {
            _ = lock.withLock { handles.removeValue(forKey: id) }
            throw error
        }
        let epoch = try membershipEpoch()
        for other in replicas where other.id != id {
            other.ifRunning { $0.setMembers(members, epoch: epoch) }
        }
        network.wakeAll()
        return replica
    }

    /// Removes a replica: it leaves the cluster, its files are deleted, and it no longer
    /// holds back garbage collection at the others.
    ///
    /// The marker that keeps its id from being reused is written first; if that fails the
    /// replica stays a member and nothing changes.
    /// - Throws: `.invalidArgument` for a non-member, or when other members remain and all
    ///   of them are running and bootstrapping (a wiped or new replica gets its state only
    ///   from a member that is done, so the cluster could never recover); `.storage` when the
    ///   marker cannot be written or the replica's files cannot be deleted (it has left the
    ///   cluster then).
    public func removeReplica(_ id: ReplicaID) throws(ConcordError) {
        let replica = try member(id)
        try requireAnotherServingMember(besides: id, toBe: "removed")
        do {
            try Data().write(to: directory.appendingPathComponent("removed-replica-\(id.rawValue)"))
        } catch {
            throw ConcordError(
                .storage, "cannot record the removal of replica \(id) in \(directory.path)", underlying: "\(error)")
        }
        replica.close()
        _ = lock.withLock { handles.removeValue(forKey: id) }
        let members = memberIDs
        let epoch = try membershipEpoch()
        for other in replicas {
            other.ifRunning { $0.setMembers(members, epoch: epoch) }
        }
        network.wakeAll()
        do {
            try FileManager.default.removeItem(atPath: replica.path)
        } catch {
            throw ConcordError(.storage, "cannot delete the files of replica \(id)", underlying: "\(error)")
        }
    }

    /// Closes every replica's environment and stops the network. Idempotent.
    public func close() {
        let all: [Replica] = lock.withLock {
            if closed { return [] }
            closed = true
            return Array(handles.values)
        }
        network.shutDown()
        for replica in all { replica.close() }
    }
}
