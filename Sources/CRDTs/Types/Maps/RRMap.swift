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

    /// The nested states, removed (neutral) ones included; a field is never stored in its
    /// initial state.
    private(set) var fields: [FieldKey: any ResettableCRDT]

    /// The empty map.
    public init() { fields = [:] }

    /// Every stored field, removed ones included, sorted. - Complexity: O(n log n).
    public var keys: [FieldKey] { fields.keys.sorted() }

    /// The stored state of the field `name` holding a `T` (also when it was removed), or
    /// `nil` when there is none.
    public func state<T: CRDT>(of name: String, as type: T.Type) -> T? {
        fields[FieldKey(name, type)] as? T
    }

    /// The fields that are not neutral (removed and not updated since).
    /// - Complexity: O(n log n) plus the nested `isNeutral` checks.
    public var value: MapValue {
        MapValue(fields.filter { !$0.value.isNeutral })
    }

    /// Whether every field is neutral: the map reads as empty.
    public var isNeutral: Bool { fields.values.allSatisfy(\.isNeutral) }

    /// The delta that resets every field: each field's own `resetDelta`.
    /// - Complexity: the sum of the nested resets.
    public func resetDelta(context: UpdateContext) -> RRMap {
        var delta = RRMap()
        for (key, state) in fields { delta.store(state.resetDelta(context: context), at: key) }
        return delta
    }

    /// Performs an update, a remove or a reset, and returns a map holding only the fields
    /// it touched, each with its nested delta.
    ///
    /// - Throws: `CRDTError` `.invalidArgument` when the nested type is not registered with
    ///   `CRDTRegistry`, or what the nested operation throws; the map is then unchanged.
    /// - Complexity: that of the nested operation; a reset, of every field's reset.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> RRMap {
        var delta = RRMap()
        switch operation {
        case .update(let update):
            let (state, nestedDelta) = try update.body.apply(to: fields[update.field], context: context)
            guard let state = state as? any ResettableCRDT, let nestedDelta = nestedDelta as? any ResettableCRDT else {
                throw CRDTError(.typeMismatch, "an RRMap field must be resettable; \(update.field) is not")
            }
            store(state, at: update.field)
            delta.store(nestedDelta, at: update.field)
        case .remove(let key):
            guard let state = fields[key] else { return delta }
            delta.store(state.resetDelta(context: context), at: key)
            join(delta)
        case .reset:
            delta = resetDelta(context: context)
            join(delta)
        }
        return delta
    }

    private mutating func store(_ state: any ResettableCRDT, at key: FieldKey) {
        fields[key] = ErasedState.isInitial(state) ? nil : state
    }

    /// Joins every field of `other` into the same field here.
    /// - Complexity: the sum of the nested joins over `other`'s fields.
    public mutating func join(_ other: RRMap) {
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
                assertionFailure("RRMap field \(key): \(error)")
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

    /// The same fields (removed ones included) with equal nested states.
    public static func == (lhs: RRMap, rhs: RRMap) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        for (key, state) in lhs.fields {
            guard let other = rhs.fields[key], ErasedState.equal(state, other) else { return false }
        }
        return true
    }

    /// `RRMap[…]`, for logs.
    public var description: String {
        "RRMap[" + keys.map { "\($0): \(fields[$0]!)" }.joined(separator: ", ") + "]"
    }

    /// The field count, then each field sorted by (name, type code): name, type code,
    /// nested state. - Complexity: O(n log n) plus the nested encodings.
    public func encode(to writer: inout ByteWriter) {
        ErasedState.encode(fields, to: &writer) { fields[$0]! }
    }

    /// Decodes the canonical encoding.
    ///
    /// - Throws: `CodecError` for duplicate or out-of-order fields, an unregistered type
    ///   code (`.unknownTag`), a type that is not resettable (`.typeMismatch`), a field in
    ///   its initial state, nesting deeper than `ByteReader.maximumDepth`, or whatever a
    ///   nested decoder throws.
    public init(from reader: inout ByteReader) throws(CodecError) {
        fields = try ErasedState.decodeFields(
            from: &reader, mapName: "RRMap", allowed: { $0 is any ResettableCRDT.Type },
            convert: { $0 as? any ResettableCRDT })
    }
}
