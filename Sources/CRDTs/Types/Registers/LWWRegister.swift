/// A hybrid-logical-clock timestamp: physical time, a logical counter, and the replica.
///
/// Timestamps are totally ordered by (physical, logical, replica). A replica never issues
/// the same timestamp twice, so two different assignments never tie; the replica id breaks
/// ties between replicas (the higher id is the later one).
public struct HybridTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible, BinaryCodable {
    /// Wall-clock microseconds (or the highest such time this replica has seen).
    public var physicalMicroseconds: UInt64
    /// Counts events within one physical microsecond, so the timestamp still advances when
    /// the wall clock stands still or steps back.
    public var logical: UInt64
    /// The replica that issued the timestamp.
    public var replica: ReplicaID

    /// Creates a timestamp.
    public init(physicalMicroseconds: UInt64, logical: UInt64, replica: ReplicaID) {
        self.physicalMicroseconds = physicalMicroseconds
        self.logical = logical
        self.replica = replica
    }

    /// Orders by physical time, then logical counter, then replica id.
    public static func < (lhs: HybridTimestamp, rhs: HybridTimestamp) -> Bool {
        (lhs.physicalMicroseconds, lhs.logical, lhs.replica) < (rhs.physicalMicroseconds, rhs.logical, rhs.replica)
    }

    /// The timestamp for an event at `replica` at wall-clock `timeMicroseconds` after having
    /// seen `latest`: greater than `latest` even if the wall clock is behind it.
    ///
    /// Physical part: `max(timeMicroseconds, latest.physical)`; logical part: `latest.logical
    /// + 1` when the physical part did not advance, else 0.
    /// - Returns: nil only when the clock is exhausted (physical and logical both at
    ///   `UInt64.max`), which no real clock reaches.
    public static func next(
        after latest: HybridTimestamp?, replica: ReplicaID, timeMicroseconds: UInt64
    ) -> HybridTimestamp? {
        guard let latest, latest.physicalMicroseconds >= timeMicroseconds else {
            return HybridTimestamp(physicalMicroseconds: timeMicroseconds, logical: 0, replica: replica)
        }
        if case (let logical, false) = latest.logical.addingReportingOverflow(1) {
            return HybridTimestamp(
                physicalMicroseconds: latest.physicalMicroseconds, logical: logical, replica: replica)
        }
        if case (let physical, false) = latest.physicalMicroseconds.addingReportingOverflow(1) {
            return HybridTimestamp(physicalMicroseconds: physical, logical: 0, replica: replica)
        }
        return nil
    }

    /// `<physical>.<logical>@r<replica>`.
    public var description: String { "\(physicalMicroseconds).\(logical)@\(replica)" }

    /// Three unsigned LEB128 integers: physical, logical, replica.
    public func encode(to writer: inout ByteWriter) {
        writer.writeVarUInt(physicalMicroseconds)
        writer.writeVarUInt(logical)
        writer.writeVarUInt(replica.rawValue)
    }

    /// Decodes three unsigned LEB128 integers. - Throws: `CodecError` when truncated or overlong.
    public init(from reader: inout ByteReader) throws(CodecError) {
        physicalMicroseconds = try reader.readVarUInt()
        logical = try reader.readVarUInt()
        replica = ReplicaID(try reader.readVarUInt())
    }
}

/// A last-writer-wins register (AntidoteDB's register_lww) ordered by a hybrid logical clock.
///
/// An assignment takes the timestamp `HybridTimestamp.next(after:)` of the latest timestamp
/// this state has seen, so an assignment always wins over every assignment its replica had
/// observed, also when the wall clock steps back. Concurrent assignments are ordered by
/// (physical time, logical counter, replica id): on equal times the higher replica id wins.
///
/// A reset (a map removing the field) records the timestamp it observed as "cleared at":
/// the register reads `nil` until an assignment with a later timestamp, so an assignment
/// concurrent with the reset survives it when its timestamp is later. An entry at or below
/// the cleared timestamp is dropped, so equal values have equal states.
public struct LWWRegister<V: CRDTValue>: ResettableCRDT, CustomStringConvertible {
    /// The operations of a last-writer-wins register.
    public enum Operation: Sendable, Hashable {
        /// Replaces the value.
        case assign(V)
    }

    /// An assignment: its timestamp and value. (A struct, not a tuple: unspecialized code,
    /// which a replica runs behind `any CRDT`, looked tuple metadata up on every call.)
    struct Entry: Sendable {
        var timestamp: HybridTimestamp
        var value: V
    }

    /// The winning assignment, if it is later than `cleared`.
    var entry: Entry?
    /// The latest timestamp a reset observed.
    var cleared: HybridTimestamp?

    /// `LWWRegister<V.valueTag>`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.lwwRegister, valueTag: V.valueTag) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The empty register: reads `nil`.
    public init() {
        entry = nil
        cleared = nil
    }

    init(entry: Entry?, cleared: HybridTimestamp?) {
        self.entry = entry
        self.cleared = cleared
        normalize()
    }

    /// Drops an entry that a reset has covered.
    private mutating func normalize() {
        if let entry, let cleared, entry.timestamp <= cleared { self.entry = nil }
    }

    /// The value of the latest assignment, or nil when none was made or a reset observed it.
    /// - Complexity: O(1).
    public var value: V? { entry?.value }

    /// The timestamp of the current value, if any.
    public var timestamp: HybridTimestamp? { entry?.timestamp }

    /// The latest timestamp this state has seen: the entry's or the reset's.
    private var latestTimestamp: HybridTimestamp? {
        switch (entry?.timestamp, cleared) {
        case (let entry?, let cleared?): Swift.max(entry, cleared)
        case (let entry, let cleared): entry ?? cleared
        }
    }

    /// Assigns a value at `context.replica`, timestamped after everything this state has seen;
    /// returns the delta (the new entry).
    ///
    /// - Throws: `CRDTError.overflow` only when the hybrid clock is exhausted (a timestamp at
    ///   `UInt64.max` in both parts); the state is then unchanged.
    /// - Complexity: O(1) plus copying the value.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> LWWRegister {
        switch operation {
        case .assign(let value):
            guard
                let timestamp = HybridTimestamp.next(
                    after: latestTimestamp, replica: context.replica, timeMicroseconds: context.timeMicroseconds)
            else {
                throw CRDTError(.overflow, "the hybrid logical clock is exhausted; nothing was changed")
            }
            entry = Entry(timestamp: timestamp, value: value)
            return LWWRegister(entry: entry, cleared: nil)
        }
    }

    /// Keeps the later entry and the later cleared timestamp, then drops an entry the cleared
    /// timestamp covers. Equal timestamps with different values (which no replica produces)
    /// are ordered by the values' encoded bytes, so the join stays commutative.
    /// - Complexity: O(1) (O(size of the values) when timestamps tie).
    @_specialize(where V == Int64)
    @_specialize(where V == UInt64)
    @_specialize(where V == String)
    @_specialize(where V == [UInt8])
    @_specialize(where V == Bool)
    public mutating func join(_ other: LWWRegister) {
        if let theirs = other.entry {
            if let ours = entry {
                if theirs.timestamp > ours.timestamp
                    || (theirs.timestamp == ours.timestamp
                        && ours.value.encodedBytes().lexicographicallyPrecedes(theirs.value.encodedBytes()))
                {
                    entry = theirs
                }
            } else {
                entry = theirs
            }
        }
        if let theirs = other.cleared, cleared.map({ $0 < theirs }) ?? true {
            cleared = theirs
        }
        normalize()
    }

    /// Joins two encoded registers that each hold an entry and no cleared timestamp by
    /// their timestamps alone (the entry comes first in the encoding): the later one wins,
    /// and the conflict is `conflicts(joining:knowledge:)`'s rule on the two timestamps.
    /// Nil for any other pair (a reset, an empty register, equal timestamps), which the
    /// caller decodes and joins.
    /// - Complexity: O(1).
    public static func joinEncoded(
        _ local: ArraySlice<UInt8>, _ incoming: ArraySlice<UInt8>, knowledge: JoinKnowledge
    ) -> EncodedJoin? {
        guard let ours = entryTimestamp(local), let theirs = entryTimestamp(incoming), ours != theirs else {
            return nil
        }
        let lost = assignmentIsLost(ours: ours, theirs: theirs, knowledge: knowledge)
        return EncodedJoin(takesIncoming: theirs > ours, conflict: lost ? .lwwAssignmentLost : nil)
    }

    /// The entry's timestamp of an encoded register that has an entry and no cleared
    /// timestamp (flags byte 1), or nil.
    private static func entryTimestamp(_ encoded: ArraySlice<UInt8>) -> HybridTimestamp? {
        guard encoded.first == 1 else { return nil }
        var index = encoded.startIndex + 1
        // HybridTimestamp's three LEB128 integers, read in place (as `ByteReader` reads them).
        func varUInt() -> UInt64? {
            var result: UInt64 = 0
            for shift in stride(from: UInt64(0), through: 63, by: 7) {
                guard index < encoded.endIndex else { return nil }
                let byte = encoded[index]
                index += 1
                if shift == 63 && byte > 1 { return nil }
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
            }
            return nil
        }
        guard let physical = varUInt(), let logical = varUInt(), let replica = varUInt() else { return nil }
        return HybridTimestamp(physicalMicroseconds: physical, logical: logical, replica: ReplicaID(replica))
    }

    /// The delta that clears the value this state shows: its timestamp as "cleared at". An
    /// assignment the state has not seen with a later timestamp survives it.
    /// - Complexity: O(1).
    public func resetDelta(context: UpdateContext) -> LWWRegister {
        guard let entry else { return LWWRegister() }
        return LWWRegister(entry: nil, cleared: entry.timestamp)
    }

    /// Whether the register reads `nil`. - Complexity: O(1).
    public var isNeutral: Bool { entry == nil }

    /// Two registers are equal when their entries (timestamp and value) and cleared
    /// timestamps are.
    public static func == (lhs: LWWRegister, rhs: LWWRegister) -> Bool {
        lhs.entry?.timestamp == rhs.entry?.timestamp && lhs.entry?.value == rhs.entry?.value
            && lhs.cleared == rhs.cleared
    }

    /// A flags byte (bit 0: an entry follows, bit 1: a cleared timestamp follows), then the
    /// entry's timestamp and value, then the cleared timestamp. - Complexity: O(size of the value).
    @_specialize(where V == Int64)
    @_specialize(where V == UInt64)
    @_specialize(where V == String)
    @_specialize(where V == [UInt8])
    @_specialize(where V == Bool)
    public func encode(to writer: inout ByteWriter) {
        writer.writeByte((entry == nil ? 0 : 1) | (cleared == nil ? 0 : 2))
        if let entry {
            entry.timestamp.encode(to: &writer)
            entry.value.encode(to: &writer)
        }
        cleared?.encode(to: &writer)
    }

    /// Decodes a canonical encoding.
    /// - Throws: `CodecError` on truncated input, unknown flag bits (`.unknownTag`), an invalid
    ///   value, or an entry at or below the cleared timestamp (`.inconsistent`: the encoder
    ///   drops such an entry). - Complexity: O(size of the value).
    @_specialize(where V == Int64)
    @_specialize(where V == UInt64)
    @_specialize(where V == String)
    @_specialize(where V == [UInt8])
    @_specialize(where V == Bool)
    public init(from reader: inout ByteReader) throws(CodecError) {
        let flags = try reader.readByte()
        guard flags & ~3 == 0 else { throw reader.error(.unknownTag, "register flags \(flags) have unknown bits") }
        var entry: Entry?
        if flags & 1 != 0 {
            let timestamp = try HybridTimestamp(from: &reader)
            let value = try reader.nested { (nestedReader: inout ByteReader) throws(CodecError) -> V in
                try V(from: &nestedReader)
            }
            entry = Entry(timestamp: timestamp, value: value)
        }
        let cleared: HybridTimestamp? = flags & 2 != 0 ? try HybridTimestamp(from: &reader) : nil
        if let entry, let cleared, entry.timestamp <= cleared {
            throw reader.error(
                .inconsistent, "register entry at \(entry.timestamp) is not after its reset at \(cleared)")
        }
        self.entry = entry
        self.cleared = cleared
    }

    /// `LWWRegister(value @ timestamp, cleared at …)`.
    public var description: String {
        let shown = entry.map { "\($0.value) @ \($0.timestamp)" } ?? "nil"
        return cleared.map { "LWWRegister(\(shown), cleared at \($0))" } ?? "LWWRegister(\(shown))"
    }
}
