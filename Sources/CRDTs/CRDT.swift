/// A state-based CRDT with delta mutators: the protocol every Concord data type conforms to.
///
/// A conforming type is a pure value. `apply(_:context:)` performs an operation at a replica
/// and returns the *delta* it produced: a small state such that joining it into the state
/// before the operation gives the state after it. `join` is commutative, associative and
/// idempotent, for whole states and deltas alike, so replicas that have joined the same
/// deltas in any order, any number of times, hold equal states.
public protocol CRDT: Sendable, Equatable, BinaryCodable {
    /// The operations of the type, as values (so they can be logged, generated and replayed).
    associatedtype Operation: Sendable
    /// What a read returns.
    associatedtype Value

    /// The code that names this type (and its value type) in storage and on the wire.
    static var typeCode: CRDTTypeCode { get }

    /// Whether an operation must see every operation its replica will ever be missing.
    ///
    /// A replica that lost its state (wiped, new, or back from a power loss) writes at once
    /// to the types where this is false: its operations then simply count as concurrent with
    /// whatever it has not received yet, which is how these types already treat operations of
    /// a partitioned replica. It must be true — and is by default, so a type added later is
    /// safe until someone has thought about it — when an operation needs something that only
    /// the whole state holds (a `BoundedCounter`'s rights), or when `compact(stable:)` or
    /// `compactObserved()` changes how later concurrent operations merge (an `RWSet`, and
    /// maps, whose fields may be either): compaction assumes that nothing concurrent with
    /// what was compacted can still arrive, which holds of a replica only once it caught up.
    static var operationsNeedCompleteState: Bool { get }

    /// The initial state (bottom): what a key holds before any update.
    init()

    /// The value a read returns. - Complexity: at most linear in the state's size.
    var value: Value { get }

    /// Performs `operation` at `context.replica` and returns the delta it produced.
    ///
    /// - Throws: `CRDTError` when the operation is not allowed (a `BoundedCounter`
    ///   decrement beyond the local rights, an overflow); the state is then unchanged.
    mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> Self

    /// Joins another state or delta into this one (the least upper bound).
    mutating func join(_ other: Self)

    /// Drops metadata that only distinguished histories now known to every replica.
    ///
    /// `stable` is a clock in *this object's* dots that every replica's copy is known to
    /// have seen, such that this state holds every operation it covers and every operation
    /// not covered happens after all that are. Only a caller that knows this (the engine,
    /// from its peers' acknowledgements) may call it: a peer's frontier inside a join is not
    /// enough, since a delayed state can look complete and still predate a reset. The value
    /// never changes. The default does nothing.
    mutating func compact(stable: VectorClock)

    /// Compacts as if everything this state has observed were stable: the engine calls it
    /// only at a point where every member holds exactly this replica's transactions, so
    /// every operation concurrent with anything observed here has reached every replica.
    /// The value never changes. The default does nothing.
    mutating func compactObserved()

    /// Whether `compactObserved()` can change a state of this type. A compaction skips the
    /// objects of a type that says false without reading them. True unless the type says
    /// otherwise, so a type added later is visited until someone has thought about it.
    static var compactsObservedMetadata: Bool { get }

    /// The conflicts that joining `other` into this state shows: for a `ConflictDetecting`
    /// type, its `conflicts(joining:knowledge:)` when `other` is of the same type; none for
    /// any other type. Every type has it from the protocols' extensions (a requirement, so
    /// that a caller holding `any CRDT` needs no cast to `any ConflictDetecting`, which
    /// showed in the profile of every state transfer); do not implement it.
    func conflicts(joiningErased other: any CRDT, knowledge: JoinKnowledge) -> [DetectedConflict]

    /// Joins two states given as their encodings (`encode(to:)`, both known to decode)
    /// without decoding them, when the type can tell the join that way: which of the two it
    /// equals, and the kind of the conflict `conflicts(joiningErased:knowledge:)` would report
    /// (nil: none). Returns nil when it cannot tell; the caller then decodes and joins. The
    /// default always returns nil.
    ///
    /// A replica applying a state transfer joins most objects this way when their type
    /// allows it (an `LWWRegister`: the later timestamp wins), without materialising them.
    static func joinEncoded(
        _ local: ArraySlice<UInt8>, _ incoming: ArraySlice<UInt8>, knowledge: JoinKnowledge
    ) -> EncodedJoin?
}

/// What `CRDT.joinEncoded(_:_:knowledge:)` found.
public struct EncodedJoin: Sendable, Equatable {
    /// Whether the join equals the incoming state (false: it equals the local one).
    public var takesIncoming: Bool
    /// The kind of the conflict the join shows, if any.
    public var conflict: ConflictKind?

    /// Creates an outcome.
    public init(takesIncoming: Bool, conflict: ConflictKind?) {
        self.takesIncoming = takesIncoming
        self.conflict = conflict
    }
}

extension CRDT {
    /// True: a type is assumed to need the whole state until it says otherwise.
    public static var operationsNeedCompleteState: Bool { true }

    /// Does nothing: most types keep no metadata that stability could remove.
    public mutating func compact(stable: VectorClock) {}

    /// Does nothing: most types keep no metadata that stability could remove.
    public mutating func compactObserved() {}

    /// True: a type is assumed to compact until it says otherwise.
    public static var compactsObservedMetadata: Bool { true }

    /// Nil: the type is decoded and joined.
    public static func joinEncoded(
        _ local: ArraySlice<UInt8>, _ incoming: ArraySlice<UInt8>, knowledge: JoinKnowledge
    ) -> EncodedJoin? { nil }

    /// None: a type that does not detect conflicts shows none.
    public func conflicts(joiningErased other: any CRDT, knowledge: JoinKnowledge) -> [DetectedConflict] { [] }

    /// The join of two states.
    public func joined(_ other: Self) -> Self {
        var copy = self
        copy.join(other)
        return copy
    }

    /// The format version written in front of every serialized state.
    public static var formatVersion: UInt8 { 1 }

    /// The versioned, self-describing encoding: format version, type code, then the state.
    public func serialized() -> [UInt8] {
        // 256 bytes: most states fit without the array growing (a 100-byte register is
        // 112 bytes, which outgrew the default 64 and cost a second malloc and a copy).
        var writer = ByteWriter(capacity: 256)
        writer.writeByte(Self.formatVersion)
        Self.typeCode.encode(to: &writer)
        encode(to: &writer)
        return writer.bytes
    }

    /// `serialized()` of a state whose `encode(to:)` wrote `encoding`, without encoding it
    /// again: the format version and the type code, then a copy of `encoding`.
    /// - Complexity: O(n), one allocation.
    public static func serialized(fromEncoding encoding: ArraySlice<UInt8>) -> [UInt8] {
        var writer = ByteWriter(capacity: encoding.count + 8)
        writer.writeByte(formatVersion)
        typeCode.encode(to: &writer)
        writer.writeRaw(encoding)
        return writer.bytes
    }

    /// Decodes a `serialized()` state, checking the version, the type code and that no
    /// bytes are left over.
    public init(serialized bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        try self.init(serializedFrom: &reader)
    }

    /// Decodes a `serialized()` state from memory in place (an LMDB record, without copying
    /// it first), with the checks of `init(serialized:)`.
    public init(serialized buffer: UnsafeRawBufferPointer) throws(CodecError) {
        self = try ByteReader.withUnsafeReader(over: buffer) { (reader) throws(CodecError) in
            try Self(serializedFrom: &reader)
        }
    }

    /// Decodes a `serialized()` state that spans the rest of `reader`.
    private init(serializedFrom reader: inout ByteReader) throws(CodecError) {
        let version = try reader.readByte()
        guard version == Self.formatVersion else {
            throw CodecError(
                .unsupportedVersion, offset: 0, "format version \(version); this build reads \(Self.formatVersion)")
        }
        let code = try CRDTTypeCode(from: &reader)
        guard code == Self.typeCode else {
            throw CodecError(.typeMismatch, offset: 1, "stored type is \(code), expected \(Self.typeCode)")
        }
        self = try Self(from: &reader)
        try reader.finish()
    }
}

/// A CRDT that a map can hold as a field: it can be reset by an *observed remove*.
///
/// `resetDelta` returns a delta that removes exactly what this state has seen; updates
/// concurrent with the reset survive it. A map removes a field by resetting it.
public protocol ResettableCRDT: CRDT {
    /// The delta that resets everything this state has observed (an observed remove).
    func resetDelta(context: UpdateContext) -> Self

    /// Whether the state holds nothing a reset has not removed: a map does not show such
    /// a field.
    var isNeutral: Bool { get }
}

/// An operation that a CRDT refused; the state is unchanged.
public struct CRDTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable {
        /// The raw code.
        public let rawValue: UInt8
        /// Creates a code from its raw value.
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// A `BoundedCounter` decrement or transfer beyond the replica's rights.
        public static let insufficientRights = Code(rawValue: 1)
        /// A result that does not fit the value type.
        public static let overflow = Code(rawValue: 2)
        /// An argument out of range (a negative amount, a transfer to oneself).
        public static let invalidArgument = Code(rawValue: 3)
        /// A map field holds another type than the operation expects.
        public static let typeMismatch = Code(rawValue: 4)
    }

    /// What went wrong.
    public var code: Code
    /// A sentence that says what went wrong and what to do.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
