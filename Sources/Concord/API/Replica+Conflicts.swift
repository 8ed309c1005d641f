extension Replica {
    /// The conflicts this replica has recorded (oldest first, at most
    /// `Configuration.conflictRecordBound` of them), then the `MVRegister`s, nested ones
    /// too, that hold several values now (`ConflictRecord.Origin.scan`).
    ///
    /// - Throws: `ConcordError.unavailable` while the replica is down; `.corrupted` naming a
    ///   record or object that does not decode; `.storage` on an LMDB failure.
    /// - Complexity: one read transaction: every record, and a decode of every
    ///   `MVRegister`, `GMap` and `RRMap` object. It never blocks writers.
    public func conflicts() throws(ConcordError) -> [ConflictRecord] {
        guard let storage = readableStorage.withLock({ $0 }) else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        do {
            return try storage.readConflicts(replica: id)
        } catch  where storage.environment.isClosed {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
    }
}

extension Transaction {
    /// Records a refused `BoundedCounter` operation (at any depth of nested maps) in a
    /// write transaction of its own; other refusals record nothing.
    /// - Returns: nil, or the failure to record, for the rejection's `underlying` text (the
    ///   operation was refused either way, and that is what the caller hears).
    func recordRefusal(
        of operation: any Sendable, on key: ObjectKey, error: CRDTError
    ) -> String? {
        guard let refusal = DetectedConflict.refusal(of: operation, error: error, at: context.replica) else {
            return nil
        }
        // The record is kept whether or not the transaction commits, so it is written on its
        // own; the held write (only reads so far) gives way to it.
        endHeldWrite()
        do {
            try storage.recordConflicts([
                Storage.encodeConflict(refusal, key: key, timeMicroseconds: context.timeMicroseconds)
            ])
            recordedConflicts.append(refusal.kind)
            return nil
        } catch {
            return "the refusal could not be recorded as a conflict: \(error)"
        }
    }
}
