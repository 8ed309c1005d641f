import CRDTs
import PropertyBased
import Testing

@Suite struct MVRegisterTests {
    typealias Register = MVRegister<Int64>
    typealias Operation = Register.Operation

    @Sendable static func generate(_ random: inout SeededGenerator, _ state: Register, _ replica: ReplicaID)
        -> Operation?
    {
        random.chance(0.8) ? .assign(Int64.random(in: -3...3, using: &random)) : .reset
    }

    /// The distinct values of the visible assigns that no visible assign or reset happened
    /// after, in natural order.
    static func specification(_ visible: [TracedOperation<Operation>], _ replica: ReplicaID) -> [Int64] {
        let latest = Specification.latest(visible) { $0 == .reset ? nil : ["flag"] }["flag", default: []]
        let values = latest.compactMap { operation -> Int64? in
            if case .assign(let value) = operation.operation { return value }
            return nil
        }
        return Set(values).sorted()
    }

    @Test(arguments: 0..<100) func tracesMatchTheSpecification(seed: UInt64) {
        var trace = CausalTrace<Register>(seed: seed)
        guard trace.run(steps: 200, generate: Self.generate, specification: Self.specification) else { return }
        Laws.check(trace)
        Laws.checkDecoderHardening(Register.self, samples: trace.hardeningSamples, seed: seed)
    }

    @Test func joinLawsHoldOnGeneratedStates() async {
        await propertyCheck(input: StateGenerators.triples(Register.self, generate: Self.generate)) { triple in
            StateGenerators.checkJoinLaws(triple)
        }
    }

    @Test("MVRegister keeps every concurrent assignment") func keepsConcurrentAssignments() throws {
        var a = MVRegister<String>()
        var b = MVRegister<String>()
        var c = MVRegister<String>()
        let x = try a.apply(.assign("x"), context: UpdateContext(replica: 1))
        let y = try b.apply(.assign("y"), context: UpdateContext(replica: 2))
        let w = try c.apply(.assign("w"), context: UpdateContext(replica: 3))
        for delta in [x, y, w] { a.join(delta); b.join(delta); c.join(delta) }
        #expect(a == b && b == c)
        #expect(a.value == ["w", "x", "y"])
    }

    @Test("An assign overwrites only what it saw") func assignOverwritesOnlyWhatItSaw() throws {
        var a = MVRegister<String>()
        var b = MVRegister<String>()
        b.join(try a.apply(.assign("old"), context: UpdateContext(replica: 1)))
        let concurrent = try a.apply(.assign("concurrent"), context: UpdateContext(replica: 1))
        let overwrite = try b.apply(.assign("new"), context: UpdateContext(replica: 2))
        a.join(overwrite)
        b.join(concurrent)
        #expect(a == b)
        #expect(a.value == ["concurrent", "new"])
    }

    @Test("A reset removes only what it observed") func resetRemovesOnlyObserved() throws {
        var a = MVRegister<String>()
        var b = MVRegister<String>()
        b.join(try a.apply(.assign("seen"), context: UpdateContext(replica: 1)))
        let concurrent = try a.apply(.assign("unseen"), context: UpdateContext(replica: 1))
        b.join(b.resetDelta(context: UpdateContext(replica: 2)))
        #expect(b.value.isEmpty)
        b.join(concurrent)
        #expect(b.value == ["unseen"])
    }

    @Test func valuesReadInNaturalOrder() throws {
        var numbers = MVRegister<Int64>()
        var bytes = MVRegister<[UInt8]>()
        for (index, value) in [Int64(2), -1, 0, -7].enumerated() {
            var other = MVRegister<Int64>()
            numbers.join(try other.apply(.assign(value), context: UpdateContext(replica: ReplicaID(UInt64(index + 1)))))
        }
        for (index, value) in [[2], [1, 5, 5], [1, 5]].enumerated() as EnumeratedSequence<[[UInt8]]> {
            var other = MVRegister<[UInt8]>()
            bytes.join(try other.apply(.assign(value), context: UpdateContext(replica: ReplicaID(UInt64(index + 1)))))
        }
        #expect(numbers.value == [-7, -1, 0, 2])
        #expect(numbers.values == Int64.canonicallySorted([-7, -1, 0, 2]))
        #expect(bytes.value == [[1, 5], [1, 5, 5], [2]])
    }
}
