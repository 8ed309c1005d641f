import CRDTs
import PropertyBased
import Testing

@Suite struct GSetTests {
    typealias Operation = GSet<String>.Operation
    static let elements = ["a", "b", "c", "d", "e"]

    @Sendable static func generate(_ random: inout SeededGenerator, _ state: GSet<String>, _ replica: ReplicaID)
        -> Operation?
    {
        if random.chance(0.7) { return .add(elements.randomElement(using: &random)!) }
        return .addAll((0..<Int.random(in: 0...3, using: &random)).map { _ in elements.randomElement(using: &random)! })
    }

    /// Every visibly added element.
    static func specification(_ visible: [TracedOperation<Operation>], _ replica: ReplicaID) -> Set<String> {
        Set(
            visible.flatMap { operation -> [String] in
                switch operation.operation {
                case .add(let element): [element]
                case .addAll(let elements): elements
                }
            })
    }

    @Test(arguments: 0..<100) func tracesMatchTheSpecification(seed: UInt64) {
        var trace = CausalTrace<GSet<String>>(seed: seed)
        guard trace.run(steps: 200, generate: Self.generate, specification: Self.specification) else { return }
        Laws.check(trace)
        Laws.checkDecoderHardening(GSet<String>.self, samples: trace.hardeningSamples, seed: seed)
    }

    @Test func joinLawsHoldOnGeneratedStates() async {
        await propertyCheck(input: StateGenerators.triples(GSet<String>.self, generate: Self.generate)) { triple in
            StateGenerators.checkJoinLaws(triple)
        }
    }

    @Test func decoderRejectsRepeatedAndUnorderedElements() {
        var writer = ByteWriter()
        writer.writeCount(2)
        writer.writeString("b")
        writer.writeString("a")
        #expect(throws: CodecError.self) { try GSet<String>(decoding: writer.bytes) }
        var repeated = ByteWriter()
        repeated.writeCount(2)
        repeated.writeString("a")
        repeated.writeString("a")
        #expect(throws: CodecError.self) { try GSet<String>(decoding: repeated.bytes) }
    }

    /// Found by the `operations` fuzzer: `String ==` identifies "é" with "e\u{301}", so a
    /// set keeps whichever spelling it saw first. Strings encode in normalization form C,
    /// so replicas that converged (equal states) encode alike.
    @Test func canonicallyEquivalentElementsEncodeAlike() throws {
        var a = GSet<String>()
        var b = GSet<String>()
        let fromA = try a.apply(.add("é"), context: UpdateContext(replica: 1))
        let fromB = try b.apply(.add("e\u{301}"), context: UpdateContext(replica: 2))
        a.join(fromB)
        b.join(fromA)
        #expect(a == b)
        #expect(a.serialized() == b.serialized())
        // A decomposed spelling on the wire is damaged input.
        var decomposed = ByteWriter()
        decomposed.writeCount(1)
        decomposed.writeString("e\u{301}")
        #expect(throws: CodecError.self) { try GSet<String>(decoding: decomposed.bytes) }
    }
}
