import CRDTs
import Foundation
import LMDB

/// What a restore did.
public struct RestoreReport: Sendable, Hashable {
    /// The backup restored.
    public var backup: String
    /// The cluster directory restored into.
    public var directory: URL
    /// The replicas whose stores came from the backup.
    public var replicas: [ReplicaID]
    /// Members the backup has no copy of: they rejoin empty and catch up from the others.
    public var rejoiningEmpty: [ReplicaID]
    /// Where what the restore replaced was moved (nil: it replaced nothing). Nothing is
    /// deleted: delete it once the restored cluster is known good.
    public var replacedMovedTo: URL?
}

extension Backups {
    /// Restores the backup `name` (see `Backups.restore(backupAt:to:replica:replacing:)`).
    public func restore(
        _ name: String, to directory: URL, replica: ReplicaID? = nil, replacing: Bool = false,
        encryption: Encryption? = nil
    ) throws(ConcordError) -> RestoreReport {
        try Self.restore(
            backupAt: try url(of: name), to: directory, replica: replica, replacing: replacing, encryption: encryption)
    }

    /// Restores a backup, after verifying it (a backup that does not verify changes nothing).
    ///
    /// - Without `replica`: the whole cluster, into `directory`, which must be missing or
    ///   empty — or hold a cluster nobody has open, with `replacing`: it is then moved aside
    ///   to `DIR.replaced-<time>`, not deleted.
    /// - With `replica`: that one replica of the cluster in `directory` (which nobody may
    ///   have open), from an older backup of the same cluster, while its peers keep their
    ///   newer data. Its current folder is moved aside to `DIR.replica-<id>.replaced-<time>`.
    ///
    /// Every restored replica recovers when it next opens, as after a power loss: it
    /// opens with a new incarnation, gets back from its peers whatever they hold that the
    /// backup lacks — its own later transactions included — and accepts writes only then,
    /// so it never reuses an id of its own earlier updates. With a whole cluster restored,
    /// the replicas tell each other their clocks and are done (in manual delivery mode,
    /// `synchronize()` before writing).
    ///
    /// The backup of an encrypted cluster needs its key (`encryption`): it is verified
    /// with it, and the restored stores stay sealed under it.
    ///
    /// - Throws: `.corrupted` when the backup does not verify; `.invalidArgument` for a
    ///   target that is not what the mode needs, a backup of another cluster or without a
    ///   copy of `replica`; `.directoryInUse` when a process has the directory open;
    ///   `.storage` when a file call fails (what was there is then still there).
    public static func restore(
        backupAt url: URL, to directory: URL, replica: ReplicaID? = nil, replacing: Bool = false,
        encryption: Encryption? = nil, progress: ((String) -> Void)? = nil
    ) throws(ConcordError) -> RestoreReport {
        progress?("verify the backup")
        let manifest = try requireIntact(backupAt: url, encryption: encryption, progress: progress)
        var cluster = try ClusterDirectory.decodeManifest(
            atPath: url.appendingPathComponent(ClusterDirectory.manifestFileName).path)
        cluster.configuration.encryption = encryption
        let arguments = ["backup": url.path, "replica": replica.map { "\($0.rawValue)" } ?? "all"]
        if let replica {
            return try AuditLog(clusterDirectory: directory).recording("restore", arguments) {
                () throws(ConcordError) -> RestoreReport in
                try restoreReplica(replica, of: manifest, cluster: cluster, from: url, into: directory, progress)
            }
        }
        let report = try restoreCluster(manifest, cluster: cluster, from: url, into: directory, replacing, progress)
        // The restored directory starts a log of its own (the replaced one keeps its log).
        try AuditLog(clusterDirectory: directory).record("restore", arguments: arguments)
        return report
    }

    /// Verifies the backup at `url` and returns its manifest.
    /// - Throws: `.corrupted` listing the first problems when it does not verify; as
    ///   `verify(backupAt:)`.
    static func requireIntact(
        backupAt url: URL, encryption: Encryption? = nil, progress: ((String) -> Void)? = nil
    ) throws(ConcordError) -> BackupManifest {
        let verification = try verify(backupAt: url, encryption: encryption, progress: progress)
        guard verification.isIntact else {
            throw ConcordError(
                .corrupted,
                "the backup \(url.path) does not verify, so nothing was restored: "
                    + verification.allProblems.prefix(5).joined(separator: "; "))
        }
        return try BackupManifest.read(in: url)
    }

    private static func restoreCluster(
        _ manifest: BackupManifest, cluster: ClusterManifest, from url: URL, into directory: URL, _ replacing: Bool,
        _ progress: ((String) -> Void)?
    ) throws(ConcordError) -> RestoreReport {
        var lock: DirectoryLock?
        var occupied = false
        switch try FileCalls.fileType(atPath: directory.path) {
        case nil: break
        case S_IFDIR:
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            occupied = names.contains { $0 != DirectoryLock.fileName }
            if occupied {
                let isCluster = names.contains(ClusterDirectory.manifestFileName)
                guard isCluster, replacing else {
                    throw ConcordError(
                        .invalidArgument,
                        isCluster
                            ? "\(directory.path) holds a cluster; restore into a new directory, or replace it "
                                + "(it is moved aside, not deleted)"
                            : "\(directory.path) is not empty and not a Concord cluster; restore into a new directory")
                }
            }
            lock = try DirectoryLock.acquire(in: directory, for: "restore a backup into it")
        default:
            throw ConcordError(.invalidArgument, "\(directory.path) is a file, not a directory to restore into")
        }
        defer { lock?.release() }
        let staging = sibling(of: directory, ".\(directory.lastPathComponent).restoring-\(getpid())")
        if FileManager.default.fileExists(atPath: staging.path) { try remove(staging) }
        try FileCalls.createDirectory(atPath: staging.path, what: "restore folder")
        var restored: [ReplicaID] = []
        do {
            try copyFile(ClusterDirectory.manifestFileName, from: url, to: staging)
            for member in manifest.members {
                let id = ReplicaID(member.id)
                progress?("restore replica \(member.id)")
                try stageReplica(
                    id, from: url, into: ClusterDirectory.replicaURL(of: id, in: staging), backup: manifest.name,
                    configuration: cluster.configuration)
                restored.append(id)
            }
            try FileCalls.synchronizeDirectory(atPath: staging.path)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
        var aside: URL?
        if occupied {
            let moved = sibling(
                of: directory, "\(directory.lastPathComponent).replaced-\(BackupWriter.utcStamp(Date()))")
            try move(directory, to: moved)
            aside = moved
        } else if FileManager.default.fileExists(atPath: directory.path) {
            try remove(directory)
        }
        try move(staging, to: directory)
        try FileCalls.synchronizeDirectory(atPath: directory.deletingLastPathComponent().path)
        return RestoreReport(
            backup: manifest.name, directory: directory, replicas: restored,
            rejoiningEmpty: manifest.missing.map { ReplicaID($0) }, replacedMovedTo: aside)
    }

    private static func restoreReplica(
        _ id: ReplicaID, of manifest: BackupManifest, cluster: ClusterManifest, from url: URL, into directory: URL,
        _ progress: ((String) -> Void)?
    ) throws(ConcordError) -> RestoreReport {
        let target = try ClusterDirectory.readManifest(at: directory)
        try checkReplicaRestore(id, of: manifest, into: target, directory: directory)
        let lock = try DirectoryLock.acquire(in: directory, for: "restore replica \(id.rawValue) into it")
        defer { lock.release() }
        progress?("restore replica \(id.rawValue)")
        var configuration = target.configuration
        configuration.encryption = cluster.configuration.encryption
        let aside = try installReplica(
            id, from: url, backup: manifest.name, into: directory, configuration: configuration)
        return RestoreReport(
            backup: manifest.name, directory: directory, replicas: [id], rejoiningEmpty: [], replacedMovedTo: aside)
    }

    /// Throws unless replica `id` of the cluster `target` (in `directory`) can be restored
    /// from the backup `manifest`.
    static func checkReplicaRestore(
        _ id: ReplicaID, of manifest: BackupManifest, into target: ClusterManifest, directory: URL
    ) throws(ConcordError) {
        guard manifest.clusterCreatedAtMicroseconds == target.createdAtMicroseconds else {
            throw ConcordError(
                .invalidArgument,
                "the backup \(manifest.name) is of another cluster than \(directory.path) (made at another time); "
                    + "restore it whole into a new directory instead")
        }
        guard target.memberIndex(of: id) != nil else {
            throw ConcordError(.invalidArgument, "replica \(id.rawValue) is not a member of \(directory.path)")
        }
        guard manifest.member(id) != nil else {
            throw ConcordError(
                .invalidArgument,
                "the backup \(manifest.name) has no copy of replica \(id.rawValue) (it was down when the backup was "
                    + "taken); pick another backup, or wipe the replica so that it resyncs from its peers")
        }
    }

    /// Puts the backup's copy of replica `id` in place of its folder in the cluster
    /// `directory` (whose owner must not have the replica open), marked to recover.
    /// - Returns: where the replica's former folder was moved, if it had one.
    static func installReplica(
        _ id: ReplicaID, from url: URL, backup: String, into directory: URL, configuration: Configuration
    ) throws(ConcordError) -> URL? {
        let staging = sibling(of: directory, ".\(directory.lastPathComponent).replica-\(id.rawValue).restoring")
        if FileManager.default.fileExists(atPath: staging.path) { try remove(staging) }
        do {
            try stageReplica(id, from: url, into: staging, backup: backup, configuration: configuration)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
        let folder = ClusterDirectory.replicaURL(of: id, in: directory)
        var aside: URL?
        if FileManager.default.fileExists(atPath: folder.path) {
            let moved = sibling(
                of: directory,
                "\(directory.lastPathComponent).replica-\(id.rawValue).replaced-\(BackupWriter.utcStamp(Date()))")
            try move(folder, to: moved)
            aside = moved
        }
        try move(staging, to: folder)
        try FileCalls.synchronizeDirectory(atPath: directory.path)
        return aside
    }

    /// Copies the backup's store of `id` into `folder` and marks it restored: the mark, in
    /// the place of the boot identity a power loss leaves, makes the replica recover when it
    /// opens (see `ReplicaCore.init`).
    private static func stageReplica(
        _ id: ReplicaID, from url: URL, into folder: URL, backup: String, configuration: Configuration
    ) throws(ConcordError) {
        try FileCalls.createDirectory(atPath: folder.path, what: "restore folder")
        let source = ClusterDirectory.replicaURL(of: id, in: url)
        try copyFile("data.mdb", from: source, to: folder)
        var marking = configuration
        marking.durability = .full
        let storage = try Storage(path: folder.path, replica: id, configuration: marking)
        defer { storage.environment.close() }
        var batch = StorageBatch()
        batch.put("restored from backup \(backup)".encodedBytes(), forKey: Storage.MetaKey.openedInBoot, in: .meta)
        try storage.commit(batch, "mark replica \(id)'s store as restored")
    }

    private static func copyFile(_ name: String, from source: URL, to destination: URL) throws(ConcordError) {
        let to = destination.appendingPathComponent(name)
        do {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: to)
        } catch {
            throw ConcordError(
                .storage, "cannot copy \(source.appendingPathComponent(name).path) to \(to.path)",
                underlying: "\(error)")
        }
        try FileCalls.synchronizeFile(atPath: to.path)
    }

    private static func move(_ source: URL, to destination: URL) throws(ConcordError) {
        guard rename(source.path, destination.path) == 0 else {
            throw FileCalls.failure("move \(source.path) to", destination.path, errno)
        }
    }

    private static func sibling(of directory: URL, _ name: String) -> URL {
        directory.standardizedFileURL.deletingLastPathComponent().appendingPathComponent(name)
    }
}
