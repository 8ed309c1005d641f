import CRDTs

/// The writes of one step of a replica, committed together in one LMDB write transaction.
///
/// The replica core never writes: it describes what to write as a batch, the driver commits
/// it, and only then does the core take the matching memory change (`ReplicaCore.Step`).
/// So memory never runs ahead of what is durable, whatever the commit does.
struct StorageBatch {
    /// The named databases of a replica's store (see `Storage`).
    enum Table: UInt8 {
        case objects, log, meta
    }

    enum Write {
        case put(Table, key: [UInt8], value: [UInt8])
        /// A log entry under its index: the key is made where it is written (a key array
        /// per commit showed as one of a write's mallocs).
        case putLogEntry(index: UInt64, value: [UInt8])
        case delete(Table, key: [UInt8])
        /// A conflict record (`Storage+Conflicts`), keyed at commit by the next sequence
        /// number of the `conflicts` database.
        case appendConflict(value: [UInt8])
    }

    private(set) var writes: [Write] = []
    /// The kinds of the conflicts the batch's step found, in order (for metrics and the
    /// count of conflicts detected; a commit without any pays nothing). More than its
    /// `appendConflict` writes when the step found more than the store keeps.
    private(set) var conflictKinds: [ConflictKind] = []
    /// How many conflicts the batch's step found.
    var conflictCount: Int { conflictKinds.count }

    init() {}

    /// A batch with room for `capacity` writes (one allocation on the write path),
    /// starting with the writes of `other`.
    init(capacity: Int, appending other: StorageBatch = StorageBatch()) {
        writes.reserveCapacity(capacity)
        writes.append(contentsOf: other.writes)
        conflictKinds = other.conflictKinds
    }

    var isEmpty: Bool { writes.isEmpty }

    mutating func put(_ value: [UInt8], forKey key: [UInt8], in table: Table) {
        writes.append(.put(table, key: key, value: value))
    }

    /// Puts log entry `index` (under `Storage.logKey(index)`).
    mutating func putLogEntry(_ value: [UInt8], index: UInt64) {
        writes.append(.putLogEntry(index: index, value: value))
    }

    mutating func delete(_ key: [UInt8], in table: Table) {
        writes.append(.delete(table, key: key))
    }

    mutating func append(contentsOf other: StorageBatch) {
        writes.append(contentsOf: other.writes)
        conflictKinds += other.conflictKinds
    }

    mutating func appendConflict(_ value: [UInt8], kind: ConflictKind) {
        writes.append(.appendConflict(value: value))
        conflictKinds.append(kind)
    }

    /// Counts a conflict found without recording it (older than the records the store keeps).
    mutating func countConflict(kind: ConflictKind) {
        conflictKinds.append(kind)
    }
}
