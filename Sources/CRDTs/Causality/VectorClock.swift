/// How two vector clocks relate.
public enum ClockOrder: Sendable, Hashable {
    /// Both clocks have seen exactly the same events.
    case equal
    /// The left clock has seen a strict subset of the right one's events.
    case before
    /// The left clock has seen a strict superset of the right one's events.
    case after
    /// Each clock has seen an event the other has not.
    case concurrent
}

/// A vector clock: for each replica, how many of its events have been seen.
///
/// Entries are kept sorted by replica with zero entries left out, so two clocks that
/// mean the same thing are equal, iterate in the same order, and encode to the same
/// bytes (the simulator's determinism relies on that).
public struct VectorClock: Hashable, Sendable, CustomStringConvertible {
    /// One replica's entry.
    public struct Entry: Hashable, Sendable {
        /// The replica.
        public var replica: ReplicaID
        /// How many of its events were seen (never 0 in a stored entry).
        public var counter: UInt64
    }

    /// The non-zero entries, sorted by replica.
    public private(set) var entries: [Entry]

    /// The empty clock (nothing seen).
    public init() {
        entries = []
    }

    /// Creates a clock from a dictionary; zero entries are dropped.
    public init(_ counters: [ReplicaID: UInt64]) {
        entries = counters.filter { $0.value != 0 }
            .map { Entry(replica: $0.key, counter: $0.value) }
            .sorted { $0.replica < $1.replica }
    }

    /// Whether no event has been seen.
    public var isEmpty: Bool { entries.isEmpty }

    /// The replicas with a non-zero entry, in order.
    public var replicas: [ReplicaID] { entries.map(\.replica) }

    /// Sum of all entries: the number of events seen. - Complexity: O(n).
    public var total: UInt64 { entries.reduce(0) { $0 &+ $1.counter } }

    private func index(of replica: ReplicaID) -> (found: Bool, index: Int) {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].replica < replica { low = mid + 1 } else { high = mid }
        }
        return (low < entries.count && entries[low].replica == replica, low)
    }

    /// The entry of `replica` (0 when absent); setting 0 removes the entry.
    /// - Complexity: O(log n) to read, O(n) to insert or remove.
    public subscript(replica: ReplicaID) -> UInt64 {
        get {
            let (found, i) = index(of: replica)
            return found ? entries[i].counter : 0
        }
        set {
            let (found, i) = index(of: replica)
            if found {
                if newValue == 0 { entries.remove(at: i) } else { entries[i].counter = newValue }
            } else if newValue != 0 {
                entries.insert(Entry(replica: replica, counter: newValue), at: i)
            }
        }
    }

    /// Makes this clock equal to `other` in this clock's own storage, which is not shared with
    /// `other` afterwards. Allocates nothing when that storage is not shared and has the room.
    ///
    /// For a clock handed between threads (with `copiedToOwnStorage()` on the other side): a
    /// plain assignment would share `other`'s buffer, and `other`'s next change would then copy it.
    /// - Complexity: O(n).
    public mutating func overwrite(with other: VectorClock) {
        entries.removeAll(keepingCapacity: true)
        entries.append(contentsOf: other.entries)
    }

    /// A clock equal to this one in storage of its own (one allocation), sharing no buffer with it;
    /// see `overwrite(with:)`.
    /// - Complexity: O(n).
    public func copiedToOwnStorage() -> VectorClock {
        var copy = VectorClock()
        copy.entries = entries.withUnsafeBufferPointer { Array($0) }
        return copy
    }

    /// Counts one more event at `replica` and returns its dot.
    @discardableResult
    public mutating func increment(_ replica: ReplicaID) -> Dot {
        let next = self[replica] + 1
        self[replica] = next
        return Dot(replica: replica, counter: next)
    }

    /// Whether the clock has seen `dot`.
    public func contains(_ dot: Dot) -> Bool {
        dot.counter <= self[dot.replica]
    }

    /// Whether this clock has seen every event `other` has seen (`self ≥ other`).
    /// - Complexity: O(n + m).
    public func dominates(_ other: VectorClock) -> Bool {
        var i = 0
        for entry in other.entries {
            while i < entries.count && entries[i].replica < entry.replica { i += 1 }
            guard i < entries.count, entries[i].replica == entry.replica, entries[i].counter >= entry.counter else {
                return false
            }
        }
        return true
    }

    /// Compares two clocks. - Complexity: O(n + m).
    public func compare(to other: VectorClock) -> ClockOrder {
        switch (dominates(other), other.dominates(self)) {
        case (true, true): return .equal
        case (true, false): return .after
        case (false, true): return .before
        case (false, false): return .concurrent
        }
    }

    /// Takes the pointwise maximum with `other` (the join). - Complexity: O(n + m).
    public mutating func merge(_ other: VectorClock) {
        if other.entries.isEmpty { return }
        if entries.isEmpty {
            entries = other.entries
            return
        }
        var result: [Entry] = []
        result.reserveCapacity(Swift.max(entries.count, other.entries.count))
        var i = 0
        var j = 0
        while i < entries.count || j < other.entries.count {
            if j == other.entries.count || (i < entries.count && entries[i].replica < other.entries[j].replica) {
                result.append(entries[i])
                i += 1
            } else if i == entries.count || other.entries[j].replica < entries[i].replica {
                result.append(other.entries[j])
                j += 1
            } else {
                result.append(
                    Entry(replica: entries[i].replica, counter: Swift.max(entries[i].counter, other.entries[j].counter))
                )
                i += 1
                j += 1
            }
        }
        entries = result
    }

    /// The pointwise maximum of two clocks.
    public func merging(_ other: VectorClock) -> VectorClock {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// The pointwise minimum of two clocks: what both have seen. A replica missing from
    /// either clock is 0 in the result.
    public func meeting(_ other: VectorClock) -> VectorClock {
        var result = VectorClock()
        // Sized once: growing by appends reallocated it at every power of two (the stable
        // clock, computed on every tick, showed it in the profile).
        result.entries.reserveCapacity(Swift.min(entries.count, other.entries.count))
        var j = 0
        for entry in entries {
            while j < other.entries.count && other.entries[j].replica < entry.replica { j += 1 }
            if j < other.entries.count, other.entries[j].replica == entry.replica {
                result.entries.append(
                    Entry(replica: entry.replica, counter: Swift.min(entry.counter, other.entries[j].counter)))
            }
        }
        return result
    }

    /// The pointwise minimum of many clocks (empty input gives the empty clock).
    public static func pointwiseMinimum(_ clocks: some Sequence<VectorClock>) -> VectorClock {
        var iterator = clocks.makeIterator()
        guard var result = iterator.next() else { return VectorClock() }
        while let next = iterator.next() { result = result.meeting(next) }
        return result
    }

    /// `[r1: 3, r2: 5]`.
    public var description: String {
        "[" + entries.map { "\($0.replica): \($0.counter)" }.joined(separator: ", ") + "]"
    }
}

extension VectorClock: ExpressibleByDictionaryLiteral {
    /// Creates a clock from a literal such as `[1: 3, 2: 5]`.
    public init(dictionaryLiteral elements: (ReplicaID, UInt64)...) {
        self.init(Dictionary(elements, uniquingKeysWith: Swift.max))
    }
}

extension VectorClock: BinaryCodable {
    /// Encodes as a count followed by (replica, counter) pairs in replica order.
    public func encode(to writer: inout ByteWriter) {
        writer.writeCount(entries.count)
        for entry in entries {
            writer.writeVarUInt(entry.replica.rawValue)
            writer.writeVarUInt(entry.counter)
        }
    }

    /// Decodes a clock; entries must be strictly increasing by replica and non-zero.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumElementSize: 2)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let replica = ReplicaID(try reader.readVarUInt())
            let counter = try reader.readVarUInt()
            if counter == 0 { throw reader.error(.inconsistent, "vector clock entry of \(replica) is zero") }
            if let last = entries.last, last.replica >= replica {
                throw reader.error(.inconsistent, "vector clock entries out of order at \(replica)")
            }
            entries.append(Entry(replica: replica, counter: counter))
        }
        self.entries = entries
    }
}
