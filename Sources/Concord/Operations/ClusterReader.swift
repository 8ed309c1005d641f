import CRDTs
import Foundation
import LMDB

/// A replica's state as its store records it, read without owning the cluster.
public struct StoredReplicaStatus: Sendable, Hashable {
    /// A peer as the replica's store records it.
    public struct Peer: Sendable, Hashable {
        /// The peer.
        public var peer: ReplicaID
        /// What the peer had acknowledged when the replica last recorded it.
        public var acknowledgedClock: VectorClock
        /// Transactions the replica has that the peer had not acknowledged.
        public var lagOperations: UInt64
        /// How long the oldest of those has waited, in milliseconds (0 when none waits).
        public var lagMilliseconds: Double
    }

    /// The replica.
    public var replica: ReplicaID
    /// Whether it has a store (a member whose files are gone rejoins empty when opened).
    public var hasStore: Bool
    /// The incarnation its store last opened with.
    public var incarnation: UInt64
    /// Its clock.
    public var clock: VectorClock
    /// Log entries kept for peers that may lack them.
    public var logLength: Int
    /// Objects stored.
    public var objects: Int
    /// Whether it still waits for a peer's state (wiped, new or restored empty).
    public var needsState: Bool
    /// Whether its store carries the mark of an opening not yet closed cleanly: its owner
    /// runs now, or crashed (it recovers when next opened if the machine rebooted meanwhile),
    /// or it was restored from a backup (it recovers when next opened). Only stores under
    /// `.noSync` durability, and restored ones, carry the mark.
    public var leftOpen: Bool
    /// The size of its `data.mdb` in bytes.
    public var fileBytes: UInt64
    /// The bytes of its map in use.
    public var mapUsedBytes: UInt64
    /// Its peers, by id.
    public var peers: [Peer]
    /// Why its store could not be read (nil: it was read): damaged, or of another format.
    public var problem: String? = nil
}

/// A cluster directory opened for reading only, from any process, while its owner (an
/// application's `Cluster`) runs and writes, or while nobody has it open.
///
/// Every read of one replica is one LMDB snapshot, so it sees a transaction whole or not at
/// all; readers never block the owner's writers. What needs the writer (updates, sync, gc,
/// compaction, restore) is the owning `Cluster`'s; a `Cluster` opened on a directory another
/// process owns throws `.directoryInUse` naming that process.
///
/// ```swift
/// let reader = try ClusterReader(directory: url)
/// let likes = try reader.read(Key<PNCounter>("likes", bucket: "posts"), at: 1)
/// let report = reader.verify()
/// try reader.backup(to: backupsURL)
/// ```
///
/// In the process that owns the directory, use the `Cluster` instead: one process opens an
/// LMDB environment once, so a reader there refuses with `.directoryInUse`.
public final class ClusterReader: @unchecked Sendable {
    /// The cluster directory.
    public let directory: URL
    /// The cluster's manifest as it was when the reader opened.
    public let manifest: ClusterManifest
    /// The key its stores are encrypted with (nil: plain).
    public let encryption: Encryption?
    private let lock = NSLock()
    private var stores: [ReplicaID: (storage: Storage, file: FileIdentity?)] = [:]

    /// Opens the cluster directory `directory` for reading, with the key of an encrypted
    /// cluster (`manifest.encryptionKeyID` names it).
    /// - Throws: `.invalidArgument` when it is not a Concord cluster directory;
    ///   `.formatVersionMismatch` or `.corrupted` for a manifest of another format or a
    ///   damaged one; `.storage` when it cannot be read.
    ///   A wrong key, or none for an encrypted cluster, is `.keyMismatch` at the first
    ///   read of a store.
    public init(directory: URL, encryption: Encryption? = nil) throws(ConcordError) {
        self.directory = directory
        self.encryption = encryption
        manifest = try ClusterDirectory.readManifest(at: directory)
    }

    deinit { close() }

    /// Closes every store the reader opened. Idempotent; a later read reopens.
    public func close() {
        let opened = lock.withLock {
            defer { stores = [:] }
            return stores.values.map(\.storage)
        }
        for storage in opened { storage.environment.close() }
    }

    /// The process that owns the directory now, described (`process 4242 (my-app on host,
    /// since …)`), or nil when nobody has it open.
    public var owner: String? { DirectoryLock.holder(of: directory).map(\.description) }

    /// The store of member `id`, opened for reading.
    func store(of id: ReplicaID) throws(ConcordError) -> Storage {
        guard manifest.memberIndex(of: id) != nil else {
            throw ConcordError(.invalidArgument, "replica \(id.rawValue) is not a member of \(directory.path)")
        }
        lock.lock()
        defer { lock.unlock() }
        let path = ClusterDirectory.replicaURL(of: id, in: directory).path
        let file = FileIdentity(of: path + "/data.mdb")
        if let open = stores[id], !open.storage.environment.isClosed {
            // The owner replaced the file (a wipe, a restore, a store compaction): the old
            // mapping would keep showing the old file, so open the new one.
            if open.file == file { return open.storage }
            open.storage.environment.close()
        }
        do {
            let storage = try Storage(readingAt: path, replica: id, encryption: encryption)
            stores[id] = (storage, file)
            return storage
        } catch let error where error.code == .keyMismatch {
            // A refused key is an administrative event: recorded, and the refusal thrown.
            do {
                try AuditLog(clusterDirectory: directory).record(
                    "open for reading", arguments: ["replica": "\(id.rawValue)", "key": encryption?.keyID ?? "none"],
                    result: "error: \(error)")
            } catch let failure {
                throw ConcordError(error.code, "\(error.message); the audit log could not record it: \(failure)")
            }
            throw error
        } catch let error where error.code == .storage && error.underlying?.contains("open already") == true {
            throw ConcordError(
                .directoryInUse,
                "this process owns \(directory.path) through a Cluster: read through that Cluster instead")
        }
    }

    // MARK: Reading

    /// The value of `key` at replica `replica`, from one snapshot.
    /// - Throws: `.invalidArgument` for a non-member; `.unavailable` when it has no store;
    ///   `.typeMismatch` when the key holds another type; `.corrupted`, `.storage`.
    public func read<T: CRDT>(_ key: Key<T>, at replica: ReplicaID) throws(ConcordError) -> T.Value {
        try state(of: key, at: replica).value
    }

    /// The full state of `key` at replica `replica` (a key never written: the initial state).
    public func state<T: CRDT>(of key: Key<T>, at replica: ReplicaID) throws(ConcordError) -> T {
        let storage = try store(of: replica)
        return try storage.read("read \(key) at replica \(replica.rawValue)") { txn -> T in
            try Replica.load(key.object, in: storage, txn) ?? T()
        }
    }

    /// The state of `key` at replica `replica` and that replica's clock, from one snapshot
    /// (what `concord watch` polls).
    /// - Throws: as `read(_:at:)`.
    public func snapshot<T: CRDT>(of key: Key<T>, at replica: ReplicaID) throws(ConcordError) -> (
        state: T, clock: VectorClock
    ) {
        let storage = try store(of: replica)
        return try storage.read("read \(key) at replica \(replica.rawValue)") { txn in
            (try Replica.load(key.object, in: storage, txn) ?? T(), try storage.storedClock(txn))
        }
    }

    /// Every object of replica `replica` (of one bucket when `bucket` is given), sorted by
    /// bucket, name and type, from one snapshot.
    /// - Throws: as `read(_:at:)`; `.corrupted` names the first object that does not decode.
    public func objects(at replica: ReplicaID, bucket: String? = nil) throws(ConcordError) -> [StoredObject] {
        try store(of: replica).storedObjects(bucket: bucket)
    }

    /// The conflicts every member recorded, and the registers holding several values now
    /// (see `Replica.conflicts()`), replica by replica.
    /// - Throws: `.corrupted` naming a record that does not decode; `.storage`.
    public func conflicts() throws(ConcordError) -> [ConflictRecord] {
        var all: [ConflictRecord] = []
        for id in manifest.hostedMemberIDs {
            do {
                all += try store(of: id).readConflicts(replica: id)
            } catch  where error.code == .unavailable {
                continue  // No store, no conflicts.
            }
        }
        return all
    }

    /// Verifies every member's store (see `Cluster.verify()`); a member without a store is
    /// a problem. The verification is recorded in the audit log; a failure to record it is a
    /// problem of the report.
    public func verify(progress: ((String) -> Void)? = nil) -> VerificationReport {
        var report = VerificationReport(replicas: [], problems: [])
        for id in manifest.hostedMemberIDs {
            progress?("verify replica \(id.rawValue)")
            do throws(ConcordError) {
                report.replicas.append(try store(of: id).verify())
            } catch {
                report.problems.append(
                    "replica \(id.rawValue): \(error.message)" + (error.underlying.map { " (\($0))" } ?? ""))
            }
        }
        do {
            try AuditLog(clusterDirectory: directory).record(
                "verify", result: report.isIntact ? "ok" : "\(report.allProblems.count) problems")
        } catch {
            report.problems.append("the audit log could not record this verification: \(error)")
        }
        return report
    }

    /// Takes a backup of every member with a store (see `Cluster.backup(to:name:comment:)`),
    /// while the owner may write.
    @discardableResult
    public func backup(
        to backups: URL, name: String? = nil, comment: String? = nil, progress: ((String) -> Void)? = nil
    ) throws(ConcordError) -> BackupManifest {
        var sources: [BackupWriter.Source] = []
        for id in manifest.hostedMemberIDs {
            do {
                sources.append(BackupWriter.Source(replica: id, storage: try store(of: id)))
            } catch  where error.code == .unavailable {
                continue  // No store: recorded as missing.
            }
        }
        guard !sources.isEmpty else {
            throw ConcordError(.invalidArgument, "no member of \(directory.path) has a store to back up")
        }
        return try AuditLog(clusterDirectory: directory).recording(
            "backup", ["to": backups.path, "name": name ?? "(default)"]
        ) { () throws(ConcordError) -> BackupManifest in
            try BackupWriter.write(
                sources, clusterManifest: manifest, clusterDirectory: directory, to: backups, name: name,
                comment: comment, progress: progress)
        }
    }

    /// Every member's state as its store records it. A store that cannot be read (damaged,
    /// of another format) is reported with its `problem`, not thrown.
    public func status(now: Date = Date()) -> [StoredReplicaStatus] {
        manifest.hostedMemberIDs.map { id in
            func unreadable(hasStore: Bool, _ problem: String?) -> StoredReplicaStatus {
                StoredReplicaStatus(
                    replica: id, hasStore: hasStore, incarnation: manifest.incarnation(of: id) ?? 0,
                    clock: VectorClock(), logLength: 0, objects: 0, needsState: !hasStore, leftOpen: false,
                    fileBytes: 0, mapUsedBytes: 0, peers: [], problem: problem)
            }
            do throws(ConcordError) {
                return try store(of: id).storedStatus(now: now)
            } catch  where error.code == .unavailable {
                return unreadable(hasStore: false, nil)
            } catch  where error.code == .directoryInUse {
                return unreadable(hasStore: true, error.message)
            } catch {
                return unreadable(hasStore: true, "its store cannot be read: \(error)")
            }
        }
    }

    /// The cluster's health from what its stores record (see `Cluster.health()` for the
    /// owner's view, which also knows about reachability and failures): a member without a
    /// store or waiting for a state, a replica lagging behind a peer over the threshold, a
    /// log or a map near its bound, a store that cannot be read.
    public func health(thresholds: HealthThresholds = HealthThresholds()) -> Health {
        let configuration = manifest.configuration
        var findings: [(Health.State, String)] = []
        for status in status() {
            let name = "replica \(status.replica.rawValue)"
            if let problem = status.problem {
                findings.append((.degraded, "\(name): \(problem)"))
                continue
            }
            guard status.hasStore else {
                findings.append((.degraded, "\(name) has no store: it rejoins empty when the cluster opens"))
                continue
            }
            let equivalent = ReplicaStatus(
                replica: status.replica, isRunning: true, clock: status.clock, stableClock: VectorClock(),
                logLength: status.logLength, bufferedIntervals: 0, isBootstrapping: status.needsState,
                peers: status.peers.map {
                    PeerStatus(
                        peer: $0.peer, acknowledgedClock: $0.acknowledgedClock, lagOperations: $0.lagOperations,
                        lagMilliseconds: $0.lagMilliseconds, isReachable: true)
                }, messagesSent: 0, messagesReceived: 0, messagesUndecodable: 0, intervalsApplied: 0, statesSent: 0,
                logEntriesCollected: 0, logEntriesForced: 0, lastFailure: nil)
            findings += Health.of(
                equivalent, mapUsedBytes: status.mapUsedBytes, configuration: configuration, thresholds: thresholds)
        }
        return Health.combining(
            findings, running: manifest.hostedMemberIDs.count, members: manifest.hostedMemberIDs.count)
    }
}

/// One stored object: its key and its state.
public struct StoredObject: @unchecked Sendable {
    /// The bucket.
    public var bucket: String
    /// The key's name.
    public var name: String
    /// The CRDT type's name (`"AWSet<String>"`).
    public var typeName: String
    /// The state.
    public var state: any CRDT
}

extension Storage {
    /// Every object (of `bucket`, when given), sorted by key, from one snapshot.
    func storedObjects(bucket: String?) throws(ConcordError) -> [StoredObject] {
        try allObjects().compactMap { object in
            guard bucket == nil || object.key.bucket == bucket else { return nil }
            return StoredObject(
                bucket: object.key.bucket, name: object.key.name,
                typeName: String(describing: type(of: object.state)), state: object.state)
        }
    }

    /// The replica's state as this store records it, at `now` for lag times.
    func storedStatus(now: Date) throws(ConcordError) -> StoredReplicaStatus {
        let persisted = try loadReplicaState(of: replica)
        let objectCount = try read("count the objects of replica \(replica.rawValue)") { txn in
            try txn.statistics(in: objects).entries
        }
        let nowMicroseconds = UInt64(max(0, now.timeIntervalSince1970 * 1_000_000))
        let peers = persisted.peers.sorted { $0.key < $1.key }.map { peer, state in
            let waiting = persisted.logEntries.filter { !state.acknowledged.dominates($0.to) }
            let lag = persisted.clock.entries.reduce(UInt64(0)) { total, entry in
                total + entry.counter - min(entry.counter, state.acknowledged[entry.replica])
            }
            let oldest = waiting.map(\.timeMicroseconds).min()
            return StoredReplicaStatus.Peer(
                peer: peer, acknowledgedClock: state.acknowledged, lagOperations: lag,
                lagMilliseconds: oldest.map { Double(nowMicroseconds - min(nowMicroseconds, $0)) / 1_000 } ?? 0)
        }
        return StoredReplicaStatus(
            replica: replica, hasStore: true, incarnation: persisted.incarnation, clock: persisted.clock,
            logLength: persisted.logEntries.count, objects: objectCount, needsState: persisted.needsState,
            leftOpen: persisted.openedInBoot != nil, fileBytes: Self.fileSize(atPath: environment.path + "/data.mdb"),
            mapUsedBytes: mapUsedBytes() ?? 0, peers: peers)
    }
}

/// A file's device and inode, to notice that a path now names another file.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(of path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
