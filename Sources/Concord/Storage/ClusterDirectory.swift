import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The record a cluster keeps of itself in its directory: one file, `cluster-manifest.json`,
/// beside the `replica-<id>/` folders, holding a `ClusterManifest`.
///
/// Every change replaces the whole file atomically: the new manifest goes to a temporary file
/// in the same directory, is flushed to the device, renamed over the old one, and the
/// directory is flushed too. A crash at any point leaves either the old manifest or the new
/// one, never a mix; another process reading meanwhile sees one or the other.
///
/// The file is pretty-printed JSON with sorted keys, for operators to read:
///
/// ```json
/// {
///   "configuration" : { "durability" : "full", "seed" : 1, … },
///   "createdAtMicroseconds" : 1767225600000000,
///   "epoch" : 1,
///   "format" : 1,
///   "kind" : "concord-cluster-manifest",
///   "members" : [ { "id" : 1, "incarnation" : 3 }, { "id" : 2, "incarnation" : 1 } ],
///   "removed" : [ 3 ]
/// }
/// ```
///
/// `kind` tells a manifest from any other JSON file; `format` is checked before anything else
/// is read, so a manifest of a newer build is refused as such rather than as damage.
///
/// The `Cluster` that owns a directory is its only writer (`open` and the mutating methods;
/// they are internal), and it makes its changes one at a time: a `ClusterDirectory` is a
/// value, and two copies changed at once would each overwrite the other's change. Other processes — the `concord` tool, backups — read it with
/// `readManifest(at:)`, which never writes.
public struct ClusterDirectory: Sendable {
    /// The name of the manifest file in a cluster directory.
    public static let manifestFileName = "cluster-manifest.json"
    /// Where a new manifest is written before it is renamed over the old one. A leftover of an
    /// interrupted write is harmless: the next write truncates it.
    static let temporaryFileName = "cluster-manifest.json.tmp"
    /// No manifest is anywhere near this large (a member takes some 50 bytes): a bigger file
    /// is damaged, and is not read into memory.
    static let maximumManifestBytes = 16 << 20
    /// An incarnation file of an earlier build holds one decimal number and a newline.
    static let maximumIncarnationFileBytes = 64

    /// The cluster directory.
    let url: URL
    /// The manifest as last written.
    private(set) var manifest: ClusterManifest

    private init(url: URL, manifest: ClusterManifest) {
        self.url = url
        self.manifest = manifest
    }

    /// The manifest file of the cluster directory `directory`.
    static func manifestURL(in directory: URL) -> URL {
        directory.appendingPathComponent(manifestFileName)
    }

    /// The folder of replica `id`: `replica-<id>/`.
    func replicaURL(of id: ReplicaID) -> URL {
        Self.replicaURL(of: id, in: url)
    }

    /// The folder of replica `id` in the cluster directory `directory`.
    static func replicaURL(of id: ReplicaID, in directory: URL) -> URL {
        directory.appendingPathComponent(LegacyFiles.replicaPrefix + String(id.rawValue))
    }

    // MARK: Opening

    /// Takes the owner's lock of the cluster directory at `url` (see `DirectoryLock`),
    /// creating the directory when it is missing, before `open` may write anything there.
    /// - Throws: `ConcordError.invalidArgument` when `url` is a file; `.directoryInUse`
    ///   naming the process that holds it; `.storage` when a file call fails.
    static func lock(at url: URL, for purpose: String) throws(ConcordError) -> DirectoryLock {
        switch try FileCalls.fileType(atPath: url.path) {
        case nil: try FileCalls.createDirectory(atPath: url.path)
        case S_IFDIR: break
        default: throw ConcordError(.invalidArgument, "\(url.path) is a file, not a Concord cluster directory")
        }
        return try DirectoryLock.acquire(in: url, for: purpose)
    }

    /// Opens the cluster directory at `url` for writing, as the cluster that owns it.
    ///
    /// - A directory with a manifest: reads it (`configuration` is not used; the manifest
    ///   keeps the one the cluster was made with). Loose files that an interrupted migration
    ///   left behind are deleted, once they are found to agree with the manifest.
    /// - A missing or empty directory: creates it and a manifest with no members, made with
    ///   `configuration`, now.
    /// - A directory of an earlier build (`replica-<id>/` folders, `incarnation-<id>` and
    ///   `removed-replica-<id>` files, no manifest): migrates it. Members are the replica
    ///   folders, with the incarnation of their `incarnation-<id>` file (0 without one);
    ///   removed are the replicas with a `removed-replica-<id>` marker — and those with an
    ///   incarnation file but neither a folder nor a marker, whose folder was lost, so their
    ///   ids are not reused; the epoch is the number removed; `configuration` and the current
    ///   time are recorded. The manifest is written first, then the loose files are deleted.
    ///   Other entries are left alone.
    ///
    /// - Throws: `ConcordError.invalidArgument` when `url` is a file, or a directory that holds
    ///   other things but neither a manifest nor anything of an earlier build (it is not
    ///   adopted); `.formatVersionMismatch` for a manifest of another format; `.corrupted`
    ///   for a damaged or inconsistent manifest, an unreadable incarnation file, or loose files
    ///   that contradict the manifest; `.storage` when a file call fails. Nothing already
    ///   written is changed by a call that throws — except that a migration whose manifest is
    ///   written but whose loose files cannot all be deleted throws, and the next `open`
    ///   finishes it.
    /// - Complexity: one listing of the directory and a read of the manifest; creating or
    ///   migrating adds one manifest write (two fsyncs).
    static func open(at url: URL, creating configuration: Configuration) throws(ConcordError) -> ClusterDirectory {
        switch try inspect(url) {
        case .missing:
            try FileCalls.createDirectory(atPath: url.path)
            return try create(at: url, configuration: configuration)
        case .empty:
            return try create(at: url, configuration: configuration)
        case .legacy(var files):
            try files.readIncarnations(in: url)
            let manifest = try files.migrated(
                configuration: configuration, createdAtMicroseconds: currentTimeMicroseconds(),
                source: "the layout of the earlier Concord build in \(url.path)")
            try writeManifest(manifest, in: url)
            try files.deleteLooseFiles(in: url)
            return ClusterDirectory(url: url, manifest: manifest)
        case .current(let manifest, let leftovers):
            if !leftovers.looseFileNames.isEmpty {
                try leftovers.deleteLooseFiles(in: url)
            }
            return ClusterDirectory(url: url, manifest: manifest)
        }
    }

    /// Makes the directory of member `replica` of the cluster `clusterName`, whose members are
    /// `members` and whose other members run in other processes (format 2, see
    /// `ClusterManifest.hosting`).
    ///
    /// - Throws: `.invalidArgument` when `url` exists and is not empty, the name is not 1 to
    ///   64 letters, digits, `-` or `_`, `members` repeats an id, holds 0, or does not hold
    ///   `replica`; `.storage` when the directory or its manifest cannot be written.
    static func createMember(
        at url: URL, clusterName: String, replica: ReplicaID, members: [ReplicaID], configuration: Configuration
    ) throws(ConcordError) -> ClusterDirectory {
        try checkMemberArguments(clusterName: clusterName, replica: replica, members: members)
        switch try inspect(url) {
        case .missing:
            try FileCalls.createDirectory(atPath: url.path)
        case .empty:
            break
        case .legacy, .current:
            throw ConcordError(
                .invalidArgument, "\(url.path) already holds a Concord directory; give a new or empty directory")
        }
        var manifest = ClusterManifest(
            formatVersion: ClusterManifest.memberDirectoryFormatVersion,
            members: members.map { .init(id: $0, incarnation: 0) }, removed: [], epoch: 0,
            configuration: configuration, createdAtMicroseconds: currentTimeMicroseconds())
        manifest.hosting = .init(clusterName: clusterName, replica: replica)
        try manifest.check(source: "the new manifest of \(url.path)")
        try writeManifest(manifest, in: url)
        return ClusterDirectory(url: url, manifest: manifest)
    }

    /// Throws `.invalidArgument` unless `clusterName` is a valid name and `members` are
    /// distinct ids from 1 that hold `replica` (see `createMember`).
    static func checkMemberArguments(clusterName: String, replica: ReplicaID, members: [ReplicaID])
        throws(ConcordError)
    {
        guard ClusterManifest.isValidClusterName(clusterName) else {
            throw ConcordError(
                .invalidArgument, "the cluster name \"\(clusterName)\" is not 1 to 64 letters, digits, - or _")
        }
        guard !members.contains(ReplicaID(0)) else {
            throw ConcordError(.invalidArgument, "replica ids start at 1; 0 is not a replica")
        }
        guard Set(members).count == members.count else {
            throw ConcordError(.invalidArgument, "the members \(members.map(\.rawValue)) repeat an id")
        }
        guard members.contains(replica) else {
            throw ConcordError(
                .invalidArgument,
                "replica \(replica.rawValue) is not among the members \(members.map(\.rawValue).sorted())")
        }
    }

    /// Opens the existing member directory at `url` (made by `createMember`), as its owner.
    ///
    /// - Throws: `.invalidArgument` when it is not a Concord directory or holds a whole
    ///   cluster; what `readManifest(at:)` throws.
    static func openMember(at url: URL) throws(ConcordError) -> ClusterDirectory {
        let manifest = try readManifest(at: url)
        guard manifest.hosting != nil else {
            throw ConcordError(
                .invalidArgument,
                "\(url.path) holds a whole cluster (every member in one process): open it with Cluster, "
                    + "not as one member of a cluster spread over processes")
        }
        return ClusterDirectory(url: url, manifest: manifest)
    }

    private static func create(at url: URL, configuration: Configuration) throws(ConcordError) -> ClusterDirectory {
        let manifest = ClusterManifest(
            members: [], removed: [], epoch: 0, configuration: configuration,
            createdAtMicroseconds: currentTimeMicroseconds())
        try writeManifest(manifest, in: url)
        return ClusterDirectory(url: url, manifest: manifest)
    }

    private static func currentTimeMicroseconds() -> UInt64 {
        // A clock before 1970 would make the conversion trap; such a cluster is made "at 1970".
        UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000)
    }

    // MARK: Reading from another process

    /// The manifest of the cluster directory at `url`, for a process that does not own the
    /// cluster (the `concord` tool, a backup). Never writes, never migrates, never deletes.
    ///
    /// A manifest is accepted only when its `kind` is `concord-cluster-manifest`, its format
    /// is `ClusterManifest.currentFormatVersion`, every field is present and in range, no
    /// replica is listed twice or both as a member and as removed, the epoch is at least the
    /// number removed, and loose files of an earlier build beside it (left by an interrupted
    /// migration) say nothing it does not.
    ///
    /// - Throws: `ConcordError.invalidArgument` when `url` does not exist, is a file, or is a
    ///   directory without a manifest or with a file of that name that is no manifest;
    ///   `.formatVersionMismatch` for a manifest of another format, or a directory of an
    ///   earlier build that has not been migrated yet (open it once with this build's
    ///   `Cluster`); `.corrupted` for a damaged or inconsistent manifest; `.storage` when a
    ///   file cannot be read.
    /// - Complexity: one listing of the directory and a read of a small file.
    public static func readManifest(at url: URL) throws(ConcordError) -> ClusterManifest {
        switch try inspect(url) {
        case .missing:
            throw ConcordError(.invalidArgument, "\(url.path) does not exist, so it is not a Concord cluster directory")
        case .empty:
            throw ConcordError(
                .invalidArgument,
                "\(url.path) is not a Concord cluster directory: it is empty, without \(manifestFileName)")
        case .legacy:
            throw ConcordError(
                .formatVersionMismatch,
                "\(url.path) is a cluster directory of an earlier Concord build, without \(manifestFileName); "
                    + "open it once with this build's Cluster to migrate it")
        case .current(let manifest, _):
            return manifest
        }
    }

    // MARK: Changes

    /// Records that member `id` opened with `incarnation`, so that it reopens above it even
    /// after its own files are wiped.
    ///
    /// - Throws: `ConcordError.invalidArgument` when `id` is not a member, or `incarnation` is
    ///   below the one recorded (incarnations only grow); `.storage` when the manifest cannot
    ///   be written (then nothing changed).
    /// - Complexity: one manifest write (two fsyncs); none when the incarnation is unchanged.
    mutating func recordIncarnation(_ incarnation: UInt64, of id: ReplicaID) throws(ConcordError) {
        guard let index = manifest.memberIndex(of: id) else {
            throw ConcordError(
                .invalidArgument, "replica \(id.rawValue) is not a member of the cluster in \(url.path)")
        }
        let recorded = manifest.members[index].incarnation
        guard incarnation >= recorded else {
            throw ConcordError(
                .invalidArgument,
                "incarnation \(incarnation) of replica \(id.rawValue) is below its recorded incarnation \(recorded) "
                    + "in \(url.path); incarnations only grow")
        }
        guard incarnation != recorded else { return }
        var changed = manifest
        changed.members[index].incarnation = incarnation
        try commit(changed)
    }

    /// Adds the replica `id` to the members, with `incarnation`.
    ///
    /// - Throws: `ConcordError.invalidArgument` when `id` is already a member, was removed
    ///   (ids are never reused: take `manifest.nextReplicaID`), or is `UInt64.max`; `.storage`
    ///   when the manifest cannot be written (then nothing changed).
    /// - Complexity: one manifest write (two fsyncs).
    mutating func addMember(_ id: ReplicaID, incarnation: UInt64 = 0) throws(ConcordError) {
        if manifest.memberIndex(of: id) != nil {
            throw ConcordError(
                .invalidArgument, "replica \(id.rawValue) is already a member of the cluster in \(url.path)")
        }
        if manifest.removedIndex(of: id) != nil {
            throw ConcordError(
                .invalidArgument,
                "replica \(id.rawValue) was removed from the cluster in \(url.path), and ids are never reused; "
                    + "the next free id is \(manifest.nextReplicaID.rawValue)")
        }
        guard id.rawValue < .max else {
            throw ConcordError(
                .invalidArgument, "replica id \(id.rawValue) is out of range (the highest is \(UInt64.max - 1))")
        }
        var changed = manifest
        changed.members.append(ClusterManifest.Member(id: id, incarnation: incarnation))
        changed.members.sort { $0.id < $1.id }
        try commit(changed)
    }

    /// Removes member `id`: it moves to `removed`, so its id is never used again, and the
    /// epoch grows by one.
    ///
    /// - Throws: `ConcordError.invalidArgument` when `id` is not a member, or the epoch is at
    ///   its maximum; `.storage` when the manifest cannot be written (then `id` stays a member).
    /// - Complexity: one manifest write (two fsyncs).
    /// Records the identifier of the key the stores are now encrypted with (after a rekey).
    mutating func recordEncryptionKeyID(_ keyID: String?) throws(ConcordError) {
        guard manifest.encryptionKeyID != keyID else { return }
        var changed = manifest
        changed.encryptionKeyID = keyID
        try commit(changed)
    }

    mutating func removeMember(_ id: ReplicaID) throws(ConcordError) {
        guard let index = manifest.memberIndex(of: id) else {
            let why = manifest.removedIndex(of: id) != nil ? "was already removed from" : "is not a member of"
            throw ConcordError(.invalidArgument, "replica \(id.rawValue) \(why) the cluster in \(url.path)")
        }
        let (epoch, overflow) = manifest.epoch.addingReportingOverflow(1)
        guard !overflow else {
            throw ConcordError(
                .invalidArgument, "the membership epoch of the cluster in \(url.path) is at its maximum")
        }
        var changed = manifest
        changed.members.remove(at: index)
        changed.removed.append(id)
        changed.removed.sort()
        changed.epoch = epoch
        try commit(changed)
    }

    /// Writes `changed` and adopts it; after a failure the old manifest stays in memory.
    ///
    /// Should flushing the directory fail after the rename, the file may already hold
    /// `changed`; the next successful change rewrites it whole from what is in memory.
    private mutating func commit(_ changed: ClusterManifest) throws(ConcordError) {
        try Self.writeManifest(changed, in: url)
        manifest = changed
    }

    // MARK: The file

    /// Replaces the manifest of `directory` with `manifest`, atomically and durably.
    static func writeManifest(_ manifest: ClusterManifest, in directory: URL) throws(ConcordError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(ClusterManifestFile(manifest)))
        } catch {
            throw ConcordError(
                .storage, "cannot encode the cluster manifest of \(directory.path)", underlying: "\(error)")
        }
        bytes.append(UInt8(ascii: "\n"))
        let temporary = directory.appendingPathComponent(temporaryFileName).path
        try FileCalls.writeDurably(bytes, toPath: temporary)
        try FileCalls.renameAtomically(temporary, to: manifestURL(in: directory).path)
        try FileCalls.synchronizeDirectory(atPath: directory.path)
    }

    /// Reads and checks the manifest at `path` (see `readManifest(at:)`).
    static func decodeManifest(atPath path: String) throws(ConcordError) -> ClusterManifest {
        let bytes = try FileCalls.readFile(atPath: path, maximumBytes: maximumManifestBytes, what: "cluster manifest")
        let data = Data(bytes)
        let header: ClusterManifestFile.Header
        do {
            header = try JSONDecoder().decode(ClusterManifestFile.Header.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw ConcordError(
                    .corrupted,
                    "the cluster manifest \(path) is not valid JSON (truncated or damaged); "
                        + "restore it from a backup", underlying: describe(error))
            }
            let key = context(of: error)?.codingPath.first?.stringValue
            if key == ClusterManifestFile.Header.CodingKeys.format.stringValue {
                throw ConcordError(
                    .corrupted, "the cluster manifest \(path) has a damaged format version; restore it from a backup",
                    underlying: describe(error))
            }
            throw notAManifest(path)
        } catch {
            throw ConcordError(.corrupted, "the cluster manifest \(path) cannot be read", underlying: "\(error)")
        }
        guard header.kind == ClusterManifestFile.kindValue else { throw notAManifest(path) }
        guard let format = header.format else {
            throw ConcordError(
                .corrupted, "the cluster manifest \(path) has no format version; restore it from a backup")
        }
        let readable = [ClusterManifest.currentFormatVersion, ClusterManifest.memberDirectoryFormatVersion]
        guard readable.contains(format) else {
            let advice =
                format > ClusterManifest.memberDirectoryFormatVersion ? "; open it with a newer Concord build" : ""
            throw ConcordError(
                .formatVersionMismatch,
                "the cluster manifest \(path) has format version \(format); this build reads versions "
                    + "\(ClusterManifest.currentFormatVersion) and \(ClusterManifest.memberDirectoryFormatVersion)\(advice)"
            )
        }
        let file: ClusterManifestFile
        do {
            file = try JSONDecoder().decode(ClusterManifestFile.self, from: data)
        } catch let error as DecodingError {
            throw ConcordError(
                .corrupted, "the cluster manifest \(path) is damaged; restore it from a backup",
                underlying: describe(error))
        } catch {
            throw ConcordError(.corrupted, "the cluster manifest \(path) cannot be read", underlying: "\(error)")
        }
        return try file.manifest(source: "the cluster manifest \(path)")
    }

    private static func notAManifest(_ path: String) -> ConcordError {
        ConcordError(
            .invalidArgument,
            "\(path) is not a Concord cluster manifest (it has no \"kind\": \"\(ClusterManifestFile.kindValue)\"), "
                + "so its directory is not a Concord cluster directory")
    }

    private static func context(of error: DecodingError) -> DecodingError.Context? {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            context
        @unknown default:
            nil
        }
    }

    /// One line: where in the file, and what is wrong there.
    private static func describe(_ error: DecodingError) -> String {
        guard let context = context(of: error) else {
            return "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
        var location = ""
        for key in context.codingPath {
            location += key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)"
        }
        let what = context.debugDescription.replacingOccurrences(of: "\n", with: " ")
        return location.isEmpty ? what : "at \(location): \(what)"
    }

    // MARK: What a directory holds

    private enum Layout {
        /// Nothing at the path.
        case missing
        /// A directory with nothing in it (but perhaps the temporary file of an interrupted first write).
        case empty
        /// A directory of an earlier build, to migrate (its incarnation files not read yet).
        case legacy(LegacyFiles)
        /// A directory with a manifest, and perhaps loose files an interrupted migration left.
        case current(ClusterManifest, leftovers: LegacyFiles)
    }

    /// Lists the directory at `url` and tells what it is; reads, never writes.
    private static func inspect(_ url: URL) throws(ConcordError) -> Layout {
        let path = url.path
        guard let type = try FileCalls.fileType(atPath: path) else { return .missing }
        guard type == S_IFDIR else {
            throw ConcordError(.invalidArgument, "\(path) is a file, not a Concord cluster directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw ConcordError(.storage, "cannot list the cluster directory \(path)", underlying: "\(error)")
        }
        var files = LegacyFiles()
        var hasManifest = false
        var misplaced: [String] = []
        var unrelated: [String] = []
        for name in names.sorted() {
            let entryPath = url.appendingPathComponent(name).path
            let expected: mode_t
            if name == manifestFileName {
                expected = S_IFREG
            } else if name == temporaryFileName || name == DirectoryLock.fileName || name == AuditLog.folderName {
                continue
            } else if let id = LegacyFiles.id(in: name, prefix: LegacyFiles.replicaPrefix) {
                expected = S_IFDIR
                files.replicaFolders.append(id)
            } else if let id = LegacyFiles.id(in: name, prefix: LegacyFiles.incarnationPrefix) {
                expected = S_IFREG
                files.incarnationFiles.append(id)
            } else if let id = LegacyFiles.id(in: name, prefix: LegacyFiles.removedPrefix) {
                expected = S_IFREG
                files.removalMarkers.append(id)
            } else {
                unrelated.append(name)
                continue
            }
            // An entry that vanished since the listing is simply not there.
            guard let type = try FileCalls.fileType(atPath: entryPath) else { continue }
            if type != expected {
                misplaced.append(name)
            } else if name == manifestFileName {
                hasManifest = true
            }
        }
        if let name = misplaced.first {
            let what = name.hasPrefix(LegacyFiles.replicaPrefix) ? "a folder" : "a file"
            throw ConcordError(
                .invalidArgument,
                "\(path) is not a Concord cluster directory as it stands: \(name) is not \(what); move it away")
        }
        if hasManifest {
            let manifest = try decodeManifest(atPath: manifestURL(in: url).path)
            try files.readIncarnations(in: url)
            try files.checkAgreement(with: manifest, directory: path)
            return .current(manifest, leftovers: files)
        }
        if files.isEmpty {
            guard unrelated.isEmpty else {
                let shown = unrelated.prefix(3).map { "\"\($0)\"" }.joined(separator: ", ")
                let more = unrelated.count > 3 ? " and \(unrelated.count - 3) more" : ""
                throw ConcordError(
                    .invalidArgument,
                    "\(path) is not a Concord cluster directory: it holds \(shown)\(more) but no \(manifestFileName) "
                        + "and no replica folders; give a new or empty directory")
            }
            return .empty
        }
        return .legacy(files)
    }
}

// MARK: The loose files of earlier builds

/// What an earlier build kept in a cluster directory: a folder per replica, a file per replica
/// holding its last incarnation as a decimal number, an empty marker file per removed replica.
struct LegacyFiles {
    static let replicaPrefix = "replica-"
    static let incarnationPrefix = "incarnation-"
    static let removedPrefix = "removed-replica-"

    var replicaFolders: [ReplicaID] = []
    var incarnationFiles: [ReplicaID] = []
    var removalMarkers: [ReplicaID] = []
    /// The number in each incarnation file, once read.
    var incarnations: [ReplicaID: UInt64] = [:]

    var isEmpty: Bool { replicaFolders.isEmpty && incarnationFiles.isEmpty && removalMarkers.isEmpty }

    /// The files to delete once a manifest says what they said (not the replica folders).
    var looseFileNames: [String] {
        incarnationFiles.map { Self.incarnationPrefix + String($0.rawValue) }
            + removalMarkers.map { Self.removedPrefix + String($0.rawValue) }
    }

    /// The id in `name` when it is `prefix` and a number as the earlier build wrote it (no
    /// sign, no leading zero): `replica-01` is none of ours.
    static func id(in name: String, prefix: String) -> ReplicaID? {
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard let raw = UInt64(digits), String(raw) == digits else { return nil }
        return ReplicaID(raw)
    }

    mutating func readIncarnations(in directory: URL) throws(ConcordError) {
        for id in incarnationFiles {
            let path = directory.appendingPathComponent(Self.incarnationPrefix + String(id.rawValue)).path
            let bytes = try FileCalls.readFile(
                atPath: path, maximumBytes: ClusterDirectory.maximumIncarnationFileBytes, what: "incarnation file")
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let incarnation = UInt64(text) else {
                throw ConcordError(
                    .corrupted,
                    "the incarnation file \(path) holds \"\(text.prefix(20))\", not a number; write the replica's "
                        + "last incarnation in it, or a higher one")
            }
            incarnations[id] = incarnation
        }
    }

    /// The manifest these files describe (see `ClusterDirectory.open(at:creating:)`).
    func migrated(configuration: Configuration, createdAtMicroseconds: UInt64, source: String)
        throws(ConcordError) -> ClusterManifest
    {
        let folders = Set(replicaFolders)
        var removed = Set(removalMarkers)
        for id in incarnationFiles where !folders.contains(id) {
            // Its folder is gone, and it was never marked removed (a wipe interrupted, or a
            // folder deleted by hand): its id was used all the same.
            removed.insert(id)
        }
        let members = folders.subtracting(removed).map {
            ClusterManifest.Member(id: $0, incarnation: incarnations[$0] ?? 0)
        }
        let manifest = ClusterManifest(
            members: members, removed: Array(removed), epoch: UInt64(removed.count), configuration: configuration,
            createdAtMicroseconds: createdAtMicroseconds)
        try manifest.check(source: source)
        return manifest
    }

    /// Throws `.corrupted` when a loose file says something `manifest` does not: then the
    /// directory was changed after its migration (by an earlier build, which ignores the
    /// manifest), and deleting the file would lose that change.
    func checkAgreement(with manifest: ClusterManifest, directory: String) throws(ConcordError) {
        func disagreement(_ what: String) -> ConcordError {
            ConcordError(
                .corrupted,
                "the cluster directory \(directory) has a manifest and a loose file of an earlier Concord build that "
                    + "contradicts it (\(what)); was it opened by an earlier build after its migration? Delete "
                    + "\(ClusterDirectory.manifestFileName) to migrate again from the loose files, or the loose "
                    + "file to keep the manifest")
        }
        for id in removalMarkers where manifest.removedIndex(of: id) == nil {
            throw disagreement("\(Self.removedPrefix)\(id.rawValue), but replica \(id.rawValue) is not removed")
        }
        for id in incarnationFiles {
            let incarnation = incarnations[id] ?? 0
            if let recorded = manifest.incarnation(of: id) {
                if incarnation > recorded {
                    throw disagreement(
                        "\(Self.incarnationPrefix)\(id.rawValue) holds \(incarnation), above the recorded \(recorded)")
                }
            } else if manifest.removedIndex(of: id) == nil {
                throw disagreement(
                    "\(Self.incarnationPrefix)\(id.rawValue), but replica \(id.rawValue) is neither a member nor removed"
                )
            }
        }
    }

    /// Deletes the incarnation files and removal markers, once the manifest holds what they
    /// said; a failure leaves the rest for the next `open`.
    func deleteLooseFiles(in directory: URL) throws(ConcordError) {
        for name in looseFileNames {
            let path = directory.appendingPathComponent(name).path
            do {
                try FileCalls.removeFile(atPath: path)
            } catch {
                throw ConcordError(
                    .storage,
                    "the manifest of \(directory.path) holds what \(name) said, but the file cannot be deleted; "
                        + "opening the directory again retries", underlying: error.underlying ?? error.message)
            }
        }
        try FileCalls.synchronizeDirectory(atPath: directory.path)
    }
}
