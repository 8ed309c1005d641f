/// One operation on one field of a map: the field's key and the nested CRDT's own
/// operation, with the nested type erased so that map operations stay plain values.
///
/// `Map` is the map type the update is for (`GMap` or `RRMap`). You never create one
/// directly: `GMap.Operation.update(_:_:_:)` and `RRMap.Operation.update(_:_:_:)` do, and
/// their generic constraints decide at compile time which nested types a map accepts
/// (an `RRMap` only takes `ResettableCRDT` fields, because its remove is a reset).
public struct NestedUpdate<Map>: Sendable, CustomStringConvertible {
    /// The field the update targets.
    public let field: FieldKey
    let body: any NestedOperation

    init<T: CRDT>(_ name: String, _ type: T.Type, _ operation: T.Operation) {
        field = FieldKey(name, type)
        body = TypedNestedOperation<T>(operation: operation)
    }

    /// The nested operation, if the field holds a `T`.
    public func operation<T: CRDT>(as type: T.Type) -> T.Operation? {
        (body as? TypedNestedOperation<T>)?.operation
    }

    /// `update("name": Type, operation)`.
    public var description: String { "update(\(field), \(body))" }
}

/// A nested operation with its CRDT type erased.
protocol NestedOperation: Sendable, CustomStringConvertible {
    /// The nested type.
    var type: any CRDT.Type { get }
    /// Applies the operation to `state` (the initial state when `nil`) and returns the new
    /// state and the delta. Throws when `state` is of another type or the nested type is not
    /// registered (a map holding it could not be decoded again), or what the nested
    /// operation throws.
    func apply(to state: (any CRDT)?, context: UpdateContext) throws(CRDTError) -> (state: any CRDT, delta: any CRDT)
}

struct TypedNestedOperation<T: CRDT>: NestedOperation {
    let operation: T.Operation

    var type: any CRDT.Type { T.self }

    func apply(to state: (any CRDT)?, context: UpdateContext) throws(CRDTError) -> (state: any CRDT, delta: any CRDT) {
        guard CRDTRegistry.isRegistered(T.self) else {
            throw CRDTError(
                .invalidArgument,
                "\(T.self) (\(T.typeCode)) is not registered; call CRDTRegistry.register(\(T.self).self) before storing it in a map"
            )
        }
        var nested: T
        if let state {
            guard let typed = state as? T else {
                throw CRDTError(.typeMismatch, "the field holds a \(Swift.type(of: state)), not a \(T.self)")
            }
            nested = typed
        } else {
            nested = T()
        }
        let delta = try nested.apply(operation, context: context)
        return (nested, delta)
    }

    var description: String { "\(operation)" }
}

/// Operations on type-erased nested states, shared by the maps.
enum ErasedState {
    /// Whether `state` is its type's initial state (bottom). Maps never store such a field,
    /// so that equal maps have equal encodings.
    static func isInitial(_ state: some CRDT) -> Bool { state == type(of: state).init() }

    /// Whether two erased states are of the same type and equal.
    static func equal<T: CRDT>(_ lhs: T, _ rhs: any CRDT) -> Bool {
        guard let rhs = rhs as? T else { return false }
        return lhs == rhs
    }

    /// Whether two erased states read the same: equal values when the value type is
    /// `Equatable`, otherwise equal canonical encodings.
    static func sameValue<T: CRDT>(_ lhs: T, _ rhs: any CRDT) -> Bool {
        guard let rhs = rhs as? T else { return false }
        if let value = lhs.value as? any Equatable {
            return value.isEqual(to: rhs.value)
        }
        return lhs.encodedBytes() == rhs.encodedBytes()
    }

    /// Compacts an erased state.
    static func compacted<T: CRDT>(_ state: T, stable: VectorClock) -> T {
        var copy = state
        copy.compact(stable: stable)
        return copy
    }

    static func compactedObserved<T: CRDT>(_ state: T) -> T {
        var copy = state
        copy.compactObserved()
        return copy
    }

    /// Writes a map's fields in canonical order: count, then for each field its key and
    /// its nested state.
    static func encode(_ fields: [FieldKey: some Any], to writer: inout ByteWriter, state: (FieldKey) -> any CRDT) {
        writer.writeCount(fields.count)
        for key in fields.keys.sorted() {
            key.encode(to: &writer)
            state(key).encode(to: &writer)
        }
    }

    /// Reads a map's fields, checking canonical form: keys strictly increasing (so no
    /// duplicates), every type registered, no field in its initial state, each nested state
    /// one level deeper (so hostile nesting cannot exhaust the stack). `convert` narrows a
    /// decoded state to what the map may hold; `nil` means the type is not allowed there.
    static func decodeFields<Nested>(
        from reader: inout ByteReader, mapName: String, allowed: (any CRDT.Type) -> Bool,
        convert: (any CRDT) -> Nested?
    ) throws(CodecError) -> [FieldKey: Nested] {
        let count = try reader.readCount(minimumElementSize: 4)
        var fields: [FieldKey: Nested] = [:]
        fields.reserveCapacity(count)
        var previous: FieldKey?
        for _ in 0..<count {
            let start = reader.offset
            let key = try FieldKey(from: &reader)
            if let previous, !(previous < key) {
                throw CodecError(.inconsistent, offset: start, "\(mapName) field \(key) is a duplicate or out of order")
            }
            guard let type = CRDTRegistry.type(for: key.type) else {
                throw CodecError(.unknownTag, offset: start, "\(mapName) field \(key) has an unregistered type")
            }
            guard allowed(type) else {
                throw CodecError(
                    .typeMismatch, offset: start, "\(mapName) cannot hold field \(key): \(type) is not resettable")
            }
            let stateOffset = reader.offset
            let state = try reader.nested { (inner: inout ByteReader) throws(CodecError) -> any CRDT in
                try type.init(from: &inner)
            }
            if isInitial(state) {
                throw CodecError(.inconsistent, offset: stateOffset, "\(mapName) field \(key) holds an initial state")
            }
            guard let converted = convert(state) else {
                throw CodecError(.typeMismatch, offset: stateOffset, "\(mapName) cannot hold field \(key)")
            }
            fields[key] = converted
            previous = key
        }
        return fields
    }
}

extension Equatable {
    /// Whether `other` is a `Self` equal to this value.
    fileprivate func isEqual(to other: Any) -> Bool {
        guard let other = other as? Self else { return false }
        return self == other
    }
}
