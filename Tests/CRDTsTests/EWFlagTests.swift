import CRDTs
import PropertyBased
import Testing

@Suite struct EWFlagTests {
    typealias Operation = EWFlag.Operation

    @Sendable static func generate(_ random: inout SeededGenerator, _ state: EWFlag, _ replica: ReplicaID) -> Operation?
    {
        [.enable, .enable, .disable, .reset].randomElement(using: &random)!
    }

    /// True iff an enable is among the latest operations (no operation observed it).
    static func specification(_ visible: [TracedOperation<Operation>], _ replica: ReplicaID) -> Bool {
        let latest = Specification.latest(visible) { $0 == .reset ? nil : ["flag"] }
        return latest["flag", default: []].contains { $0.operation == .enable }
    }

    @Test(arguments: 0..<100) func tracesMatchTheSpecification(seed: UInt64) {
        var trace = CausalTrace<EWFlag>(seed: seed)
        guard trace.run(steps: 200, generate: Self.generate, specification: Self.specification) else { return }
        Laws.check(trace)
        Laws.checkDecoderHardening(EWFlag.self, samples: trace.hardeningSamples, seed: seed)
    }

    @Test func joinLawsHoldOnGeneratedStates() async {
        await propertyCheck(input: StateGenerators.triples(EWFlag.self, generate: Self.generate)) { triple in
            StateGenerators.checkJoinLaws(triple)
        }
    }

    /// Found by the `decoders` fuzzer: a store holding two dots its context has not seen,
    /// (r3, 2) and (r1, 3), was reported with whichever a set iterated first.
    @Test func anUncoveredStoreDotIsNamedAlike() {
        let bytes: [UInt8] = [0x02, 0x02, 0x03, 0x2B, 0x02, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02]
        var details: Set<String> = []
        for _ in 0..<20 {
            do {
                _ = try EWFlag(decoding: bytes)
                Issue.record("decoded a store with dots its context has not seen")
            } catch {
                #expect(error.code == .inconsistent)
                details.insert(error.detail)
            }
        }
        #expect(details.count == 1)
        #expect(details.first?.contains("(r1, 3)") == true, "\(details)")
    }

    @Test("Concurrent enable and disable: EWFlag reads true") func concurrentEnableAndDisable() throws {
        var a = EWFlag()
        var b = EWFlag()
        let base = try a.apply(.enable, context: UpdateContext(replica: 1))
        b.join(base)
        let enable = try a.apply(.enable, context: UpdateContext(replica: 1))
        let disable = try b.apply(.disable, context: UpdateContext(replica: 2))
        #expect(!b.value)
        a.join(disable)
        b.join(enable)
        #expect(a == b)
        #expect(a.value)
    }

    @Test("A reset removes only what it observed") func resetRemovesOnlyObserved() throws {
        var a = EWFlag()
        var b = EWFlag()
        b.join(try a.apply(.enable, context: UpdateContext(replica: 1)))
        let concurrent = try a.apply(.enable, context: UpdateContext(replica: 1))
        let reset = b.resetDelta(context: UpdateContext(replica: 2))
        b.join(reset)
        #expect(!b.value && b.isNeutral)
        b.join(concurrent)
        a.join(reset)
        #expect(a == b && a.value)
    }
}
