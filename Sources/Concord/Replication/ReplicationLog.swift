/// The in-memory index of a replica's replication log: which entries the store holds, in
/// order, and the floor below which the log is incomplete.
///
/// Entries are local transactions and applied remote intervals, kept until every member
/// has them (or, past `Configuration.logBound`, until they are forced out). A peer whose
/// acknowledged clock does not reach the floor can no longer be served from the log and
/// gets a full state transfer instead.
struct ReplicationLog: Equatable {
    /// One log entry as the index knows it.
    struct Entry: Equatable {
        /// Its key in the `log` database.
        var index: UInt64
        /// The clock a receiver has after applying it.
        var to: VectorClock
        /// When it was committed or received (for lag reports).
        var timeMicroseconds: UInt64
    }

    /// What a collection removes: the entries every member has, then — past the bound —
    /// the oldest others, and the floor that results.
    struct Collection: Equatable {
        var doomed: [UInt64]
        /// How many of `doomed` every member has (the rest were forced out).
        var stableCount: Int
        var floor: VectorClock
    }

    private(set) var entries: [Entry]
    private(set) var nextIndex: UInt64
    /// Below this clock the log is incomplete (collected or forced out).
    private(set) var floor: VectorClock

    init(entries: [Entry] = [], floor: VectorClock = VectorClock()) {
        assert(zip(entries, entries.dropFirst()).allSatisfy { $0.index < $1.index }, "log entries out of order")
        self.entries = entries
        self.floor = floor
        nextIndex = (entries.last?.index ?? 0) + 1
    }

    var count: Int { entries.count }

    /// The entry a new transaction or interval would get (nothing changes until `append`).
    func nextEntry(to clock: VectorClock, timeMicroseconds: UInt64) -> Entry {
        Entry(index: nextIndex, to: clock, timeMicroseconds: timeMicroseconds)
    }

    /// Records an entry that is now in the store.
    mutating func append(_ entry: Entry) {
        precondition(entry.index == nextIndex, "log entry \(entry.index) appended out of turn (next is \(nextIndex))")
        entries.append(entry)
        nextIndex += 1
    }

    /// Entries a peer that has `base` lacks, oldest first, at most `limit` of them.
    /// - Complexity: O(n) over the log.
    func entries(missingFrom base: VectorClock, limit: Int) -> [Entry] {
        Array(entries.lazy.filter { !base.dominates($0.to) }.prefix(limit))
    }

    /// The oldest entry a peer that acknowledged `clock` lacks.
    func oldestEntry(missingFrom clock: VectorClock) -> Entry? {
        entries.first { !clock.dominates($0.to) }
    }

    /// What to collect: every entry at or below `stable`, then the oldest others beyond
    /// `bound`. The floor rises over both, but never above `clock` (what this replica has).
    /// Nil when nothing would change.
    func collection(stable: VectorClock, bound: Int, clock: VectorClock) -> Collection? {
        var doomed = entries.filter { stable.dominates($0.to) }.map(\.index)
        let stableCount = doomed.count
        var floor = floor
        let excess = entries.count - stableCount - bound
        if excess > 0 {
            let stableIndexes = Set(doomed)
            for entry in entries where !stableIndexes.contains(entry.index) {
                guard doomed.count < stableCount + excess else { break }
                doomed.append(entry.index)
                floor.merge(entry.to)
            }
        }
        floor.merge(stable)
        floor = floor.meeting(clock)
        guard !doomed.isEmpty || floor != self.floor else { return nil }
        return Collection(doomed: doomed, stableCount: stableCount, floor: floor)
    }

    /// Takes a collection that is now in the store.
    mutating func remove(_ collection: Collection) {
        let doomed = Set(collection.doomed)
        entries.removeAll { doomed.contains($0.index) }
        floor = collection.floor
    }

    /// Raises the floor (a state transfer covers everything up to `clock`).
    mutating func raiseFloor(to clock: VectorClock) {
        floor.merge(clock)
    }
}
