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
    /// `reaches[i]` joins the `to` clocks of entries `0...i` (and of entries collected from
    /// before them): it only grows along the log and dominates the clock of every entry up to
    /// `i`, so a peer that has `reaches[i]` has every entry up to `i`, and a binary search
    /// finds where the entries a peer may lack begin.
    private var reaches: [VectorClock]
    private(set) var nextIndex: UInt64
    /// Below this clock the log is incomplete (collected or forced out).
    private(set) var floor: VectorClock

    init(entries: [Entry] = [], floor: VectorClock = VectorClock()) {
        assert(zip(entries, entries.dropFirst()).allSatisfy { $0.index < $1.index }, "log entries out of order")
        self.entries = entries
        reaches = Self.reaches(of: entries)
        self.floor = floor
        nextIndex = (entries.last?.index ?? 0) + 1
    }

    private static func reaches(of entries: [Entry]) -> [VectorClock] {
        var reach = VectorClock()
        return entries.map { entry in
            reach.merge(entry.to)
            return reach
        }
    }

    /// A position before which `base` dominates every entry's `to` (`count` when it
    /// dominates them all): the first whose reach it does not dominate. The entry there is
    /// the first one it lacks, unless collected entries' clocks raised that reach.
    /// - Complexity: O(log n) clock comparisons.
    private func firstPosition(missingFrom base: VectorClock) -> Int {
        var (low, high) = (0, reaches.count)
        while low < high {
            let middle = low + (high - low) / 2
            if base.dominates(reaches[middle]) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    var count: Int { entries.count }

    /// Logs are equal when they hold the same entries above the same floor (the reaches are a
    /// search aid, and may bound more than the entries left).
    static func == (lhs: ReplicationLog, rhs: ReplicationLog) -> Bool {
        lhs.entries == rhs.entries && lhs.nextIndex == rhs.nextIndex && lhs.floor == rhs.floor
    }

    /// The entry a new transaction or interval would get (nothing changes until `append`).
    func nextEntry(to clock: VectorClock, timeMicroseconds: UInt64) -> Entry {
        Entry(index: nextIndex, to: clock, timeMicroseconds: timeMicroseconds)
    }

    /// Records an entry that is now in the store.
    mutating func append(_ entry: Entry) {
        precondition(entry.index == nextIndex, "log entry \(entry.index) appended out of turn (next is \(nextIndex))")
        reaches.append((reaches.last ?? VectorClock()).merging(entry.to))
        entries.append(entry)
        nextIndex += 1
    }

    /// Entries a peer that has `base` lacks, oldest first, at most `limit` of them.
    /// - Complexity: O(log n) to the first one it lacks, then O(entries looked at).
    func entries(missingFrom base: VectorClock, limit: Int) -> [Entry] {
        Array(entries[firstPosition(missingFrom: base)...].lazy.filter { !base.dominates($0.to) }.prefix(limit))
    }

    /// The oldest entry a peer that acknowledged `clock` lacks.
    /// - Complexity: O(log n), then O(entries looked at).
    func oldestEntry(missingFrom clock: VectorClock) -> Entry? {
        entries[firstPosition(missingFrom: clock)...].first { !clock.dominates($0.to) }
    }

    /// What to collect: every entry at or below `stable`, then the oldest others beyond
    /// `bound`. The floor rises over both, but never above `clock` (what this replica has).
    /// Nil when nothing would change.
    func collection(stable: VectorClock, bound: Int, clock: VectorClock) -> Collection? {
        // Every entry before `known` is stable (found by binary search); after it, remote
        // entries carry their senders' clocks, so some may be stable too.
        let known = firstPosition(missingFrom: stable)
        var doomed = entries[..<known].map(\.index)
        doomed += entries[known...].lazy.filter { stable.dominates($0.to) }.map(\.index)
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
        // A collection that takes a prefix leaves the reaches of the rest valid bounds;
        // one that leaves gaps has them recomputed.
        let count = collection.doomed.count
        if count <= entries.count, zip(collection.doomed, entries.prefix(count)).allSatisfy({ $0 == $1.index }) {
            entries.removeFirst(count)
            reaches.removeFirst(count)
        } else {
            let doomed = Set(collection.doomed)
            entries.removeAll { doomed.contains($0.index) }
            reaches = Self.reaches(of: entries)
        }
        floor = collection.floor
    }

    /// Raises the floor (a state transfer covers everything up to `clock`).
    mutating func raiseFloor(to clock: VectorClock) {
        floor.merge(clock)
    }
}
