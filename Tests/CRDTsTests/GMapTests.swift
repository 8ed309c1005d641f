import CRDTs
import PropertyBased
import Testing

@Suite struct GMapTests {
    typealias Register = LWWRegister<String>

    /// The leaf events of a GMap operation (see `MapSpecification`); a nested type's own
    /// reset is the only removal a grow-only map has.
    static func flatten(_ operation: GMap.Operation, prefix: [FieldKey] = []) -> [(path: [FieldKey], event: LeafEvent)]
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
            if let nested = update.operation(as: GCounter.self) {
                switch nested {
                case .increment(let amount): return [(path, .count(Int64(amount)))]
                }
            }
            if let nested = update.operation(as: BoundedCounter.self) {
                switch nested {
                case .increment(let amount): return [(path, .count(amount))]
                case .decrement(let amount): return [(path, .count(-amount))]
                case .transfer: return []
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
            if let nested = update.operation(as: GMap.self) { return flatten(nested, prefix: path) }
            Issue.record("flatten does not know \(update)")
            return []
        }
    }

    /// Random operations over counters (a bounded one, whose decrements may be refused),
    /// a register, a set and a nested GMap.
    static func operation(_ random: inout SeededGenerator) -> GMap.Operation {
        let amount = Int64.random(in: 1...5, using: &random)
        let text = ["a", "b", "c"].randomElement(using: &random)!
        switch Int.random(in: 0..<12, using: &random) {
        case 0: return .update("visits", PNCounter.self, random.chance(0.7) ? .increment(amount) : .decrement(amount))
        case 1: return .update("visits", GCounter.self, .increment(UInt64(amount)))
        case 2:
            return .update("stock", BoundedCounter.self, random.chance(0.5) ? .increment(amount) : .decrement(amount))
        case 3...4: return .update("name", Register.self, .assign(text))
        case 5: return .update("tags", AWSet<String>.self, .add(text))
        case 6: return .update("tags", AWSet<String>.self, random.chance(0.7) ? .remove(text) : .reset)
        case 7...8: return .update("inner", GMap.self, .update("city", Register.self, .assign(text)))
        case 9: return .update("inner", GMap.self, .update("count", ResettableCounter.self, .increment(amount)))
        case 10: return .update("inner", GMap.self, .update("count", ResettableCounter.self, .reset))
        default: return .update("visits", PNCounter.self, .increment(amount))
        }
    }

    @Test("Random causal traces match the composed sequential specification", arguments: 0..<60)
    func causalTrace(seed: UInt64) {
        var trace = CausalTrace<Modelled<GMap>>(seed: seed)
        let specification = MapSpecification(showsNeutralFields: true)
        let passed = trace.run(
            steps: 160,
            generate: { random, _, _ in Self.operation(&random) },
            specification: { visible, replica in specification.value(visible, at: replica) { Self.flatten($0) } })
        guard passed else { return }
        Laws.check(trace)
        trace.synchronize()
        Laws.checkDecoderHardening(
            Modelled<GMap>.self, samples: [trace.replicas[0].state, trace.allDeltas.last ?? Modelled()], seed: seed)
    }

    static func state(_ script: [(Int, Int, Int)]) -> GMap {
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
            default: return .update("nested", GMap.self, .update(name, GSet<Int64>.self, .add(Int64(amount % 5))))
            }
        }
    }

    @Test("Join laws hold on generated maps")
    func joinLawsOnGeneratedMaps() async {
        await propertyCheck(
            count: 150, input: GeneratedStates.scripts(), GeneratedStates.scripts(), GeneratedStates.scripts()
        ) { a, b, c in
            GeneratedStates.checkLaws(Self.state(a), Self.state(b), Self.state(c))
        }
    }

    @Test("The delta of an update holds only that field's nested delta")
    func deltaHoldsOneField() throws {
        var map = GMap()
        let context = UpdateContext(replica: 1, timeMicroseconds: 10)
        _ = try map.apply(.update("a", PNCounter.self, .increment(3)), context: context)
        let delta = try map.apply(.update("b", GSet<String>.self, .add("x")), context: context)
        #expect(delta.keys == [FieldKey("b", GSet<String>.self)])
        #expect(delta.value["b", as: GSet<String>.self] == ["x"])
        #expect(map.value["a", as: PNCounter.self] == 3)
        #expect(map.value.count == 2)
    }

    @Test("Fields are keyed by name and type: one name can hold several types")
    func fieldsAreKeyedByNameAndType() throws {
        var map = GMap()
        let context = UpdateContext(replica: 1)
        _ = try map.apply(.update("visits", PNCounter.self, .increment(3)), context: context)
        _ = try map.apply(.update("visits", GCounter.self, .increment(5)), context: context)
        #expect(map.value["visits", as: PNCounter.self] == 3)
        #expect(map.value["visits", as: GCounter.self] == 5)
        #expect(map.value["visits", as: ResettableCounter.self] == nil)
        #expect(map.value.fields == [FieldKey("visits", GCounter.self), FieldKey("visits", PNCounter.self)])
    }

    @Test("A refused nested operation leaves the map unchanged")
    func refusedNestedOperation() throws {
        var map = GMap()
        let context = UpdateContext(replica: 1)
        _ = try map.apply(.update("stock", BoundedCounter.self, .increment(2)), context: context)
        let before = map
        #expect(throws: CRDTError.self) {
            try map.apply(.update("stock", BoundedCounter.self, .decrement(3)), context: context)
        }
        #expect(map == before)
        #expect(map.value["stock", as: BoundedCounter.self] == 2)
    }

    @Test("A GMap holds types that cannot be reset, and nests")
    func holdsAnyType() throws {
        var map = GMap()
        let context = UpdateContext(replica: 2)
        _ = try map.apply(.update("set", GSet<Int64>.self, .add(4)), context: context)
        _ = try map.apply(
            .update("inner", GMap.self, .update("deeper", RRMap.self, .update("flag", EWFlag.self, .enable))),
            context: context)
        let inner = try #require(map.value.state(of: "inner", as: GMap.self))
        let deeper = try #require(inner.value.state(of: "deeper", as: RRMap.self))
        #expect(deeper.value["flag", as: EWFlag.self] == true)
        #expect(try GMap(serialized: map.serialized()) == map)
    }
}
