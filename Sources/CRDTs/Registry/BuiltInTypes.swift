/// The one table of Concord's built-in CRDT types, from which `CRDTRegistry` starts.
///
/// A new CRDT type goes here; a generic one goes into `generic(over:)` so it is
/// registered once per built-in value type.
enum BuiltInTypes {
    /// The built-in value types: the element and register value types every generic type
    /// is registered with.
    static let valueTypes: [any CRDTValue.Type] = [String.self, [UInt8].self, Int64.self, UInt64.self, Bool.self]

    /// The non-generic types.
    static let plainTypes: [any CRDT.Type] = [
        GCounter.self, PNCounter.self, ResettableCounter.self, BoundedCounter.self, EWFlag.self, DWFlag.self,
        GMap.self, RRMap.self,
    ]

    /// The generic types instantiated with `value`.
    static func generic<V: CRDTValue>(over value: V.Type) -> [any CRDT.Type] {
        [LWWRegister<V>.self, MVRegister<V>.self, GSet<V>.self, AWSet<V>.self, RWSet<V>.self]
    }

    /// Every built-in type.
    static var all: [any CRDT.Type] {
        plainTypes + valueTypes.flatMap { generic(over: $0) }
    }

    /// Every built-in type by its type code. Two built-ins with one code are a bug.
    static func table() -> [CRDTTypeCode: any CRDT.Type] {
        var table: [CRDTTypeCode: any CRDT.Type] = [:]
        for type in all {
            let previous = table.updateValue(type, forKey: type.typeCode)
            assert(previous == nil, "two built-in CRDT types share the code \(type.typeCode)")
        }
        return table
    }
}
