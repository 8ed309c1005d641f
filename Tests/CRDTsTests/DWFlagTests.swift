import CRDTs
import PropertyBased
import Testing

@Suite struct DWFlagTests {
    typealias Operation = DWFlag.Operation

    @Sendable static func generate(_ random: inout SeededGenerator, _ state: DWFlag, _ replica: ReplicaID) -> Operation?
    {
        [.enable, .enable, .disable, .reset].randomElement(using: &random)!
    }

    /// True iff the latest operations (none observed by another) hold an enable and no disable.
    static func specification(_ visible: [TracedOperation<Operation>], _ replica: ReplicaID) -> Bool {
        let latest = Specification.latest(visible) { $0 == .reset ? nil : ["flag"] }["flag", default: []]
        return latest.contains { $0.operation == .enable } && !latest.contains { $0.operation == .disable }
    }

    @Test(arguments: 0..<100) func tracesMatchTheSpecification(seed: UInt64) {
        var trace = CausalTrace<DWFlag>(seed: seed)
        guard trace.run(steps: 200, generate: Self.generate, specification: Self.specification) else { return }
        Laws.check(trace)
        Laws.checkDecoderHardening(DWFlag.self, samples: trace.hardeningSamples, seed: seed)
    }

    @Test func joinLawsHoldOnGeneratedStates() async {
        await propertyCheck(input: StateGenerators.triples(DWFlag.self, generate: Self.generate)) { triple in
            StateGenerators.checkJoinLaws(triple)
        }
    }

    @Test func startsDisabled() { #expect(DWFlag().value == false) }

    @Test("Concurrent enable and disable: DWFlag reads false") func concurrentEnableAndDisable() throws {
        var a = DWFlag()
        var b = DWFlag()
        let enable = try a.apply(.enable, context: UpdateContext(replica: 1))
        let disable = try b.apply(.disable, context: UpdateContext(replica: 2))
        a.join(disable)
        b.join(enable)
        #expect(a == b)
        #expect(!a.value)
        // An enable that observed the disable overrides it.
        b.join(try a.apply(.enable, context: UpdateContext(replica: 1)))
        #expect(a == b && a.value)
    }

    @Test("A reset removes only what it observed") func resetRemovesOnlyObserved() throws {
        var a = DWFlag()
        var b = DWFlag()
        b.join(try a.apply(.disable, context: UpdateContext(replica: 1)))
        let concurrentEnable = try a.apply(.enable, context: UpdateContext(replica: 1))
        b.join(try b.apply(.reset, context: UpdateContext(replica: 2)))
        #expect(!b.value && b.isNeutral)
        b.join(concurrentEnable)
        #expect(b.value)
    }
}
