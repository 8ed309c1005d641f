import CRDTs
import Foundation
import LMDB

extension Cluster {
    /// Takes a hot, consistent, compacted backup of every running replica into the
    /// directory `backups` (created if missing): see `BackupManifest` for what it holds.
    /// Writes go on meanwhile; each replica's copy is one LMDB snapshot, and the backup
    /// records each copy's clock. Members that are down are listed as missing: restored,
    /// they rejoin empty and catch up.
    ///
    /// - Parameters:
    ///   - name: the backup's name (default `backup-<UTC time>`).
    ///   - comment: what the backup is for, kept in its manifest.
    ///   - progress: called before each step (for a terminal's progress line).
    /// - Throws: `.invalidArgument` for a bad or taken name or when no replica runs;
    ///   `.corrupted` when a replica's copy does not verify (nothing is left behind);
    ///   `.storage` when a copy or a file call fails.
    @discardableResult
    public func backup(
        to backups: URL, name: String? = nil, comment: String? = nil, progress: ((String) -> Void)? = nil
    ) throws(ConcordError) -> BackupManifest {
        let sources = replicas.compactMap { replica in
            replica.storageForReading.map { BackupWriter.Source(replica: replica.id, storage: $0) }
        }
        guard !sources.isEmpty else {
            throw ConcordError(.invalidArgument, "no replica of \(directory.path) is running, so none can be backed up")
        }
        return try audited("backup", ["to": backups.path, "name": name ?? "(default)"]) {
            () throws(ConcordError) -> BackupManifest in
            try BackupWriter.write(
                sources, clusterManifest: manifest, clusterDirectory: directory, to: backups, name: name,
                comment: comment, progress: progress)
        }
    }

    /// Verifies every running replica's store (see `Storage.verify`: every object decodes
    /// as its type, every log entry decodes and lies within the clock), each in one
    /// snapshot while writes go on. A member that is down is reported as a problem.
    public func verify(progress: ((String) -> Void)? = nil) -> VerificationReport {
        var report = VerificationReport(replicas: [], problems: [])
        for replica in replicas {
            guard let storage = replica.storageForReading else {
                report.problems.append("replica \(replica.id.rawValue) is down, so it was not verified")
                continue
            }
            progress?("verify replica \(replica.id.rawValue)")
            report.replicas.append(storage.verify())
        }
        do {
            try audit?.record("verify", result: report.isIntact ? "ok" : "\(report.allProblems.count) problems")
        } catch {
            // `verify()` does not throw: the failure goes to the log.
            observability.logger.error("the audit log could not record a verification", metadata: ["error": "\(error)"])
        }
        return report
    }

    /// Compacts every running replica's store file (see `Replica.compactStore()`).
    /// - Throws: the first replica's error (those before it are compacted).
    public func compact(progress: ((String) -> Void)? = nil) throws(ConcordError) -> [StoreCompaction] {
        return try audited("compact", [:]) { () throws(ConcordError) -> [StoreCompaction] in
            var results: [StoreCompaction] = []
            for replica in replicas where replica.isRunning {
                progress?("compact replica \(replica.id.rawValue)")
                results.append(try replica.compactStore())
            }
            return results
        }
    }

    /// Collects garbage at every running replica now (see `Replica.collectGarbage()`).
    /// - Throws: the first replica's error.
    public func collectGarbage() throws(ConcordError) -> [GarbageCollection] {
        return try audited("gc", [:]) { () throws(ConcordError) -> [GarbageCollection] in
            var results: [GarbageCollection] = []
            for replica in replicas where replica.isRunning {
                results.append(try replica.collectGarbage())
            }
            return results
        }
    }

    /// The seed's force-sync: in manual delivery mode, delivers every message until nothing
    /// more can happen (see `synchronize()`); then flushes every running replica's store to
    /// the device, so that even under `.noSync` nothing committed so far can be lost.
    /// - Throws: as `synchronize()`; `.storage` when a flush fails.
    public func forceSync() throws(ConcordError) {
        if configuration.deliveryMode == .manual { try synchronize() }
        for replica in replicas {
            try replica.storageForReading?.sync("flush the store of replica \(replica.id.rawValue)")
        }
    }

    /// Restores replica `id` from an older backup of this cluster while its peers keep
    /// their newer data: the replica goes down, its folder is replaced by the backup's copy
    /// (the former folder is moved aside, see `Backups.restore`), and it reopens with a new
    /// incarnation and recovers: it gets back from its peers what they hold that the backup
    /// lacks, its own later transactions included, and accepts writes once it has them.
    ///
    /// - Throws: `.corrupted` when the backup does not verify (nothing changes);
    ///   `.invalidArgument` for a non-member, a backup of another cluster or without a copy of
    ///   `id`; `.storage` when a file call or the reopening fails.
    @discardableResult
    public func restore(replica id: ReplicaID, fromBackupAt url: URL) throws(ConcordError) -> RestoreReport {
        return try audited("restore", ["replica": "\(id.rawValue)", "backup": url.path]) {
            () throws(ConcordError) -> RestoreReport in
            let backup = try Backups.requireIntact(backupAt: url, encryption: configuration.encryption)
            try Backups.checkReplicaRestore(id, of: backup, into: manifest, directory: directory)
            try crash(id)
            let aside = try Backups.installReplica(
                id, from: url, backup: backup.name, into: directory, configuration: configuration)
            try restart(id)
            return RestoreReport(
                backup: backup.name, directory: directory, replicas: [id], rejoiningEmpty: [], replacedMovedTo: aside)
        }
    }
}
