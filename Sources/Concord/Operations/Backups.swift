import CRDTs
import Foundation
import LMDB

/// A directory of backups: list, statistics, verification, cleanup and restore — the seed's
/// backup manager. Backups are taken with `Cluster.backup(to:name:comment:)` or
/// `ClusterReader.backup(to:name:comment:)`; see `BackupManifest` for their layout.
///
/// ```swift
/// let taken = try cluster.backup(to: backupsURL, name: "before-upgrade")
/// let backups = Backups(directory: backupsURL)
/// let report = try backups.verify(taken.name)          // checksums, decoding, clocks
/// try backups.cleanup(keeping: 10)                       // the newest ten stay
/// try Backups.restore(backupAt: backupsURL.appending(path: taken.name), to: newClusterURL)
/// ```
public struct Backups: Sendable {
    /// The directory holding one folder per backup.
    public let directory: URL

    /// The backups in `directory` (which need not exist yet).
    public init(directory: URL) {
        self.directory = directory
    }

    /// A backup folder found in the directory.
    public struct Entry: Sendable, Hashable {
        /// The folder's name: the backup's name.
        public var name: String
        /// The folder.
        public var url: URL
        /// Its manifest, or nil when it could not be read (`problem` says why).
        public var manifest: BackupManifest?
        /// Why the manifest could not be read.
        public var problem: String?
    }

    /// Totals over the backups in the directory.
    public struct Statistics: Sendable, Hashable {
        /// Backups whose manifest reads.
        public var count: Int
        /// Their total size in bytes (from their manifests).
        public var totalBytes: UInt64
        /// The oldest and the newest, by the time they were taken.
        public var oldest: BackupManifest?
        /// The newest.
        public var newest: BackupManifest?
        /// Folders that hold no readable manifest.
        public var damaged: [String]
        /// Leftovers of interrupted backups (`.NAME.partial-PID` folders).
        public var interrupted: [String]
    }

    /// Every backup in the directory, oldest first (by the time it was taken; damaged ones,
    /// without a time, last by name). An absent directory holds none.
    /// - Throws: `ConcordError.storage` when the directory cannot be listed.
    public func list() throws(ConcordError) -> [Entry] {
        var entries: [Entry] = []
        for name in try folderNames() where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            do {
                entries.append(Entry(name: name, url: url, manifest: try BackupManifest.read(in: url), problem: nil))
            } catch {
                entries.append(Entry(name: name, url: url, manifest: nil, problem: error.message))
            }
        }
        return entries.sorted { left, right in
            switch (left.manifest, right.manifest) {
            case (let l?, let r?): (l.createdAtMicroseconds, left.name) < (r.createdAtMicroseconds, right.name)
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): left.name < right.name
            }
        }
    }

    /// Totals over the backups in the directory.
    /// - Throws: as `list()`.
    public func statistics() throws(ConcordError) -> Statistics {
        let entries = try list()
        let good = entries.compactMap(\.manifest)
        return Statistics(
            count: good.count, totalBytes: good.reduce(0) { $0 + $1.totalBytes }, oldest: good.first,
            newest: good.last, damaged: entries.filter { $0.manifest == nil }.map(\.name),
            interrupted: try folderNames().filter { $0.hasPrefix(".") && $0.contains(".partial") })
    }

    /// Verifies the backup `name` (see `Backups.verify(backupAt:encryption:)`).
    public func verify(_ name: String, encryption: Encryption? = nil) throws(ConcordError) -> VerificationReport {
        try Self.verify(backupAt: try url(of: name), encryption: encryption)
    }

    /// Deletes backups beyond the newest `count` and those older than `maximumAge`
    /// seconds (both optional), and leftovers of interrupted backups older than an hour.
    /// The newest intact backup is never deleted, whatever the limits say. Damaged folders
    /// are left for an operator to look at.
    /// - Returns: the names deleted, oldest first.
    /// - Throws: `.invalidArgument` for a negative count or age; `.storage` when a folder
    ///   cannot be deleted (those before it are gone).
    @discardableResult
    public func cleanup(keeping count: Int? = nil, maximumAge: TimeInterval? = nil, now: Date = Date())
        throws(ConcordError) -> [String]
    {
        if let count, count < 0 { throw ConcordError(.invalidArgument, "cannot keep \(count) backups") }
        if let maximumAge, maximumAge < 0 {
            throw ConcordError(.invalidArgument, "a maximum age cannot be negative (is \(maximumAge) s)")
        }
        let intact = try list().filter { $0.manifest != nil }
        var doomed: [Entry] = []
        for (position, entry) in intact.enumerated() {
            let isNewest = position == intact.count - 1
            guard !isNewest else { continue }
            let tooMany = count.map { intact.count - position > $0 } ?? false
            let tooOld = maximumAge.map { now.timeIntervalSince(entry.manifest!.createdAt) > $0 } ?? false
            if tooMany || tooOld { doomed.append(entry) }
        }
        var removed: [String] = []
        for entry in doomed {
            try Self.remove(entry.url)
            removed.append(entry.name)
        }
        for name in try folderNames() where name.hasPrefix(".") && name.contains(".partial") {
            let url = directory.appendingPathComponent(name)
            let modified =
                (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate]) as? Date ?? now
            if now.timeIntervalSince(modified) > 3_600 {
                try Self.remove(url)
                removed.append(name)
            }
        }
        if !removed.isEmpty { try FileCalls.synchronizeDirectory(atPath: directory.path) }
        return removed
    }

    /// The folder of backup `name`.
    /// - Throws: `.invalidArgument` for a name that is not a backup here.
    public func url(of name: String) throws(ConcordError) -> URL {
        try BackupWriter.checkName(name)
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent(BackupManifest.fileName).path) else {
            throw ConcordError(.invalidArgument, "there is no backup named \"\(name)\" in \(directory.path)")
        }
        return url
    }

    private func folderNames() throws(ConcordError) -> [String] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(
                    atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory)
                    && isDirectory.boolValue
            }.sorted()
        } catch {
            throw ConcordError(.storage, "cannot list the backups in \(directory.path)", underlying: "\(error)")
        }
    }

    static func remove(_ url: URL) throws(ConcordError) {
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            throw ConcordError(.storage, "cannot delete \(url.path)", underlying: "\(error)")
        }
    }
}

/// The seed's name for the backup manager (DESIGN.md): the same type.
public typealias BackupManager = Backups

// MARK: Verification

extension Backups {
    /// Verifies the backup in the folder `url` without changing a byte of it: the manifest
    /// reads; every file it lists is there with its size and SHA-256; the cluster manifest
    /// decodes and is the cluster's the backup says; each replica's copy opens, every object
    /// decodes as its type, every log entry decodes and lies within the clock, and clock and
    /// counts agree with the manifest. The copies of an encrypted cluster open with
    /// `encryption` (without it, only the checksums are verified, and that is a problem).
    ///
    /// - Throws: only when the backup cannot be examined at all (`.invalidArgument`: not a
    ///   backup; `.formatVersionMismatch`; `.corrupted`: its manifest does not decode).
    ///   Everything else found wrong is in the report.
    /// - Complexity: reads every file once for its checksum and decodes every record once.
    public static func verify(
        backupAt url: URL, encryption: Encryption? = nil, progress: ((String) -> Void)? = nil
    ) throws(ConcordError) -> VerificationReport {
        let manifest = try BackupManifest.read(in: url)
        var report = VerificationReport(replicas: [], problems: [])
        if let keyID = manifest.keyID, encryption == nil {
            report.problems.append(
                "the backup is encrypted with key '\(keyID)': without the key only its checksums were verified")
        }
        for file in manifest.files {
            progress?("checksum \(file.path)")
            let path = url.appendingPathComponent(file.path).path
            guard FileManager.default.fileExists(atPath: path) else {
                report.problems.append("\(file.path) is missing")
                continue
            }
            do {
                let (digest, bytes) = try FileDigest.sha256(ofFileAtPath: path)
                if bytes != file.bytes {
                    report.problems.append("\(file.path) has \(bytes) bytes; the manifest says \(file.bytes)")
                } else if digest != file.sha256 {
                    report.problems.append("\(file.path) does not match its SHA-256: it was changed or damaged")
                }
            } catch {
                report.problems.append(error.message)
            }
        }
        do {
            let cluster = try ClusterDirectory.decodeManifest(
                atPath: url.appendingPathComponent(ClusterDirectory.manifestFileName).path)
            if cluster.createdAtMicroseconds != manifest.clusterCreatedAtMicroseconds {
                report.problems.append("the cluster manifest is of another cluster than the backup manifest says")
            }
            for member in manifest.members where cluster.memberIndex(of: ReplicaID(member.id)) == nil {
                report.problems.append("replica \(member.id) is copied but not a member in the cluster manifest")
            }
        } catch {
            report.problems.append("the cluster manifest: \(error.message)")
        }
        for member in manifest.members {
            progress?("verify replica \(member.id)")
            let id = ReplicaID(member.id)
            let folder = url.appendingPathComponent(member.file.path).deletingLastPathComponent().path
            var store: StoreVerification
            if manifest.keyID != nil && encryption == nil { continue }
            do {
                let storage = try Storage(readingAt: folder, replica: id, inPlaceCopy: true, encryption: encryption)
                defer { storage.environment.close() }
                store = storage.verify()
            } catch {
                store = StoreVerification(
                    replica: id, clock: VectorClock(), incarnation: 0, objects: 0, logEntries: 0,
                    fileBytes: 0, problems: ["the copy does not open: \(error.message)"])
            }
            if store.problems.isEmpty {
                if store.clock != member.vectorClock {
                    store.problems.append("the copy's clock \(store.clock) is not the manifest's \(member.vectorClock)")
                }
                if store.objects != member.objects || store.logEntries != member.logEntries {
                    store.problems.append(
                        "the copy holds \(store.objects) objects and \(store.logEntries) log entries; the manifest "
                            + "says \(member.objects) and \(member.logEntries)")
                }
            }
            report.replicas.append(store)
        }
        return report
    }
}
