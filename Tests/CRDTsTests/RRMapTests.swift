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
    static func flatten(_ operation: RRMap.Operation, prefix: [FieldKey] = []) -> [(path: [FieldKey], event: LeafEvent)] {
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
                switch nested { case .assign(let value): return [(path, .assign(value))] }
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
        case 0...2: return .update("visits", PNCounter.self, random.chance(0.7) ? .increment(amount) : .decrement(amount))
        case 3: return .update("visits", ResettableCounter.self, .increment(amount))
        case 4: return .update("visits", ResettableCounter.self, random.chance(0.5) ? .decrement(amount) : .reset)
        case 5...7: return .update("name", Register.self, .assign(text))
        case 8...9: return .update("address", RRMap.self, .update("city", Register.self, .assign(text)))
        case 10...11: return .update("address", RRMap.self, .update("floor", PNCounter.self, .increment(amount)))
        case 12: return .update("address", RRMap.self, random.chance(0.5) ? .remove("city", Register.self) : .remove("floor", PNCounter.self))
        case 13: return .update("address", RRMap.self, .reset)
        case 14: return .remove("visits", PNCounter.self)
        case 15: return .remove("name", Register.self)
        case 16: return .remove("address", RRMap.self)
        case 17: return random.chance(0.5) ? .remove("visits", ResettableCounter.self) : .remove("tags", AWSet<String>.self)
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
