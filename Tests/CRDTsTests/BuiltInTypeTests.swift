import CRDTs
import PropertyBased
import Testing

/// `BuiltInType` is the one table of built-in CRDT types; these check that what each type
/// says of itself (its `typeCode`) and what the codec and the registry do agree with it.
@Suite struct BuiltInTypeTests {
    @Test("Every built-in type's own code is the one its row gives", arguments: BuiltInType.allCases)
    func typeCodesFollowTheTable(builtIn: BuiltInType) throws {
        for valueType in BuiltInType.valueTypes {
            let type = builtIn.type(over: valueType)
            let expected = CRDTTypeCode(builtIn.kind, valueTag: builtIn.isGeneric ? valueType.valueTag : 0)
            #expect(type.typeCode == expected, "\(type) says \(type.typeCode); its row says \(expected)")
            let registered = try #require(CRDTRegistry.type(for: expected), "\(type) is not registered")
            #expect(ObjectIdentifier(registered) == ObjectIdentifier(type))
        }
        #expect(builtIn.registeredTypes.count == (builtIn.isGeneric ? BuiltInType.valueTypes.count : 1))
    }

    @Test("A kind's name is its type's name without generic arguments", arguments: BuiltInType.allCases)
    func names(builtIn: BuiltInType) {
        let full = String(describing: builtIn.type(over: String.self))
        #expect(builtIn.kind.name == builtIn.name)
        #expect(full == (builtIn.isGeneric ? "\(builtIn.name)<String>" : builtIn.name))
    }

    @Test("The decoder accepts exactly the table's kinds")
    func decoderAcceptsTheTableKinds() {
        for raw in UInt8.min...UInt8.max {
            var reader = ByteReader([raw, 0])
            let decoded = Result { () throws(CodecError) in try CRDTTypeCode(from: &reader) }
            switch (BuiltInType(rawValue: raw), decoded) {
            case (let builtIn?, .success(let code)): #expect(code == CRDTTypeCode(builtIn.kind))
            case (nil, .failure(let error)): #expect(error.code == .unknownTag)
            default:
                Issue.record("kind \(raw): table \(String(describing: BuiltInType(rawValue: raw))), decoded \(decoded)")
            }
        }
        #expect(CRDTTypeCode.Kind(rawValue: 200).name == "kind 200")
    }
    @Test("A type that says it keeps nothing to compact is left as it is by compactObserved")
    func typesWithoutObservedMetadataCompactToThemselves() async {
        #expect(
            RWSet<Int64>.compactsObservedMetadata && GMap.compactsObservedMetadata && RRMap.compactsObservedMetadata)
        await propertyCheck(count: 100, input: GeneratedStates.scripts()) { script in
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, amount, _, _ in
                    action % 2 == 1 ? .add(Int64(amount % 4)) : .remove(Int64(amount % 4))
                } as AWSet<Int64>)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, amount, _, _ in
                    action == 4 ? .reset : .assign(Int64(amount % 3))
                } as MVRegister<Int64>)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, _, _, _ in
                    [.enable, .disable, .reset, .enable][action - 1]
                } as EWFlag)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, _, _, _ in
                    [.enable, .disable, .reset, .disable][action - 1]
                } as DWFlag)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { _, amount, _, _ in .add(Int64(amount % 5)) } as GSet<Int64>)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { _, amount, _, _ in
                    .assign(Int64(amount))
                } as LWWRegister<Int64>)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { _, amount, _, _ in .increment(UInt64(amount)) } as GCounter)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, amount, _, _ in
                    action % 2 == 1 ? .increment(Int64(amount)) : .decrement(Int64(amount))
                } as PNCounter)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, amount, _, _ in
                    action == 3 ? .reset : .increment(Int64(amount))
                } as ResettableCounter)
            Self.expectUnchangedByCompaction(
                GeneratedStates.state(script) { action, amount, _, replica in
                    action == 3
                        ? .transfer(Int64(amount), to: ReplicaID(replica.rawValue % 3 + 1)) : .increment(Int64(amount))
                } as BoundedCounter)
        }
    }

    private static func expectUnchangedByCompaction<T: CRDT>(
        _ state: T, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(!T.compactsObservedMetadata, "\(T.self) says it compacts", sourceLocation: sourceLocation)
        var compacted = state
        compacted.compactObserved()
        #expect(
            compacted.serialized() == state.serialized(), "compactObserved changed \(state) to \(compacted)",
            sourceLocation: sourceLocation)
    }
}
