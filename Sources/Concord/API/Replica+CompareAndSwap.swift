extension Replica {
    /// Assigns `new` to the register `key` only if its current value at this replica is
    /// `expected` (`nil`: the register was never assigned, or was reset), and returns whether
    /// it did.
    ///
    /// The comparison and the assignment happen in one local `transaction`, so they are
    /// atomic at this replica: no other local transaction runs between them. Like every
    /// local operation it does not coordinate with other replicas: a concurrent assignment
    /// at another replica may still win by last-writer-wins when it arrives (AntidoteDB's
    /// compare-and-swap is per data center in the same way).
    ///
    /// ```swift
    /// let leader = Key<LWWRegister<String>>("leader")
    /// if try replica.compareAndSwap(leader, expected: nil, new: "node-a") { … }
    /// ```
    /// - Returns: `true` when `new` was assigned (and committed); `false` when the current
    ///   value differs from `expected` (nothing is written, no log entry is made).
    /// - Throws: `ConcordError.unavailable` while the replica is down; `.bootstrapping`
    ///   while a wiped, new or recovering replica catches up (the value it would compare
    ///   with may be missing what peers wrote); `.typeMismatch`, `.corrupted`,
    ///   `.storage`, `.operationRejected` as `update` does.
    /// - Complexity: one LMDB lookup and decode of the register, and, when it matches, one
    ///   LMDB write transaction (one fsync under `.full` durability).
    public func compareAndSwap<V>(
        _ key: Key<LWWRegister<V>>, expected: V?, new: V
    ) throws(ConcordError) -> Bool {
        var swapped = false
        let start = metrics.start()
        var failure: ConcordError?
        defer {
            if let failure {
                metrics.failed(.cas, failure, startedAt: start)
            } else {
                metrics.succeeded(.cas, type: LWWRegister<V>.self, startedAt: start)
            }
        }
        do {
            _ = try runTransaction { transaction in
                // The comparison needs the value every peer may have written.
                if transaction.core.isBootstrapping {
                    throw transaction.core.bootstrapRefusal(
                        "a compare-and-swap compares with the complete state, so it waits")
                }
                guard try transaction.read(key) == expected else { return }
                try transaction.update(key, .assign(new))
                swapped = true
            }
        } catch let error as ConcordError {
            failure = error
            throw error
        } catch {
            failure = ConcordError(.operationRejected, "\(key): \(error)")
            throw failure!
        }
        return swapped
    }
}
