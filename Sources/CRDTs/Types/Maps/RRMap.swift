/// A map of nested CRDTs whose fields can be removed (AntidoteDB's `map_rr`,
/// "recursive-resets map"): fields are keyed by name and type, and removing a field resets
/// its nested object.
///
/// ```swift
/// var user = RRMap()
/// try user.apply(.update("visits", PNCounter.self, .increment(1)), context: context)
/// try user.apply(.update("address", RRMap.self, .update("city", LWWRegister<String>.self, .assign("Lisbon"))),
///                context: context)
/// try user.apply(.remove("visits", PNCounter.self), context: context)
/// try user.apply(.reset, context: context)
/// ```
///
/// A remove is an *observed remove*: it is the nested type's `resetDelta`, so it removes
/// exactly what the removing replica had seen, and a concurrent update of the same field
/// survives it. Unlike AntidoteDB, every nested type can be reset, so removing a field
/// holding a counter or a last-writer-wins register resets it too. Only `ResettableCRDT`
/// types can be fields (checked at compile time by `Operation.update`); an `RRMap` is
/// itself resettable, so maps nest to any depth.
///
/// A removed field stays stored while its nested state is neutral: its causal context (or
/// its counter baselines) is what makes the removal win over the updates it observed on
/// replicas that learn of it later, and what keeps a nested object's per-replica dot
/// counters from ever being reused (a reused dot would be taken for one the remove had
/// already seen, and the new update would vanish). So a removed field costs
/// O(replicas) bytes until the map is dropped; the value hides it.
public struct RRMap: ResettableCRDT, CustomStringConvertible {
    /// An operation on an `RRMap`.
    public enum Operation: Sendable, CustomStringConvertible {
        /// Applies a nested operation to one field, creating the field when it is missing.
        case update(NestedUpdate<RRMap>)
        /// Removes a field: resets its nested object (an observed remove).
        case remove(FieldKey)
        /// Removes every field.
        case reset

        /// Applies `operation` to the field `name` holding a `T`, e.g.
        /// `.update("visits", PNCounter.self, .increment(1))`. `T` must be resettable, so
        /// that the field can be removed.
        public static func update<T: ResettableCRDT>(_ name: String, _ type: T.Type, _ operation: T.Operation)
            -> Operation
        {
            .update(NestedUpdate(name, type, operation))
        }

        /// Removes the field `name` holding a `T`, e.g. `.remove("visits", PNCounter.self)`.
        public static func remove<T: ResettableCRDT>(_ name: String, _ type: T.Type) -> Operation {
            .remove(FieldKey(name, type))
        }

        /// The operation, for logs.
        public var description: String {
            switch self {
            case .update(let update): update.description
            case .remove(let key): "remove(\(key))"
            case .reset: "reset"
            }
        }
    }

    /// A typed view of the visible fields.
    public typealias Value = MapValue

    /// `RRMap`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.rrMap) }

    /// The nested states, removed (neutral) ones included, in the table both maps share.
    private var core: MapCore<RRMap>

    /// The empty map.
    public init() { core = MapCore() }

    private init(core: MapCore<RRMap>) { self.core = core }

    /// Every stored field, removed ones included, sorted. - Complexity: O(n log n).
    public var keys: [FieldKey] { core.keys }

    /// The stored state of the field `name` holding a `T` (also when it was removed), or
    /// `nil` when there is none.
    public func state<T: CRDT>(of name: String, as type: T.Type) -> T? { core.state(of: name, as: type) }

    /// The stored state of the field `key`, of whatever type (inspection, conflict detection).
    func fieldState(_ key: FieldKey) -> (any CRDT)? { core.fields[key].map(Self.state(of:)) }

    /// The fields that are not neutral (removed and not updated since).
    /// - Complexity: O(n log n) plus the nested `isNeutral` checks.
    public var value: MapValue { core.value(showing: { !$0.isNeutral }) }

    /// Whether every field is neutral: the map reads as empty.
    public var isNeutral: Bool { core.fields.values.allSatisfy(\.isNeutral) }

    /// The delta that resets every field: each field's own `resetDelta`.
    /// - Complexity: the sum of the nested resets.
    public func resetDelta(context: UpdateContext) -> RRMap {
        var delta = MapCore<RRMap>()
        for (key, field) in core.fields { delta.store(field.resetDelta(context: context), at: key) }
        return RRMap(core: delta)
    }

    /// Performs an update, a remove or a reset, and returns a map holding only the fields
    /// it touched, each with its nested delta.
    ///
    /// - Throws: `CRDTError` `.invalidArgument` when the nested type is not registered with
    ///   `CRDTRegistry`, or what the nested operation throws; the map is then unchanged.
    /// - Complexity: that of the nested operation; a reset, of every field's reset.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> RRMap {
        switch operation {
        case .update(let update):
            return RRMap(core: try core.apply(update, context: context))
        case .remove(let key):
            var delta = MapCore<RRMap>()
            if let field = core.fields[key] { delta.store(field.resetDelta(context: context), at: key) }
            core.join(delta)
            return RRMap(core: delta)
        case .reset:
            let delta = resetDelta(context: context)
            join(delta)
            return delta
        }
    }

    /// Joins every field of `other` into the same field here.
    /// - Complexity: the sum of the nested joins over `other`'s fields.
    public mutating func join(_ other: RRMap) { core.join(other.core) }

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

    /// The same fields (removed ones included) with equal nested states.
    public static func == (lhs: RRMap, rhs: RRMap) -> Bool { lhs.core == rhs.core }

    /// `RRMap[…]`, for logs.
    public var description: String { core.description }

    /// The field count, then each field sorted by (name, type code): name, type code,
    /// nested state. - Complexity: O(n log n) plus the nested encodings.
    public func encode(to writer: inout ByteWriter) { core.encode(to: &writer) }

    /// Decodes the canonical encoding.
    ///
    /// - Throws: `CodecError` for duplicate or out-of-order fields, an unregistered type
    ///   code (`.unknownTag`), a type that is not resettable (`.typeMismatch`), a field in
    ///   its initial state, nesting deeper than `ByteReader.maximumDepth`, or whatever a
    ///   nested decoder throws.
    public init(from reader: inout ByteReader) throws(CodecError) { core = try MapCore(from: &reader) }
}

extension RRMap: NestedMap {
    /// Only resettable CRDTs can be fields: a remove is a reset.
    typealias Field = any ResettableCRDT

    static func field(_ state: any CRDT) -> (any ResettableCRDT)? { state as? any ResettableCRDT }

    static func state(of field: any ResettableCRDT) -> any CRDT { field }

    static func canHold(_ type: any CRDT.Type) -> Bool { type is any ResettableCRDT.Type }

    static func changed(_ field: any ResettableCRDT, by change: some NestedStateChange) -> any ResettableCRDT {
        change.applied(to: field)
    }
}
