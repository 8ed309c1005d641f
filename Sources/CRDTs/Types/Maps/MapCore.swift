/// A map of nested CRDTs built on `MapCore`: `GMap` and `RRMap`.
///
/// The map names the existential its fields are stored as, so that a map whose remove is
/// a reset (`RRMap`) keeps its fields as `any ResettableCRDT` and can call `resetDelta` on
/// them without a cast, while a grow-only map (`GMap`) holds `any CRDT`.
protocol NestedMap: CRDT {
    /// How the map stores a field's state: `any CRDT` or `any ResettableCRDT`.
    associatedtype Field: Sendable

    /// `state` as a field of this map, or `nil` when the map cannot hold its type.
    static func field(_ state: any CRDT) -> Field?

    /// The field's state, as any CRDT.
    static func state(of field: Field) -> any CRDT

    /// Whether the map can hold states of `type`; the decoder checks it before it decodes
    /// a field's state.
    static func canHold(_ type: any CRDT.Type) -> Bool

    /// `change` applied to the field's state with its type opened, so that the result is
    /// stored as a `Field` again. Every map writes it as `change.applied(to: field)`; the
    /// requirement exists because only the map knows which existential `Field` is.
    static func changed(_ field: Field, by change: some NestedStateChange) -> Field
}

/// A change to a nested state that keeps its type: a join, a compaction.
protocol NestedStateChange {
    /// The changed state.
    func applied<T: CRDT>(to state: T) -> T
}

/// What `GMap` and `RRMap` share: the table of fields keyed by (name, type code), the
/// nested update, the field-by-field join, compaction, equality, the value view and the
/// canonical encoding. The maps add what differs: which types they hold, and `RRMap`'s
/// remove and reset.
///
/// Invariants:
/// - A field never holds its type's initial state, so that equal maps have equal
///   encodings.
/// - A field's state is of the Swift type that `CRDTRegistry` holds for its key's type
///   code, in every map. So the same key in two maps always holds the same type, and the
///   field-by-field join cannot fail, which is why `CRDT.join` need not throw. New field
///   states come from two places only, and both keep it: `apply` refuses a type the
///   registry does not hold for its code (`TypedNestedOperation`), and the decoder
///   instantiates the registered type; joins, resets and compactions keep a state's type.
///   The registry never rebinds a code. A user type that claims another type's code is
///   thus refused with a typed error before it reaches any map (`MapFieldTypeTests`).
struct MapCore<Map: NestedMap>: Sendable {
    /// The nested states.
    private(set) var fields: [FieldKey: Map.Field] = [:]

    /// The empty map.
    init() {}

    /// Every field, sorted. - Complexity: O(n log n).
    var keys: [FieldKey] { fields.keys.sorted() }

    /// The state of the field `name` holding a `T`, or `nil` when there is none.
    func state<T: CRDT>(of name: String, as type: T.Type) -> T? {
        fields[FieldKey(name, type)].map(Map.state(of:)) as? T
    }

    /// Stores `field` at `key`, or removes the field when `field` is its type's initial state.
    mutating func store(_ field: Map.Field, at key: FieldKey) {
        fields[key] = Self.isInitial(Map.state(of: field)) ? nil : field
    }

    /// Applies a nested operation to its field and returns a core holding only that field's
    /// delta.
    ///
    /// - Throws: `CRDTError` `.invalidArgument` when the nested type is not registered with
    ///   `CRDTRegistry`, `.typeMismatch` when the map cannot hold it, or what the nested
    ///   operation throws; the core is then unchanged.
    mutating func apply(_ update: NestedUpdate<Map>, context: UpdateContext) throws(CRDTError) -> MapCore {
        let (state, delta) = try update.body.apply(to: fields[update.field].map(Map.state(of:)), context: context)
        guard let state = Map.field(state), let delta = Map.field(delta) else {
            throw CRDTError(.typeMismatch, "\(Map.self) cannot hold field \(update.field)")
        }
        store(state, at: update.field)
        var result = MapCore()
        result.store(delta, at: update.field)
        return result
    }

    /// Joins every field of `other` into the same field here.
    /// - Complexity: the sum of the nested joins over `other`'s fields.
    mutating func join(_ other: MapCore) {
        for (key, theirs) in other.fields {
            guard let mine = fields[key] else {
                fields[key] = theirs
                continue
            }
            fields[key] = Map.changed(mine, by: Join(key: key, other: Map.state(of: theirs)))
        }
    }

    /// Forwards `stable` to every field: the nested types own their metadata.
    mutating func compact(stable: VectorClock) {
        for (key, field) in fields { fields[key] = Map.changed(field, by: Compaction(stable: stable)) }
    }

    /// Forwards to every field: each compacts with its own observed dots.
    mutating func compactObserved() {
        for (key, field) in fields { fields[key] = Map.changed(field, by: Compaction(stable: nil)) }
    }

    /// The fields for which `isVisible` holds, as a value view.
    func value(showing isVisible: (Map.Field) -> Bool = { _ in true }) -> MapValue {
        var states: [FieldKey: any CRDT] = [:]
        for (key, field) in fields where isVisible(field) { states[key] = Map.state(of: field) }
        return MapValue(states)
    }

    /// The same fields with equal nested states.
    static func == (lhs: MapCore, rhs: MapCore) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        for (key, field) in lhs.fields {
            guard let other = rhs.fields[key], equal(Map.state(of: field), Map.state(of: other)) else { return false }
        }
        return true
    }

    /// `Map[…]`, for logs.
    var description: String {
        "\(Map.self)[" + keys.map { "\($0): \(Map.state(of: fields[$0]!))" }.joined(separator: ", ") + "]"
    }

    // MARK: Encoding

    /// The field count, then each field sorted by (name, type code): name, type code,
    /// nested state. - Complexity: O(n log n) plus the nested encodings.
    func encode(to writer: inout ByteWriter) {
        writer.writeCount(fields.count)
        for key in keys {
            key.encode(to: &writer)
            Map.state(of: fields[key]!).encode(to: &writer)
        }
    }

    /// Reads the fields, checking canonical form: keys strictly increasing (so no
    /// duplicates), every type registered and one the map can hold, no field in its initial
    /// state, each nested state one level deeper (so hostile nesting cannot exhaust the
    /// stack).
    ///
    /// Each state is decoded as the type `CRDTRegistry` holds for its key's code, which is
    /// what keeps every field of one key, in every map, of one Swift type.
    init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumElementSize: 4)
        fields.reserveCapacity(count)
        var previous: FieldKey?
        for _ in 0..<count {
            let start = reader.offset
            let key = try FieldKey(from: &reader)
            if let previous, !(previous < key) {
                throw CodecError(
                    .inconsistent, offset: start, "\(Map.self) field \(key) is a duplicate or out of order")
            }
            guard let type = CRDTRegistry.type(for: key.type) else {
                throw CodecError(.unknownTag, offset: start, "\(Map.self) field \(key) has an unregistered type")
            }
            guard Map.canHold(type) else {
                throw CodecError(
                    .typeMismatch, offset: start, "\(Map.self) holds no \(type) fields, as \(key) would be")
            }
            let stateOffset = reader.offset
            let state = try reader.nested { (inner: inout ByteReader) throws(CodecError) -> any CRDT in
                try type.init(from: &inner)
            }
            if Self.isInitial(state) {
                throw CodecError(.inconsistent, offset: stateOffset, "\(Map.self) field \(key) holds an initial state")
            }
            guard let field = Map.field(state) else {
                throw CodecError(.typeMismatch, offset: stateOffset, "\(Map.self) cannot hold field \(key)")
            }
            fields[key] = field
            previous = key
        }
    }

    // MARK: Nested states

    /// Whether `state` is its type's initial state (bottom).
    private static func isInitial(_ state: some CRDT) -> Bool { state == type(of: state).init() }

    /// Whether two erased states are of the same type and equal.
    private static func equal<T: CRDT>(_ lhs: T, _ rhs: any CRDT) -> Bool {
        guard let rhs = rhs as? T else { return false }
        return lhs == rhs
    }

    /// Joins `other`, the state of the same field in another map, into a state.
    private struct Join: NestedStateChange {
        let key: FieldKey
        let other: any CRDT

        func applied<T: CRDT>(to state: T) -> T {
            // Unreachable from any input (see `MapCore`); reaching it is a bug in Concord.
            // Trapping keeps a broken map from being stored: skipping the field would drop
            // one side's updates without a word.
            guard let other = other as? T else {
                preconditionFailure(
                    "\(Map.self) field \(key) holds a \(T.self) here and a \(type(of: other)) there;"
                        + " every field of one key must be of the type CRDTRegistry holds for its code")
            }
            return state.joined(other)
        }
    }

    /// `compact(stable:)`, or `compactObserved()` when `stable` is `nil`.
    private struct Compaction: NestedStateChange {
        let stable: VectorClock?

        func applied<T: CRDT>(to state: T) -> T {
            var copy = state
            if let stable { copy.compact(stable: stable) } else { copy.compactObserved() }
            return copy
        }
    }
}
