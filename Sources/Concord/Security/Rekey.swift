import CRDTs
import Foundation
import LMDB

/// What a rekey did.
public struct RekeyReport: Sendable, Hashable {
    /// Records sealed under the new key, per replica.
    public var resealed: [ReplicaID: Int]
    /// Records found sealed under the new key already (a rekey that was resumed).
    public var alreadyMoved: [ReplicaID: Int]
}

extension Cluster {
    /// Moves every store of the cluster in `directory` to the key `to`: from the key
    /// `from`, or from plain records when `from` is nil (encrypting a plain cluster).
    ///
    /// No process may have the directory open. Each store first records that a rekey from
    /// `from` to `to` is under way; then every record is opened with the old key and sealed
    /// with the new one, a few hundred per commit; then the store's key check names only the
    /// new key, and last the cluster manifest does. Killed at any point, nothing is lost: the
    /// records not yet moved still open with the old key, the store refuses a normal opening
    /// until the rekey is run again with the same keys, and that run goes on where the first
    /// stopped. Backups taken before keep the old key (their manifests name it).
    ///
    /// - Throws: `.keyMismatch` when `from` does not open a store (or a plain store is given a
    ///   `from`, or an encrypted one none), or a store is half way through a rekey between
    ///   other keys; `.invalidArgument` for a directory that is not a cluster, or `from` and
    ///   `to` the same key; `.directoryInUse`; `.corrupted` naming a record that does not
    ///   open; `.storage`.
    @discardableResult
    public static func rekey(
        directoryAt directory: URL, from: Encryption?, to: Encryption, progress: ((String) -> Void)? = nil
    ) throws(ConcordError) -> RekeyReport {
        if let from, from.key == to.key {
            throw ConcordError(.invalidArgument, "the old and the new key are the same key")
        }
        let lock = try DirectoryLock.acquire(in: directory, for: "rekey it")
        defer { lock.release() }
        let arguments = ["from": from?.keyID ?? "none", "to": to.keyID]
        return try AuditLog(clusterDirectory: directory).recording("rekey", arguments) {
            () throws(ConcordError) -> RekeyReport in try rekeyStores(in: directory, from: from, to: to, progress)
        }
    }

    private static func rekeyStores(
        in directory: URL, from: Encryption?, to: Encryption, _ progress: ((String) -> Void)?
    ) throws(ConcordError) -> RekeyReport {
        var clusterDirectory = try ClusterDirectory.open(at: directory, creating: Configuration())
        let manifest = clusterDirectory.manifest
        var report = RekeyReport(resealed: [:], alreadyMoved: [:])
        for id in manifest.memberIDs {
            let path = ClusterDirectory.replicaURL(of: id, in: directory).path
            guard FileManager.default.fileExists(atPath: path + "/data.mdb") else { continue }
            progress?("rekey replica \(id.rawValue)")
            let (resealed, moved) = try rekeyStore(
                id, at: path, configuration: manifest.configuration, from: from, to: to)
            report.resealed[id] = resealed
            report.alreadyMoved[id] = moved
        }
        try clusterDirectory.recordEncryptionKeyID(to.keyID)
        return report
    }

    private static func rekeyStore(
        _ id: ReplicaID, at path: String, configuration: Configuration, from: Encryption?, to: Encryption
    ) throws(ConcordError) -> (resealed: Int, moved: Int) {
        let sealer = Sealer(replica: id, current: to, previous: from, acceptsPlain: from == nil)
        let storage = try Storage(
            path: path, replica: id, configuration: configuration, sealer: sealer, rekeying: true)
        defer { storage.environment.close() }
        let name = "the store of replica \(id.rawValue)"
        let stored = try storage.read("read the key check of \(name)") { txn in
            try txn.get(Storage.MetaKey.encryption, in: storage.meta)
        }
        let fromName = from?.keyID ?? ""
        if let stored {
            let check = try KeyCheck(decoding: stored)
            if let rekeyingFrom = check.rekeyingFrom {
                guard check.keyID == to.keyID, check.tag == sealer.current.tag, rekeyingFrom == fromName else {
                    throw ConcordError(
                        .keyMismatch,
                        "\(name) is half way through a rekey from '\(rekeyingFrom.isEmpty ? "no key" : rekeyingFrom)' "
                            + "to '\(check.keyID)'; run that rekey again to finish it")
                }
            } else if let from {
                guard check.opens(with: Sealer(replica: id, current: from)) else {
                    throw ConcordError(
                        .keyMismatch,
                        "the old key given ('\(from.keyID)') does not open \(name), encrypted with key '\(check.keyID)'"
                    )
                }
            } else {
                throw ConcordError(
                    .keyMismatch, "\(name) is encrypted with key '\(check.keyID)': give it as the old key")
            }
        } else if let from {
            throw ConcordError(
                .keyMismatch, "\(name) is not encrypted, so it has no old key ('\(from.keyID)' was given)")
        }
        // Say a rekey is under way, then move the records, then say it is done.
        var batch = StorageBatch()
        batch.put(
            KeyCheck.make(for: sealer, rekeyingFrom: fromName).encoded(), forKey: Storage.MetaKey.encryption, in: .meta)
        try storage.commit(batch, "record the rekey of \(name)")
        var resealed = 0
        var moved = 0
        for table in [Sealer.Table.objects, .log, .meta, .conflicts] {
            try reseal(table, in: storage, sealer: sealer, resealed: &resealed, moved: &moved)
        }
        batch = StorageBatch()
        batch.put(KeyCheck.make(for: sealer).encoded(), forKey: Storage.MetaKey.encryption, in: .meta)
        try storage.commit(batch, "finish the rekey of \(name)")
        try storage.sync("flush the rekeyed \(name)")
        // Compacted, so that no free page keeps a record as it was under the old key (or
        // in the clear).
        _ = try storage.replaceWithCompactingCopy(scratchName: "rekeyed")
        return (resealed, moved)
    }

    /// Reseals every record of `table` not yet under the new key, a few hundred per commit.
    private static func reseal(
        _ table: Sealer.Table, in storage: Storage, sealer: Sealer, resealed: inout Int, moved: inout Int
    ) throws(ConcordError) {
        let database: Database
        switch table {
        case .objects: database = storage.objects
        case .log: database = storage.log
        case .meta: database = storage.meta
        case .conflicts:
            guard let conflicts = storage.conflicts else { return }
            database = conflicts
        }
        var after: [UInt8]?
        while true {
            var page: [(key: [UInt8], record: [UInt8])] = []
            try storage.read("read records to rekey") { txn in
                try txn.forEach(in: database, from: after) { key, value in
                    let key = Array(key)
                    if key == after { return true }
                    page.append((key, Array(value)))
                    return page.count < 256
                }
            }
            guard let last = page.last else { return }
            after = last.key
            var writes: [(key: [UInt8], record: [UInt8])] = []
            for (key, record) in page where !sealer.isPlain(table, key) {
                if Sealer.tag(of: record) == sealer.current.tag {
                    moved += 1
                    continue
                }
                let plain = try sealer.open(record, table, key: key, what: "a record to rekey")
                writes.append((key, sealer.seal(plain, table, key: key)))
            }
            guard !writes.isEmpty else { continue }
            try storage.write("rekey records") { txn in
                for (key, record) in writes { try txn.put(record, forKey: key, in: database) }
            }
            resealed += writes.count
        }
    }
}
