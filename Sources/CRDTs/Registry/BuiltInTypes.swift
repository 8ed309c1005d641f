/// Concord's built-in CRDT types: the one table from which type codes, the registry's
/// starting contents and the simulator's object kinds come.
///
/// A case's raw value is the kind byte of its type codes (`CRDTTypeCode.Kind`): stored
/// states and messages carry it, so a number is never changed or reused. `type(over:)`
/// names the Swift type; everything else is derived from these two.
///
/// To add a CRDT type: add a case with the next number and its line in `type(over:)`,
/// give the type `static var typeCode: CRDTTypeCode { CRDTTypeCode(.theCase) }` after a
/// `Kind` constant of the same name, and let the compiler point at the rest: the
/// simulator's workload switches over this enum (ConcordSimulation's `ObjectKind`), so it
/// does not build until it can drive the new type. `BuiltInTypeTests` checks that every
/// type's code agrees with its row.
///
/// The case names are stable: the simulator names its objects after them (`gCounter-0`),
/// so renaming a case changes every simulated key and the replay of every seed.
package enum BuiltInType: UInt8, CaseIterable, Sendable {
    case gCounter = 1
    case pnCounter = 2
    case resettableCounter = 3
    case boundedCounter = 4
    case lwwRegister = 5
    case mvRegister = 6
    case ewFlag = 7
    case dwFlag = 8
    case gSet = 9
    case awSet = 10
    case rwSet = 11
    case gMap = 12
    case rrMap = 13

    /// The Swift type of this kind whose elements or register values are `V`; a type that
    /// has no value type ignores `V`.
    package func type<V: CRDTValue>(over value: V.Type) -> any CRDT.Type {
        switch self {
        case .gCounter: GCounter.self
        case .pnCounter: PNCounter.self
        case .resettableCounter: ResettableCounter.self
        case .boundedCounter: BoundedCounter.self
        case .lwwRegister: LWWRegister<V>.self
        case .mvRegister: MVRegister<V>.self
        case .ewFlag: EWFlag.self
        case .dwFlag: DWFlag.self
        case .gSet: GSet<V>.self
        case .awSet: AWSet<V>.self
        case .rwSet: RWSet<V>.self
        case .gMap: GMap.self
        case .rrMap: RRMap.self
        }
    }

    /// The built-in value types: every generic type is registered once with each.
    package static let valueTypes: [any CRDTValue.Type] = [
        String.self, [UInt8].self, Int64.self, UInt64.self, Bool.self,
    ]

    /// The kind byte of this type's codes.
    package var kind: CRDTTypeCode.Kind { CRDTTypeCode.Kind(rawValue: rawValue) }

    /// Whether the type is generic over a value type (its codes then carry the value
    /// type's tag).
    package var isGeneric: Bool {
        ObjectIdentifier(type(over: String.self)) != ObjectIdentifier(type(over: Int64.self))
    }

    /// The Swift type's name without generic arguments (`"GCounter"`, `"AWSet"`), taken
    /// from the type itself so that it cannot drift from it.
    package var name: String {
        String(String(describing: type(over: Bool.self)).prefix { $0 != "<" })
    }

    /// The types the registry starts with for this kind: the type, or one instantiation
    /// per built-in value type.
    package var registeredTypes: [any CRDT.Type] {
        isGeneric ? Self.valueTypes.map { type(over: $0) } : [type(over: Bool.self)]
    }

    /// Every built-in type by its type code, as `CRDTRegistry` starts. Two built-ins with
    /// one code are a bug in this table (`BuiltInTypeTests` checks there are none).
    ///
    /// Each entry is made with its concrete type, so that its decoder is specialized; the
    /// table is checked against `registeredTypes`, the one list of what is built in.
    static func registryTable() -> [CRDTTypeCode: CRDTRegistry.Entry] {
        var table: [CRDTTypeCode: CRDTRegistry.Entry] = [:]
        func add<T: CRDT>(_ type: T.Type) {
            let previous = table.updateValue(CRDTRegistry.Entry(type), forKey: type.typeCode)
            assert(previous == nil, "two built-in CRDT types share the code \(type.typeCode)")
        }
        func addGeneric<V: CRDTValue>(over value: V.Type) {
            add(LWWRegister<V>.self)
            add(MVRegister<V>.self)
            add(GSet<V>.self)
            add(AWSet<V>.self)
            add(RWSet<V>.self)
        }
        add(GCounter.self)
        add(PNCounter.self)
        add(ResettableCounter.self)
        add(BoundedCounter.self)
        add(EWFlag.self)
        add(DWFlag.self)
        add(GMap.self)
        add(RRMap.self)
        addGeneric(over: String.self)
        addGeneric(over: [UInt8].self)
        addGeneric(over: Int64.self)
        addGeneric(over: UInt64.self)
        addGeneric(over: Bool.self)
        // Whatever `type(over:)` and `valueTypes` list is here, and nothing else.
        for type in allCases.flatMap(\.registeredTypes) where table[type.typeCode] == nil {
            table[type.typeCode] = CRDTRegistry.Entry(erased: type)
            assertionFailure("registryTable() lacks \(type)")
        }
        assert(table.count == allCases.flatMap(\.registeredTypes).count, "registryTable() has types not built in")
        return table
    }
}
