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

    /// The nested states, in the table both maps share.
    private var core: MapCore<GMap>

    /// The empty map.
    public init() { core = MapCore() }

    private init(core: MapCore<GMap>) { self.core = core }

    /// Every field, sorted. - Complexity: O(n log n).
    public var keys: [FieldKey] { core.keys }

    /// The state of the field `name` holding a `T`, or `nil` when there is none.
    public func state<T: CRDT>(of name: String, as type: T.Type) -> T? { core.state(of: name, as: type) }

    /// The stored state of the field `key`, of whatever type (inspection, conflict detection).
    func fieldState(_ key: FieldKey) -> (any CRDT)? { core.fields[key].map(Self.state(of:)) }

    /// Every field. - Complexity: O(n log n).
    public var value: MapValue { core.value() }

    /// Applies a nested operation to its field and returns a map holding only that field's
    /// delta.
    ///
    /// - Throws: `CRDTError` `.invalidArgument` when the nested type is not registered with
    ///   `CRDTRegistry` (the map could not be decoded again), or what the nested operation
    ///   throws; the map is then unchanged.
    /// - Complexity: that of the nested operation, plus O(1).
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> GMap {
        switch operation {
        case .update(let update): GMap(core: try core.apply(update, context: context))
        }
    }

    /// Joins every field of `other` into the same field here.
    /// - Complexity: the sum of the nested joins over `other`'s fields.
    public mutating func join(_ other: GMap) { core.join(other.core) }

    /// Forwards `stable` to every field: the nested types own their metadata.
    ///
    /// Each field counts its own dots (a nested `RWSet`'s dot `(r, n)` is r's n-th operation
    /// on that set, not on the map), so `stable` must be stable for the dots of *every*
    /// field: every replica has seen each field dot it covers. A clock computed from the
    /// map's updates as a whole over-approximates a field's and is not safe; pass
    /// `VectorClock()` (compacts nothing) when no per-field stability is known.
    /// - Complexity: the sum of the nested compactions.
    public mutating func compact(stable: VectorClock) { core.compact(stable: stable) }

    /// Forwards to every field: each compacts with its own observed dots.
    public mutating func compactObserved() { core.compactObserved() }

    /// The same fields with equal nested states.
    public static func == (lhs: GMap, rhs: GMap) -> Bool { lhs.core == rhs.core }

    /// `GMap[…]`, for logs.
    public var description: String { core.description }

    /// The field count, then each field sorted by (name, type code): name, type code,
    /// nested state. - Complexity: O(n log n) plus the nested encodings.
    public func encode(to writer: inout ByteWriter) { core.encode(to: &writer) }

    /// Decodes the canonical encoding.
    ///
    /// - Throws: `CodecError` for duplicate or out-of-order fields, an unregistered type
    ///   code (`.unknownTag`), a field in its initial state, nesting deeper than
    ///   `ByteReader.maximumDepth`, or whatever a nested decoder throws.
    public init(from reader: inout ByteReader) throws(CodecError) { core = try MapCore(from: &reader) }
}

extension GMap: NestedMap {
    /// Any CRDT can be a field.
    typealias Field = any CRDT

    static func field(_ state: any CRDT) -> (any CRDT)? { state }

    static func state(of field: any CRDT) -> any CRDT { field }

    static func canHold(_ type: any CRDT.Type) -> Bool { true }

    static func changed(_ field: any CRDT, by change: some NestedStateChange) -> any CRDT {
        change.applied(to: field)
    }
}
