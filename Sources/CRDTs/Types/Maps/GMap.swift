/// A grow-only map of nested CRDTs (AntidoteDB's `map_go`): fields are keyed by name and
/// type, and a field, once there, stays.
///
/// ```swift
/// var profile = GMap()
/// let delta = try profile.apply(.update("visits", GCounter.self, .increment(1)), context: context)
/// profile.value["visits", as: GCounter.self]   // 1
/// ```
///
/// A field can hold any registered CRDT type, including another `GMap` or an `RRMap`.
/// The delta of an update is a map holding only that field's nested delta; the join
/// joins the nested states field by field. Use `RRMap` when fields must be removable.
public struct GMap: CRDT, CustomStringConvertible {
    /// An operation on a `GMap`.
    public enum Operation: Sendable, CustomStringConvertible {
        /// Applies a nested operation to one field, creating the field when it is missing.
        case update(NestedUpdate<GMap>)

        /// Applies `operation` to the field `name` holding a `T`, e.g.
        /// `.update("visits", GCounter.self, .increment(1))`.
        public static func update<T: CRDT>(_ name: String, _ type: T.Type, _ operation: T.Operation) -> Operation {
            .update(NestedUpdate(name, type, operation))
        }

        /// The nested update, for logs.
        public var description: String {
            switch self {
            case .update(let update): update.description
            }
        }
    }

    /// A typed view of the fields.
    public typealias Value = MapValue

    /// `GMap`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.gMap) }

    /// The nested states; a field is never stored in its initial state.
    private(set) var fields: [FieldKey: any CRDT]

    /// The empty map.
    public init() { fields = [:] }

    /// Every field, sorted. - Complexity: O(n log n).
    public var keys: [FieldKey] { fields.keys.sorted() }

    /// The state of the field `name` holding a `T`, or `nil` when there is none.
    public func state<T: CRDT>(of name: String, as type: T.Type) -> T? {
        fields[FieldKey(name, type)] as? T
    }

    /// Every field. - Complexity: O(n log n).
    public var value: MapValue { MapValue(fields) }

    /// Applies a nested operation to its field and returns a map holding only that field's
    /// delta.
    ///
    /// - Throws: `CRDTError` `.invalidArgument` when the nested type is not registered with
    ///   `CRDTRegistry` (the map could not be decoded again), or what the nested operation
    ///   throws; the map is then unchanged.
    /// - Complexity: that of the nested operation, plus O(1).
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> GMap {
        switch operation {
        case .update(let update):
            let (state, delta) = try update.body.apply(to: fields[update.field], context: context)
            store(state, at: update.field)
            var result = GMap()
            result.store(delta, at: update.field)
            return result
        }
    }

    private mutating func store(_ state: any CRDT, at key: FieldKey) {
        fields[key] = ErasedState.isInitial(state) ? nil : state
    }

    /// Joins every field of `other` into the same field here.
    /// - Complexity: the sum of the nested joins over `other`'s fields.
    public mutating func join(_ other: GMap) {
        for (key, theirs) in other.fields {
            guard var mine = fields[key] else {
                fields[key] = theirs
                continue
            }
            do {
                try mine.join(erased: theirs)
            } catch {
                // Keys carry the type code and the registry maps a code to one type, so both
                // sides hold the same type.
                assertionFailure("GMap field \(key): \(error)")
                continue
            }
            fields[key] = mine
        }
    }

    /// Forwards `stable` to every field: the nested types own their metadata.
    ///
    /// Each field counts its own dots (a nested `RWSet`'s dot `(r, n)` is r's n-th operation
    /// on that set, not on the map), so `stable` must be stable for the dots of *every*
    /// field: every replica has seen each field dot it covers. A clock computed from the
    /// map's updates as a whole over-approximates a field's and is not safe; pass
    /// `VectorClock()` (compacts nothing) when no per-field stability is known.
    /// - Complexity: the sum of the nested compactions.
    public mutating func compact(stable: VectorClock) {
        for (key, state) in fields { fields[key] = ErasedState.compacted(state, stable: stable) }
    }

    /// Forwards to every field: each compacts with its own observed dots.
    public mutating func compactObserved() {
        for (key, state) in fields { fields[key] = ErasedState.compactedObserved(state) }
    }

    /// The same fields with equal nested states.
    public static func == (lhs: GMap, rhs: GMap) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        for (key, state) in lhs.fields {
            guard let other = rhs.fields[key], ErasedState.equal(state, other) else { return false }
        }
        return true
    }

    /// `GMap[…]`, for logs.
    public var description: String {
        "GMap[" + keys.map { "\($0): \(fields[$0]!)" }.joined(separator: ", ") + "]"
    }

    /// The field count, then each field sorted by (name, type code): name, type code,
    /// nested state. - Complexity: O(n log n) plus the nested encodings.
    public func encode(to writer: inout ByteWriter) {
        ErasedState.encode(fields, to: &writer) { fields[$0]! }
    }

    /// Decodes the canonical encoding.
    ///
    /// - Throws: `CodecError` for duplicate or out-of-order fields, an unregistered type
    ///   code (`.unknownTag`), a field in its initial state, nesting deeper than
    ///   `ByteReader.maximumDepth`, or whatever a nested decoder throws.
    public init(from reader: inout ByteReader) throws(CodecError) {
        fields = try ErasedState.decodeFields(
            from: &reader, mapName: "GMap", allowed: { _ in true }, convert: { $0 })
    }
}
