import CRDTs
import Crypto
import Foundation

/// What a backup holds, as its `backup-manifest.json` records it: when it was taken, of
/// which cluster, and for each replica its clock, its counts and its file with size and
/// SHA-256.
///
/// A backup is a directory:
///
/// ```
/// BACKUPS/NAME/backup-manifest.json     this record, written last
/// BACKUPS/NAME/cluster-manifest.json    the cluster's manifest when the backup was taken
/// BACKUPS/NAME/replica-<id>/data.mdb    a compacted LMDB copy of each running replica
/// ```
///
/// It is built under `BACKUPS/.NAME.partial` and renamed into place only when complete, so a
/// backup that is listed is whole; a leftover `.partial` is an interrupted one.
public struct BackupManifest: Sendable, Hashable, Codable {
    /// A file of the backup, with what it must still be.
    public struct File: Sendable, Hashable, Codable {
        /// The path inside the backup directory.
        public var path: String
        /// Its size in bytes.
        public var bytes: UInt64
        /// The SHA-256 of its contents, in lowercase hexadecimal.
        public var sha256: String
    }

    /// One replica's copy.
    public struct Member: Sendable, Hashable, Codable {
        /// The replica's id.
        public var id: UInt64
        /// The incarnation its store was open with.
        public var incarnation: UInt64
        /// Its clock in the copy: counter by replica id.
        public var clock: [String: UInt64]
        /// Objects in the copy.
        public var objects: Int
        /// Log entries in the copy.
        public var logEntries: Int
        /// The copy's `data.mdb`.
        public var file: File

        /// `clock` as a `VectorClock`.
        public var vectorClock: VectorClock {
            VectorClock(
                Dictionary(
                    uniqueKeysWithValues: clock.compactMap { key, value in
                        UInt64(key).map { (ReplicaID($0), value) }
                    }))
        }
    }

    /// The format this build writes and reads.
    public static let currentFormatVersion = 1
    /// The file name of the manifest in a backup directory.
    public static let fileName = "backup-manifest.json"
    /// What `kind` holds: tells a backup manifest from any other JSON file.
    public static let kindName = "concord-backup"

    /// Always `kindName`.
    public var kind: String
    /// The format of the backup.
    public var format: Int
    /// The backup's name: its directory's name.
    public var name: String
    /// What the operator said the backup is for (`concord backup create --description`).
    public var comment: String?
    /// When it was taken, in microseconds since 1970-01-01 UTC.
    public var createdAtMicroseconds: UInt64
    /// When the cluster it was taken of was made: restoring one replica from a backup needs
    /// the same cluster.
    public var clusterCreatedAtMicroseconds: UInt64
    /// The cluster directory it was taken of.
    public var source: String
    /// The membership epoch then.
    public var epoch: UInt64
    /// The replicas copied, by id.
    public var members: [Member]
    /// Members that were down when the backup was taken (no copy; restored, they rejoin
    /// empty and catch up from the others).
    public var missing: [UInt64]
    /// The cluster manifest file.
    public var clusterManifest: File
    /// The identifier of the key the stores are sealed with (nil: not encrypted).
    public var keyID: String?

    /// When it was taken.
    public var createdAt: Date { Date(timeIntervalSince1970: Double(createdAtMicroseconds) / 1_000_000) }

    /// Every file the backup holds, manifest excepted.
    public var files: [File] { [clusterManifest] + members.map(\.file) }

    /// The total size of its files in bytes.
    public var totalBytes: UInt64 { files.reduce(0) { $0 + $1.bytes } }

    /// The member copy of replica `id`, if the backup has one.
    public func member(_ id: ReplicaID) -> Member? { members.first { $0.id == id.rawValue } }
}

extension BackupManifest {
    /// Reads and checks the manifest of the backup directory `directory`.
    /// - Throws: `ConcordError.invalidArgument` when there is no manifest (not a backup, or
    ///   an interrupted one); `.formatVersionMismatch` for another format; `.corrupted` when
    ///   it does not decode.
    static func read(in directory: URL) throws(ConcordError) -> BackupManifest {
        let path = directory.appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConcordError(
                .invalidArgument, "\(directory.path) is not a Concord backup: it has no \(fileName)")
        }
        let bytes = try FileCalls.readFile(atPath: path, maximumBytes: 16 << 20, what: "backup manifest")
        struct Header: Decodable {
            var kind: String?
            var format: Int?
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes))
        } catch {
            throw ConcordError(.corrupted, "the backup manifest \(path) is not valid JSON; the backup is damaged")
        }
        guard header.kind == kindName else {
            throw ConcordError(.invalidArgument, "\(path) is not a Concord backup manifest")
        }
        guard header.format == currentFormatVersion else {
            throw ConcordError(
                .formatVersionMismatch,
                "the backup \(directory.path) has format \(header.format ?? 0); this build reads "
                    + "format \(currentFormatVersion)")
        }
        do {
            return try JSONDecoder().decode(BackupManifest.self, from: Data(bytes))
        } catch {
            throw ConcordError(
                .corrupted, "the backup manifest \(path) lacks a field or holds a wrong one; the backup is damaged",
                underlying: "\(error)")
        }
    }

    /// Writes the manifest durably into `directory`.
    func write(in directory: URL) throws(ConcordError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(self)
        } catch {
            throw ConcordError(.storage, "cannot encode the backup manifest", underlying: "\(error)")
        }
        try FileCalls.writeDurably(Array(data) + [0x0A], toPath: directory.appendingPathComponent(Self.fileName).path)
    }
}

/// SHA-256 of files, read in chunks.
enum FileDigest {
    /// The SHA-256 of the file at `path` in lowercase hexadecimal, and its size.
    static func sha256(ofFileAtPath path: String) throws(ConcordError) -> (hex: String, bytes: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ConcordError(.storage, "cannot open \(path) to checksum it")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var total: UInt64 = 0
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                total += UInt64(chunk.count)
            }
        } catch {
            throw ConcordError(.storage, "cannot read \(path) to checksum it", underlying: "\(error)")
        }
        let hex = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return (hex, total)
    }
}
