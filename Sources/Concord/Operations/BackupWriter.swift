import CRDTs
import Foundation
import LMDB

/// Takes a backup: a compacted LMDB copy of each replica's store (`mdb_env_copy2` with
/// `MDB_CP_COMPACT`, a consistent snapshot taken while writes go on), the cluster manifest,
/// and a `BackupManifest` with each copy's clock, counts, size and SHA-256.
///
/// The backup is built in `.NAME.partial-PID` beside its final place and renamed into place
/// once every file and the manifest are flushed, so a listed backup is always whole.
enum BackupWriter {
    /// A store to copy.
    struct Source {
        var replica: ReplicaID
        var storage: Storage
    }

    /// Checks a backup name: 1 to 100 letters, digits, `.`, `_` or `-`, not starting with
    /// `.` or `-` (so it can be neither hidden, nor a path, nor an option).
    static func checkName(_ name: String) throws(ConcordError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...100).contains(name.count), name.allSatisfy(allowed.contains), let first = name.first,
            first != ".", first != "-"
        else {
            throw ConcordError(
                .invalidArgument,
                "\"\(name)\" is not a backup name: use 1 to 100 letters, digits, '.', '_' or '-', "
                    + "not starting with '.' or '-'")
        }
    }

    /// A name for a backup taken at `date`: `backup-20261201T064012Z`.
    static func defaultName(at date: Date) -> String {
        "backup-" + utcStamp(date)
    }

    /// `date` in UTC to the second, for names: `20261201T064012Z`.
    static func utcStamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0,
            parts.minute ?? 0, parts.second ?? 0)
    }

    /// Writes a backup of `sources` (and of `clusterManifest`, whose other members are
    /// recorded as missing) into `backups`.
    ///
    /// - Parameter name: the backup's name; nil: `defaultName(at:)`, with `-2`, `-3`… when
    ///   taken.
    /// - Throws: `.invalidArgument` for a bad or taken name; `.corrupted` when a copy does
    ///   not verify (its store is damaged: nothing is left behind); `.storage` when a file
    ///   call or the copy fails (nothing is left behind but, at worst, the `.partial` folder).
    static func write(
        _ sources: [Source], clusterManifest: ClusterManifest, clusterDirectory: URL, to backups: URL,
        name: String?, comment: String?, progress: ((String) -> Void)?
    ) throws(ConcordError) -> BackupManifest {
        let now = Date()
        try FileCalls.createDirectory(atPath: backups.path, what: "backup directory")
        let chosen = name ?? freeName(in: backups, at: now)
        try checkName(chosen)
        let final = backups.appendingPathComponent(chosen)
        guard !FileManager.default.fileExists(atPath: final.path) else {
            throw ConcordError(.invalidArgument, "a backup named \"\(chosen)\" exists already in \(backups.path)")
        }
        let staging = backups.appendingPathComponent(".\(chosen).partial-\(getpid())")
        if FileManager.default.fileExists(atPath: staging.path) { try Backups.remove(staging) }
        try FileCalls.createDirectory(atPath: staging.path, what: "backup folder")
        do throws(ConcordError) {
            let manifest = try fill(
                staging, sources: sources, clusterManifest: clusterManifest, clusterDirectory: clusterDirectory,
                name: chosen, comment: comment, at: now, progress: progress)
            try FileCalls.synchronizeDirectory(atPath: staging.path)
            guard rename(staging.path, final.path) == 0 else {
                throw FileCalls.failure("rename \(staging.path) to", final.path, errno)
            }
            try FileCalls.synchronizeDirectory(atPath: backups.path)
            return manifest
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
    }

    private static func freeName(in backups: URL, at date: Date) -> String {
        let base = defaultName(at: date)
        var candidate = base
        var suffix = 2
        while FileManager.default.fileExists(atPath: backups.appendingPathComponent(candidate).path) {
            candidate = "\(base)-\(suffix)"
            suffix += 1
        }
        return candidate
    }

    private static func fill(
        _ staging: URL, sources: [Source], clusterManifest: ClusterManifest, clusterDirectory: URL, name: String,
        comment: String?, at now: Date, progress: ((String) -> Void)?
    ) throws(ConcordError) -> BackupManifest {
        try ClusterDirectory.writeManifest(clusterManifest, in: staging)
        let clusterFile = try fileRecord(ClusterDirectory.manifestFileName, in: staging)
        var members: [BackupManifest.Member] = []
        for source in sources.sorted(by: { $0.replica < $1.replica }) {
            let folderName = ClusterDirectory.replicaURL(of: source.replica, in: staging).lastPathComponent
            let folder = staging.appendingPathComponent(folderName)
            progress?("copy replica \(source.replica.rawValue)")
            try FileCalls.createDirectory(atPath: folder.path, what: "backup folder")
            do {
                try source.storage.environment.copy(to: folder.path, compact: true)
            } catch let error as LMDBError {
                throw .storage(error, "cannot copy the store of replica \(source.replica) into the backup")
            } catch {
                throw ConcordError(
                    .storage, "cannot copy the store of replica \(source.replica) into the backup",
                    underlying: "\(error)")
            }
            try FileCalls.synchronizeFile(atPath: folder.appendingPathComponent("data.mdb").path)
            let copy = try Storage(
                readingAt: folder.path, replica: source.replica, inPlaceCopy: true,
                encryption: source.storage.sealer.map { Encryption.unchecked($0.current) })
            let verified = copy.verify()
            copy.environment.close()
            guard verified.isIntact else {
                throw ConcordError(
                    .corrupted,
                    "the store of replica \(source.replica) is damaged, so it was not backed up: "
                        + verified.problems.joined(separator: "; ") + "; run verify, and repair the replica first")
            }
            members.append(
                BackupManifest.Member(
                    id: source.replica.rawValue, incarnation: verified.incarnation,
                    clock: Dictionary(
                        uniqueKeysWithValues: verified.clock.entries.map { (String($0.replica.rawValue), $0.counter) }),
                    objects: verified.objects, logEntries: verified.logEntries,
                    file: try fileRecord("\(folderName)/data.mdb", in: staging)))
        }
        let copied = Set(sources.map(\.replica))
        let manifest = BackupManifest(
            kind: BackupManifest.kindName, format: BackupManifest.currentFormatVersion, name: name, comment: comment,
            createdAtMicroseconds: UInt64(max(0, now.timeIntervalSince1970 * 1_000_000)),
            clusterCreatedAtMicroseconds: clusterManifest.createdAtMicroseconds, source: clusterDirectory.path,
            epoch: clusterManifest.epoch, members: members,
            missing: clusterManifest.hostedMemberIDs.filter { !copied.contains($0) }.map(\.rawValue),
            clusterManifest: clusterFile, keyID: sources.first?.storage.sealer?.current.keyID)
        try manifest.write(in: staging)
        return manifest
    }

    private static func fileRecord(_ path: String, in folder: URL) throws(ConcordError) -> BackupManifest.File {
        let (digest, bytes) = try FileDigest.sha256(ofFileAtPath: folder.appendingPathComponent(path).path)
        return BackupManifest.File(path: path, bytes: bytes, sha256: digest)
    }
}
