import CRDTs
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
}
