import CRDTs
import Testing

@Suite struct CRDTRegistryTests {
    /// Every built-in type: each row of `BuiltInType`, instantiated with every built-in
    /// value type when generic.
    static let builtIns: [any CRDT.Type] = BuiltInType.allCases.flatMap(\.registeredTypes)

    /// A state of `T` that is not the initial one, where the type has an obvious operation.
    static func sample(_ code: CRDTTypeCode) throws -> any CRDT {
        let context = UpdateContext(replica: 3, timeMicroseconds: 42)
        var map = RRMap()
        _ = try map.apply(.update("n", PNCounter.self, .increment(2)), context: context)
        _ = try map.apply(.update("s", AWSet<String>.self, .add("x")), context: context)
        switch code {
        case RRMap.typeCode: return map
        case GMap.typeCode:
            var gmap = GMap()
            _ = try gmap.apply(.update("m", RRMap.self, .update("f", EWFlag.self, .enable)), context: context)
            _ = try gmap.apply(.update("g", GSet<Int64>.self, .add(7)), context: context)
            return gmap
        case PNCounter.typeCode:
            var counter = PNCounter()
            _ = try counter.apply(.decrement(4), context: context)
            return counter
        default: return try #require(CRDTRegistry.empty(code))
        }
    }

    @Test("Registry decodes every built-in type")
    func decodesEveryBuiltIn() throws {
        var codes = Set<CRDTTypeCode>()
        for type in Self.builtIns {
            let code = type.typeCode
            #expect(codes.insert(code).inserted, "two built-ins share \(code)")
            let registered = try #require(CRDTRegistry.type(for: code), "\(type) is not registered")
            #expect(
                ObjectIdentifier(registered) == ObjectIdentifier(type), "\(code) decodes as \(registered), not \(type)")
            let empty = try #require(CRDTRegistry.empty(code))
            #expect(Swift.type(of: empty) == type)
            for state in [empty, try Self.sample(code)] {
                let decoded = try CRDTRegistry.decode(serialized: state.serialized())
                #expect(decoded.typeCodeOfInstance == code)
                #expect(decoded.serialized() == state.serialized(), "\(code) does not round-trip")
                var reader = ByteReader(state.encodedBytes())
                let bare = try CRDTRegistry.decode(code, from: &reader)
                try reader.finish()
                #expect(bare.serialized() == state.serialized())
            }
        }
        // Nothing else claims a built-in kind with a built-in value tag.
        for builtIn in BuiltInType.allCases {
            for tag in 0...5 {
                let code = CRDTTypeCode(builtIn.kind, valueTag: UInt8(tag))
                if !codes.contains(code) { #expect(CRDTRegistry.type(for: code) == nil, "\(code) is registered") }
            }
        }
    }

    @Test("An unknown type code is a typed error")
    func unknownTypeCode() throws {
        let unknown = CRDTTypeCode(.awSet, valueTag: 99)
        #expect(CRDTRegistry.type(for: unknown) == nil)
        #expect(CRDTRegistry.empty(unknown) == nil)
        var reader = ByteReader([0])
        let error = try #require(throws: CodecError.self) { try CRDTRegistry.decode(unknown, from: &reader) }
        #expect(error.code == .unknownTag)
        // A kind this build does not know, and a registered kind with an unknown value tag.
        for bytes: [UInt8] in [[1, 200, 0, 0], [1, CRDTTypeCode.Kind.awSet.rawValue, 99, 0]] {
            let error = try #require(throws: CodecError.self) { try CRDTRegistry.decode(serialized: bytes) }
            #expect(error.code == .unknownTag)
        }
    }

    @Test("Serialized states are checked for version, truncation and trailing bytes")
    func serializedFraming() throws {
        let bytes = try Self.sample(RRMap.typeCode).serialized()
        #expect(throws: CodecError.self) { try CRDTRegistry.decode(serialized: []) }
        for length in 0..<bytes.count {
            #expect(throws: CodecError.self) { try CRDTRegistry.decode(serialized: Array(bytes.prefix(length))) }
        }
        let trailing = try #require(throws: CodecError.self) { try CRDTRegistry.decode(serialized: bytes + [0]) }
        #expect(trailing.code == .trailingBytes)
        var wrongVersion = bytes
        wrongVersion[0] = 9
        let version = try #require(throws: CodecError.self) { try CRDTRegistry.decode(serialized: wrongVersion) }
        #expect(version.code == .unsupportedVersion)
    }

    @Test("join(erased:) joins the same type and refuses another")
    func erasedJoin() throws {
        let context = UpdateContext(replica: 1)
        var counter = PNCounter()
        var other = PNCounter()
        _ = try other.apply(.increment(3), context: context)
        try counter.join(erased: other as any CRDT)
        #expect(counter.value == 3)
        let error = try #require(throws: CRDTError.self) { try counter.join(erased: GCounter()) }
        #expect(error.code == .typeMismatch)
        #expect(counter.value == 3)
        // Through an existential on both sides, as the engine holds them.
        var erased: any CRDT = try #require(CRDTRegistry.empty(PNCounter.typeCode))
        try erased.join(erased: other)
        #expect((erased as? PNCounter)?.value == 3)
    }

    @Test(
        "Registering a user value type makes maps accept it and the registry decode it; concurrent registration is safe"
    )
    func userRegistration() async throws {
        let type = AWSet<RegisteredID>.self
        #expect(CRDTRegistry.type(for: type.typeCode) == nil)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    CRDTRegistry.register(AWSet<RegisteredID>.self)
                    CRDTRegistry.register(MVRegister<RegisteredID>.self)
                }
            }
        }
        let registered = try #require(CRDTRegistry.type(for: type.typeCode))
        #expect(ObjectIdentifier(registered) == ObjectIdentifier(type))
        var map = RRMap()
        _ = try map.apply(.update("ids", type, .add(RegisteredID(raw: 5))), context: UpdateContext(replica: 1))
        let decoded = try #require(try CRDTRegistry.decode(serialized: map.serialized()) as? RRMap)
        #expect(decoded.value["ids", as: type] == [RegisteredID(raw: 5)])
    }
}

/// A value type that one test registers (tag 202, used by no other test).
struct RegisteredID: CRDTValue {
    var raw: UInt64
    static var valueTag: UInt8 { 202 }
    func encode(to writer: inout ByteWriter) { writer.writeVarUInt(raw) }
    init(raw: UInt64) { self.raw = raw }
    init(from reader: inout ByteReader) throws(CodecError) { raw = try reader.readVarUInt() }
}

extension CRDT {
    /// The type code of this instance's dynamic type.
    var typeCodeOfInstance: CRDTTypeCode { Self.typeCode }
}
