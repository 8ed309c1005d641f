extension Cluster {
    /// The conflicts of every running replica (`Replica.conflicts()`), replica by replica
    /// in id order. Replicas that are down are left out.
    ///
    /// - Throws: `ConcordError.corrupted` naming a record or object that does not decode;
    ///   `.storage` on an LMDB failure.
    /// - Complexity: one read transaction per running replica.
    public func conflicts() throws(ConcordError) -> [ConflictRecord] {
        var records: [ConflictRecord] = []
        for replica in replicas.sorted(by: { $0.id < $1.id }) where replica.isRunning {
            do {
                records += try replica.conflicts()
            } catch  where error.code == .unavailable {
                continue  // went down since `isRunning` was read
            }
        }
        return records
    }
}
