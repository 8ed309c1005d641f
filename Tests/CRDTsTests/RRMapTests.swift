import CRDTs
import PropertyBased
import Testing

@Suite struct RRMapTests {
    typealias Register = LWWRegister<String>

    static let visits = FieldKey("visits", PNCounter.self)
    static let resettableVisits = FieldKey("visits", ResettableCounter.self)
    static let name = FieldKey("name", Register.self)
    static let address = FieldKey("address", RRMap.self)
    static let city = FieldKey("city", Register.self)
    static let floor = FieldKey("floor", PNCounter.self)

    /// The leaf events of a map operation (see `MapSpecification`).
    static func flatten(_ operation: RRMap.Operation, prefix: [FieldKey] = []) -> [(path: [FieldKey], event: LeafEvent)]
    {
        switch operation {
        case .update(let update):
            let path = prefix + [update.field]
            if let nested = update.operation(as: PNCounter.self) {
                switch nested {
                case .increment(let amount): return [(path, .count(amount))]
                case .decrement(let amount): return [(path, .count(-amount))]
                }
            }
            if let nested = update.operation(as: ResettableCounter.self) {
                switch nested {
                case .increment(let amount): return [(path, .count(amount))]
                case .decrement(let amount): return [(path, .count(-amount))]
                case .reset: return [(path, .removal)]
                }
            }
            if let nested = update.operation(as: Register.self) {
                switch nested {
                case .assign(let value): return [(path, .assign(value))]
                }
            }
            if let nested = update.operation(as: AWSet<String>.self) {
                switch nested {
                case .add(let element): return [(path, .add(element))]
                case .addAll(let elements): return elements.map { (path, .add($0)) }
                case .remove(let element): return [(path, .remove(element))]
                case .removeAll(let elements): return elements.map { (path, .remove($0)) }
                case .reset: return [(path, .removal)]
                }
            }
            if let nested = update.operation(as: RRMap.self) { return flatten(nested, prefix: path) }
            Issue.record("flatten does not know \(update)")
            return []
        case .remove(let key): return [(prefix + [key], .removal)]
        case .reset: return [(prefix, .removal)]
        }
    }

    /// Random operations over every field kind, removes and resets at both levels.
    static func operation(_ random: inout SeededGenerator) -> RRMap.Operation {
        let amount = Int64.random(in: 1...5, using: &random)
        let text = ["a", "b", "c", "d"].randomElement(using: &random)!
        switch Int.random(in: 0..<24, using: &random) {
        case 20...21: return .update("tags", AWSet<String>.self, .add(text))
        case 22: return .update("tags", AWSet<String>.self, random.chance(0.8) ? .remove(text) : .addAll(["a", text]))
        case 23: return .update("tags", AWSet<String>.self, random.chance(0.5) ? .reset : .removeAll(["b", text]))
        case 0...2:
            return .update("visits", PNCounter.self, random.chance(0.7) ? .increment(amount) : .decrement(amount))
        case 3: return .update("visits", ResettableCounter.self, .increment(amount))
        case 4: return .update("visits", ResettableCounter.self, random.chance(0.5) ? .decrement(amount) : .reset)
        case 5...7: return .update("name", Register.self, .assign(text))
        case 8...9: return .update("address", RRMap.self, .update("city", Register.self, .assign(text)))
        case 10...11: return .update("address", RRMap.self, .update("floor", PNCounter.self, .increment(amount)))
        case 12:
            return .update(
                "address", RRMap.self,
                random.chance(0.5) ? .remove("city", Register.self) : .remove("floor", PNCounter.self))
        case 13: return .update("address", RRMap.self, .reset)
        case 14: return .remove("visits", PNCounter.self)
        case 15: return .remove("name", Register.self)
        case 16: return .remove("address", RRMap.self)
        case 17:
            return random.chance(0.5) ? .remove("visits", ResettableCounter.self) : .remove("tags", AWSet<String>.self)
        case 18: return random.chance(0.3) ? .reset : .remove("name", Register.self)
        default: return .update("visits", PNCounter.self, .increment(amount))
        }
    }

    @Test("Random causal traces match the composed sequential specification", arguments: 0..<60)
    func causalTrace(seed: UInt64) {
        var trace = CausalTrace<Modelled<RRMap>>(seed: seed)
        let specification = MapSpecification()
        let passed = trace.run(
            steps: 160,
            generate: { random, _, _ in Self.operation(&random) },
            specification: { visible, replica in specification.value(visible, at: replica) { Self.flatten($0) } })
        guard passed else { return }
        Laws.check(trace)
        trace.synchronize()
        Laws.checkDecoderHardening(
            Modelled<RRMap>.self, samples: [trace.replicas[0].state, trace.allDeltas.last ?? Modelled()], seed: seed)
    }
}

@Suite struct RRMapScenarioTests {
    typealias Register = LWWRegister<String>
    let a = UpdateContext(replica: 1, timeMicroseconds: 100)
    let b = UpdateContext(replica: 2, timeMicroseconds: 100)

    static func state(_ script: [(Int, Int, Int)]) -> RRMap {
        GeneratedStates.state(script) { action, amount, _, _ in
            let name = ["x", "y"][amount % 2]
            switch action {
            case 1:
                return .update(
                    name, PNCounter.self, amount % 3 == 0 ? .decrement(Int64(amount)) : .increment(Int64(amount)))
            case 2: return .update(name, Register.self, .assign("\(amount % 4)"))
            case 3:
                return .update(
                    name, AWSet<Int64>.self, amount % 3 == 0 ? .remove(Int64(amount % 4)) : .add(Int64(amount % 4)))
            case 4:
                return .update(
                    "nested", RRMap.self,
                    amount % 4 == 0 ? .remove(name, EWFlag.self) : .update(name, EWFlag.self, .enable))
            default:
                switch amount % 5 {
                case 0: return .reset
                case 1: return .remove(name, AWSet<Int64>.self)
                case 2: return .remove(name, PNCounter.self)
                case 3: return .remove("nested", RRMap.self)
                default: return .remove(name, Register.self)
                }
            }
        }
    }

    @Test("Join laws hold on generated maps with removes and resets")
    func joinLawsOnGeneratedMaps() async {
        await propertyCheck(
            count: 150, input: GeneratedStates.scripts(actions: 5), GeneratedStates.scripts(actions: 5),
            GeneratedStates.scripts(actions: 5)
        ) { a, b, c in
            GeneratedStates.checkLaws(Self.state(a), Self.state(b), Self.state(c))
        }
    }

    @Test("Removing a field resets its nested object")
    func removeResets() throws {
        var map = RRMap()
        _ = try map.apply(.update("tags", AWSet<String>.self, .addAll(["x", "y"])), context: a)
        #expect(map.value["tags", as: AWSet<String>.self] == ["x", "y"])
        let delta = try map.apply(.remove("tags", AWSet<String>.self), context: a)
        #expect(delta.keys == [FieldKey("tags", AWSet<String>.self)])
        #expect(map.value["tags", as: AWSet<String>.self] == nil)
        #expect(map.value.isEmpty)
        #expect(map.isNeutral)
        // The neutral field stays stored: its context is what makes the remove win later.
        let stored = try #require(map.state(of: "tags", as: AWSet<String>.self))
        #expect(stored.isNeutral)
        _ = try map.apply(.update("tags", AWSet<String>.self, .add("z")), context: a)
        #expect(map.value["tags", as: AWSet<String>.self] == ["z"])
        // Removing a field that is not there changes nothing.
        let none = try map.apply(.remove("missing", PNCounter.self), context: a)
        #expect(none == RRMap())
    }

    @Test("A concurrent nested update survives the remove")
    func concurrentUpdateSurvives() throws {
        var left = RRMap()
        let first = try left.apply(.update("tags", AWSet<String>.self, .add("x")), context: a)
        var right = RRMap()
        right.join(first)
        let remove = try left.apply(.remove("tags", AWSet<String>.self), context: a)
        let add = try right.apply(.update("tags", AWSet<String>.self, .add("y")), context: b)
        left.join(add)
        right.join(remove)
        #expect(left == right)
        #expect(left.value["tags", as: AWSet<String>.self] == ["y"])
        // The same for a nested map: the remove takes what it saw, not what it did not.
        var outer = RRMap()
        let city = try outer.apply(
            .update("address", RRMap.self, .update("city", Register.self, .assign("Porto"))), context: a)
        var other = RRMap()
        other.join(city)
        let removeAddress = try outer.apply(.remove("address", RRMap.self), context: a)
        let zip = try other.apply(
            .update("address", RRMap.self, .update("zip", PNCounter.self, .increment(4))), context: b)
        outer.join(zip)
        other.join(removeAddress)
        #expect(outer == other)
        let address = try #require(outer.value.state(of: "address", as: RRMap.self))
        #expect(address.value["city", as: Register.self] == nil)
        #expect(address.value["zip", as: PNCounter.self] == 4)
    }

    @Test("Removing a field holding a counter resets the counter (unlike AntidoteDB)")
    func removeResetsCounter() throws {
        var left = RRMap()
        let five = try left.apply(.update("visits", PNCounter.self, .increment(5)), context: a)
        var right = RRMap()
        right.join(five)
        let remove = try left.apply(.remove("visits", PNCounter.self), context: a)
        #expect(left.value["visits", as: PNCounter.self] == nil)
        // A concurrent increment survives; the observed five do not.
        let two = try right.apply(.update("visits", PNCounter.self, .increment(2)), context: b)
        left.join(two)
        right.join(remove)
        #expect(left == right)
        #expect(left.value["visits", as: PNCounter.self] == 2)
        // And counting goes on from there.
        _ = try left.apply(.update("visits", PNCounter.self, .decrement(3)), context: a)
        #expect(left.value["visits", as: PNCounter.self] == -1)
    }

    @Test("Reset removes every field, at every level")
    func resetRemovesEverything() throws {
        var map = RRMap()
        _ = try map.apply(.update("n", GCounter.self, .increment(1)), context: a)
        _ = try map.apply(.update("flag", EWFlag.self, .enable), context: a)
        _ = try map.apply(.update("inner", RRMap.self, .update("v", MVRegister<Int64>.self, .assign(3))), context: a)
        #expect(map.value.count == 3)
        let delta = try map.apply(.reset, context: a)
        #expect(delta.keys.count == 3)
        #expect(map.value.isEmpty)
        #expect(map.isNeutral)
        #expect(map.resetDelta(context: a) == RRMap())
    }

    /// An update `depth` maps deep, ending in an assignment of `value`.
    static func deepUpdate(_ depth: Int, _ value: String) -> RRMap.Operation {
        var operation = RRMap.Operation.update("leaf", LWWRegister<String>.self, .assign(value))
        for level in 0..<depth { operation = .update("level\(level)", RRMap.self, operation) }
        return operation
    }

    @Test("Maps nest to any depth")
    func mapsNest() throws {
        var map = RRMap()
        _ = try map.apply(Self.deepUpdate(25, "deep"), context: a)
        var view = map.value
        for level in (0..<25).reversed() {
            view = try #require(view.state(of: "level\(level)", as: RRMap.self)).value
        }
        #expect(view["leaf", as: LWWRegister<String>.self] == "deep")
        #expect(try RRMap(serialized: map.serialized()) == map)
        // Removing an inner level resets everything below it.
        _ = try map.apply(.remove("level24", RRMap.self), context: a)
        #expect(map.value.isEmpty)
        // In memory there is no limit; the decoder refuses what would exhaust its stack.
        var tooDeep = RRMap()
        _ = try tooDeep.apply(Self.deepUpdate(ByteReader.maximumDepth + 2, "x"), context: a)
        let error = try #require(throws: CodecError.self) { try RRMap(serialized: tooDeep.serialized()) }
        #expect(error.code == .inconsistent)
    }

    @Test("A value view compares values, not metadata")
    func valueViewEquality() throws {
        var left = RRMap(), right = RRMap()
        _ = try left.apply(.update("tags", AWSet<String>.self, .add("x")), context: a)
        _ = try right.apply(.update("tags", AWSet<String>.self, .add("x")), context: b)
        _ = try right.apply(.update("gone", PNCounter.self, .increment(1)), context: b)
        _ = try right.apply(.remove("gone", PNCounter.self), context: b)
        #expect(left != right)
        #expect(left.value == right.value)
        #expect(left.value.fields == [FieldKey("tags", AWSet<String>.self)])
        #expect(left.value.count == 1)
        #expect(left.value.state(of: "tags", as: AWSet<String>.self) == left.state(of: "tags", as: AWSet<String>.self))
    }

    /// The canonical encoding of one field, written by hand.
    static func field(_ name: String, _ code: CRDTTypeCode, _ state: some CRDT, to writer: inout ByteWriter) {
        writer.writeString(name)
        code.encode(to: &writer)
        state.encode(to: &writer)
    }

    static func serialized(_ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeByte(RRMap.formatVersion)
        RRMap.typeCode.encode(to: &writer)
        body(&writer)
        return writer.bytes
    }

    @Test("The decoder rejects non-canonical and ill-typed maps with typed errors")
    func decoderRejects() throws {
        var counter = PNCounter()
        _ = try counter.apply(.increment(1), context: a)
        var set = GSet<String>()
        _ = try set.apply(.add("x"), context: a)
        func code(of bytes: [UInt8]) -> CodecError.Code? {
            do {
                _ = try RRMap(serialized: bytes)
                return nil
            } catch { return error.code }
        }
        // The valid one first.
        let valid = Self.serialized { w in
            w.writeCount(2)
            Self.field("a", PNCounter.typeCode, counter, to: &w)
            Self.field("b", PNCounter.typeCode, counter, to: &w)
        }
        #expect(code(of: valid) == nil)
        let duplicate = Self.serialized { w in
            w.writeCount(2)
            Self.field("a", PNCounter.typeCode, counter, to: &w)
            Self.field("a", PNCounter.typeCode, counter, to: &w)
        }
        #expect(code(of: duplicate) == .inconsistent)
        let unordered = Self.serialized { w in
            w.writeCount(2)
            Self.field("b", PNCounter.typeCode, counter, to: &w)
            Self.field("a", PNCounter.typeCode, counter, to: &w)
        }
        #expect(code(of: unordered) == .inconsistent)
        let notResettable = Self.serialized { w in
            w.writeCount(1)
            Self.field("s", GSet<String>.typeCode, set, to: &w)
        }
        #expect(code(of: notResettable) == .typeMismatch)
        let unregistered = Self.serialized { w in
            w.writeCount(1)
            Self.field("s", CRDTTypeCode(.awSet, valueTag: 99), set, to: &w)
        }
        #expect(code(of: unregistered) == .unknownTag)
        let initial = Self.serialized { w in
            w.writeCount(1)
            Self.field("c", PNCounter.typeCode, PNCounter(), to: &w)
        }
        #expect(code(of: initial) == .inconsistent)
        #expect(code(of: valid + [0]) == .trailingBytes)
        #expect(code(of: Array(valid.dropLast())) == .truncated)
        // A GMap takes what an RRMap cannot.
        var gmap = GMap()
        _ = try gmap.apply(.update("s", GSet<String>.self, .add("x")), context: a)
        #expect(throws: CodecError.self) {
            try RRMap(serialized: Array(gmap.serialized().dropFirst(3)).withRRMapHeader())
        }
    }

    @Test("Field names are distinct by their bytes, so equal maps encode equally")
    func namesAreBytes() throws {
        var map = RRMap()
        _ = try map.apply(.update("é", PNCounter.self, .increment(1)), context: a)
        _ = try map.apply(.update("e\u{301}", PNCounter.self, .increment(2)), context: a)
        #expect(map.value.count == 2)
        #expect(map.value["é", as: PNCounter.self] == 1)
        #expect(map.value["e\u{301}", as: PNCounter.self] == 2)
        #expect(try RRMap(serialized: map.serialized()) == map)
    }

    @Test("A value type nobody registered is refused before it is stored")
    func unregisteredNestedType() throws {
        var map = RRMap()
        let error = try #require(throws: CRDTError.self) {
            try map.apply(.update("ids", AWSet<UnregisteredID>.self, .add(UnregisteredID(raw: 1))), context: a)
        }
        #expect(error.code == .invalidArgument)
        #expect(map == RRMap())
    }
}

/// A value type these tests never register.
struct UnregisteredID: CRDTValue {
    var raw: UInt64
    static var valueTag: UInt8 { 201 }
    func encode(to writer: inout ByteWriter) { writer.writeVarUInt(raw) }
    init(raw: UInt64) { self.raw = raw }
    init(from reader: inout ByteReader) throws(CodecError) { raw = try reader.readVarUInt() }
}

extension Array where Element == UInt8 {
    /// These bytes (a map's body) behind an RRMap's serialization header.
    func withRRMapHeader() -> [UInt8] {
        var writer = ByteWriter()
        writer.writeByte(RRMap.formatVersion)
        RRMap.typeCode.encode(to: &writer)
        writer.writeRaw(self)
        return writer.bytes
    }
}

extension RRMapScenarioTests {
    @Test("compact(stable:) forwards to the fields, which own their metadata")
    func compactForwards() throws {
        var map = RRMap()
        _ = try map.apply(.update("s", RWSet<String>.self, .addAll(["x", "y"])), context: a)
        _ = try map.apply(.update("s", RWSet<String>.self, .remove("x")), context: a)
        _ = try map.apply(.update("n", PNCounter.self, .increment(1)), context: a)
        var nested = try #require(map.state(of: "s", as: RWSet<String>.self))
        let stable: VectorClock = [1: 3]
        nested.compact(stable: stable)
        let before = map.value
        map.compact(stable: stable)
        #expect(map.state(of: "s", as: RWSet<String>.self) == nested)
        #expect(map.value == before)
        #expect(nested.state.store.entries.count == 1, "the remove of x was compacted away")
        #expect(try RRMap(serialized: map.serialized()) == map)
    }

    @Test("Compaction does not change which fields a map shows")
    func compactionKeepsVisibility() throws {
        var map = RRMap()
        _ = try map.apply(.update("s", RWSet<String>.self, .add("x")), context: a)
        _ = try map.apply(.update("s", RWSet<String>.self, .remove("x")), context: a)
        let before = map.value
        map.compact(stable: [1: 2])
        // RWSet.isNeutral means "no element present", so surviving remove markers (which
        // compaction drops) do not decide whether the field shows.
        #expect(map.value == before)
        #expect(map.value.isEmpty)
    }
}
