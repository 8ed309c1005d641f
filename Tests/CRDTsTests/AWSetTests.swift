import CRDTs
import PropertyBased
import Testing

/// Operations and touched elements shared by the AWSet and RWSet tests.
enum SetWorkload {
    static let elements = ["a", "b", "c", "d"]

    static func some(_ random: inout SeededGenerator) -> [String] {
        (0..<Int.random(in: 0...3, using: &random)).map { _ in elements.randomElement(using: &random)! }
    }
}

@Suite struct AWSetTests {
    typealias Operation = AWSet<String>.Operation

    @Sendable static func generate(_ random: inout SeededGenerator, _ state: AWSet<String>, _ replica: ReplicaID)
        -> Operation?
    {
        let element = SetWorkload.elements.randomElement(using: &random)!
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<4: return .add(element)
        case 4: return .addAll(SetWorkload.some(&random))
        case 5..<8: return .remove(element)
        case 8: return .removeAll(SetWorkload.some(&random))
        default: return .reset
        }
    }

    static func touched(_ operation: Operation) -> [String]? {
        switch operation {
        case .add(let element), .remove(let element): [element]
        case .addAll(let elements), .removeAll(let elements): elements
        case .reset: nil
        }
    }

    /// An element is present iff one of the latest operations on it (none observed by a
    /// later add, remove or reset of it) is an add.
    static func specification(_ visible: [TracedOperation<Operation>], _ replica: ReplicaID) -> Set<String> {
        Set(
            Specification.latest(visible, keys: touched).compactMap { element, latest in
                latest.contains { operation in
                    switch operation.operation {
                    case .add, .addAll: true
                    default: false
                    }
                } ? element : nil
            })
    }

    @Test(arguments: 0..<100) func tracesMatchTheSpecification(seed: UInt64) {
        var trace = CausalTrace<AWSet<String>>(seed: seed)
        guard trace.run(steps: 200, generate: Self.generate, specification: Self.specification) else { return }
        Laws.check(trace)
        Laws.checkDecoderHardening(AWSet<String>.self, samples: trace.hardeningSamples, seed: seed)
    }

    @Test func joinLawsHoldOnGeneratedStates() async {
        await propertyCheck(input: StateGenerators.triples(AWSet<String>.self, generate: Self.generate)) { triple in
            StateGenerators.checkJoinLaws(triple)
        }
    }

    @Test("Concurrent add and remove: AWSet keeps the element") func concurrentAddAndRemove() throws {
        var a = AWSet<String>()
        var b = AWSet<String>()
        b.join(try a.apply(.add("x"), context: UpdateContext(replica: 1)))
        let add = try a.apply(.add("x"), context: UpdateContext(replica: 1))
        let remove = try b.apply(.remove("x"), context: UpdateContext(replica: 2))
        #expect(b.value.isEmpty)
        a.join(remove)
        b.join(add)
        #expect(a == b)
        #expect(a.value == ["x"])
    }

    @Test("A reset removes only what it observed") func resetRemovesOnlyObserved() throws {
        var a = AWSet<String>()
        var b = AWSet<String>()
        b.join(try a.apply(.addAll(["x", "y"]), context: UpdateContext(replica: 1)))
        let concurrent = try a.apply(.add("z"), context: UpdateContext(replica: 1))
        let reset = try b.apply(.reset, context: UpdateContext(replica: 2))
        #expect(b.isNeutral)
        a.join(reset)
        b.join(concurrent)
        #expect(a == b && a.value == ["z"])
    }
}
