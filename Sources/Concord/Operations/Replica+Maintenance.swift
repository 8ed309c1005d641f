import CRDTs
import Foundation
import LMDB

/// What collecting garbage at one replica did.
public struct GarbageCollection: Sendable, Hashable {
    /// The replica.
    public var replica: ReplicaID
    /// Log entries deleted because every member has them.
    public var logEntriesCollected: UInt64
    /// Log entries deleted beyond `Configuration.logBound` (their peers get a state transfer).
    public var logEntriesForced: UInt64
    /// Objects whose causal metadata was compacted.
    public var objectsCompacted: UInt64
    /// Log entries left.
    public var logLength: Int
}

/// What compacting one replica's store did.
public struct StoreCompaction: Sendable, Hashable {
    /// The replica.
    public var replica: ReplicaID
    /// The size of its `data.mdb` before, in bytes.
    public var bytesBefore: UInt64
    /// And after.
    public var bytesAfter: UInt64
}

extension Replica {
    /// Collects garbage now instead of at the next anti-entropy round: deletes the log
    /// entries every member has (and those beyond the log bound), and compacts the causal
    /// metadata of objects when every member has acknowledged this replica's clock exactly.
    ///
    /// - Throws: `.unavailable` while down; `.reentrantCall` inside a transaction; a storage
    ///   failure is reported in `status().lastFailure` and retried at the next round.
    public func collectGarbage() throws(ConcordError) -> GarbageCollection {
        try checkNotInsideTransaction("collectGarbage")
        condition.lock()
        defer {
            condition.unlock()
            condition.broadcast()
        }
        guard let core, let store else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        let before = core.counters
        let now = transport.nowMicroseconds
        run(core.tick(nowMicroseconds: now, reading: store, forced: true), on: core, store, nowMicroseconds: now)
        let after = core.counters
        return GarbageCollection(
            replica: id, logEntriesCollected: after.logEntriesCollected - before.logEntriesCollected,
            logEntriesForced: after.logEntriesForced - before.logEntriesForced,
            objectsCompacted: after.objectsCompacted - before.objectsCompacted, logLength: core.log.count)
    }

    /// Compacts the replica's store file: an LMDB compacting copy (free pages left out)
    /// replaces `data.mdb`. Writes at this replica wait meanwhile; reads go on (a read that
    /// meets the swap reads the new file). Readers in other processes keep the snapshot
    /// they have until they reopen.
    ///
    /// - Throws: `.unavailable` while down; `.storage` when the copy fails (nothing changed)
    ///   or when the compacted store cannot be reopened (the replica is then down; its files
    ///   are whole, and `Cluster.restart` reopens it).
    public func compactStore() throws(ConcordError) -> StoreCompaction {
        try checkNotInsideTransaction("compactStore")
        condition.lock()
        defer {
            condition.unlock()
            condition.broadcast()
        }
        guard core != nil, let old = store else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        let sizes: (before: UInt64, after: UInt64)
        if let failure = old.flushBeforeClosing() {
            metrics.logger.error(
                "the last commits could not be flushed before compacting", metadata: ["error": "\(failure)"])
        }
        do {
            sizes = try old.replaceWithCompactingCopy(scratchName: "compacting")
        } catch {
            // After a failed copy the old environment is still open and nothing changed;
            // after that, the file is whole (old or new) and must be reopened.
            if old.environment.isClosed { reopenAfterCompaction() }
            throw error
        }
        guard reopenAfterCompaction() else {
            throw ConcordError(.storage, "the compacted store of \(self) did not reopen; restart the replica")
        }
        return StoreCompaction(replica: id, bytesBefore: sizes.before, bytesAfter: sizes.after)
    }

    /// Reopens the store after a compaction swapped its file; on failure the replica goes
    /// down as in a crash. Called with the lock held.
    @discardableResult
    private func reopenAfterCompaction() -> Bool {
        do {
            let reopened = try Storage(path: path, replica: id, configuration: configuration, faults: storageFaults)
            store = reopened
            readableStorage.withLock { $0 = reopened }
            return true
        } catch {
            transport.detach(id)
            readableStorage.withLock { $0 = nil }
            store = nil
            core = nil
            return false
        }
    }

    /// The store, for reading operations (verify, backup, dumps); nil while down.
    var storageForReading: Storage? { readableStorage.withLock { $0 } }
}
