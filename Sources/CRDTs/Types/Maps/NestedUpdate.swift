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
    /// The nested operation itself, for walking nested map updates (conflict reports).
    var operationValue: any Sendable { get }
    /// Applies the operation to `state` (the initial state when `nil`) and returns the new
    /// state and the delta. Throws when `state` is of another type or the nested type is not
    /// the one registered for its type code (a map holding it could not be decoded again,
    /// and its field could meet the registered type's in a join), or what the nested
    /// operation throws.
    func apply(to state: (any CRDT)?, context: UpdateContext) throws(CRDTError) -> (state: any CRDT, delta: any CRDT)
}

struct TypedNestedOperation<T: CRDT>: NestedOperation {
    let operation: T.Operation

    var type: any CRDT.Type { T.self }

    var operationValue: any Sendable { operation }

    func apply(to state: (any CRDT)?, context: UpdateContext) throws(CRDTError) -> (state: any CRDT, delta: any CRDT) {
        guard CRDTRegistry.isRegistered(T.self) else {
            if let owner = CRDTRegistry.type(for: T.typeCode) {
                throw CRDTError(
                    .invalidArgument,
                    "\(T.self) claims the type code \(T.typeCode), which belongs to \(owner); give it a code of its own (a valueTag in 128...255)"
                )
            }
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
