import CRDTs
import Foundation

extension Cluster {
    /// Wipes replica `id` of the cluster in `directory` while no process has it open — the
    /// seed's "stop the node, clear its data, restart it": the replica's folder is moved
    /// aside (not deleted: `DIR.replica-<id>.wiped-<time>`), and when the cluster next opens
    /// the replica finds its files gone and resyncs from its peers with a new incarnation.
    ///
    /// This works when the replica's store cannot even be opened (a damaged file), which
    /// `wipe(_:)` on an open cluster cannot reach.
    /// - Returns: where the folder was moved (nil: it had none).
    /// - Throws: `.invalidArgument` for a directory that is not a cluster or a non-member, or
    ///   when no other member has a store to resync from; `.directoryInUse` when a process has
    ///   the directory open; `.storage` when the folder cannot be moved.
    @discardableResult
    public static func wipeReplica(_ id: ReplicaID, inDirectoryAt directory: URL) throws(ConcordError) -> URL? {
        let manifest = try ClusterDirectory.readManifest(at: directory)
        guard manifest.memberIndex(of: id) != nil else {
            throw ConcordError(.invalidArgument, "replica \(id.rawValue) is not a member of \(directory.path)")
        }
        let others = manifest.memberIDs.filter { $0 != id }
        guard
            others.isEmpty
                || others.contains(where: { other in
                    FileManager.default.fileExists(
                        atPath: ClusterDirectory.replicaURL(of: other, in: directory).appendingPathComponent("data.mdb")
                            .path)
                })
        else {
            throw ConcordError(
                .invalidArgument,
                "no other member of \(directory.path) has a store, so replica \(id.rawValue) could not resync; "
                    + "restore it from a backup instead")
        }
        let lock = try DirectoryLock.acquire(in: directory, for: "wipe replica \(id.rawValue)")
        defer { lock.release() }
        return try AuditLog(clusterDirectory: directory).recording(
            "wipe", ["replica": "\(id.rawValue)", "offline": "true"]
        ) {
            () throws(ConcordError) -> URL? in try moveAside(id, in: directory)
        }
    }

    private static func moveAside(_ id: ReplicaID, in directory: URL) throws(ConcordError) -> URL? {
        let folder = ClusterDirectory.replicaURL(of: id, in: directory)
        guard FileManager.default.fileExists(atPath: folder.path) else { return nil }
        let stamp = BackupWriter.utcStamp(Date())
        let aside = directory.standardizedFileURL.deletingLastPathComponent().appendingPathComponent(
            "\(directory.lastPathComponent).replica-\(id.rawValue).wiped-\(stamp)")
        guard rename(folder.path, aside.path) == 0 else {
            throw FileCalls.failure("move \(folder.path) to", aside.path, errno)
        }
        try FileCalls.synchronizeDirectory(atPath: directory.path)
        return aside
    }
}
