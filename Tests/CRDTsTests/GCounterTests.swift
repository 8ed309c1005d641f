import CRDTs
import PropertyBased
import Testing

@Suite struct GCounterTests {
    static let steps = 200

    @Test("Random causal traces match the sum of visible increments", arguments: 0..<100)
    func causalTrace(seed: UInt64) {
        var trace = CausalTrace<GCounter>(seed: seed)
        let passed = trace.run(
            steps: Self.steps,
            generate: { random, _, _ in .increment(UInt64.random(in: 0...10, using: &random)) },
            specification: CachedSpecification { visible, _ in
                visible.reduce(0) { sum, traced in
                    switch traced.operation {
                    case .increment(let amount): sum + amount
                    }
                }
            }.callAsFunction)
        guard passed else { return }
        Laws.check(trace)
        trace.synchronize()
        Laws.checkDecoderHardening(
            GCounter.self, samples: [trace.replicas[0].state, trace.allDeltas.last ?? GCounter()], seed: seed)
    }

    @Test("Join laws hold on generated states, with resets")
    func joinLawsOnGeneratedStates() async {
        func state(_ script: [(Int, Int, Int)]) -> GCounter {
            GeneratedStates.state(script) { action, amount, _, _ in
                action == 4 ? nil : .increment(UInt64(amount))
            }
        }
        await propertyCheck(
            count: 200, input: GeneratedStates.scripts(), GeneratedStates.scripts(), GeneratedStates.scripts()
        ) { a, b, c in
            GeneratedStates.checkLaws(state(a), state(b), state(c))
        }
        await propertyCheck(count: 200, input: GeneratedStates.scripts(), GeneratedStates.scripts()) { a, b in
            // A reset delta applied anywhere after the state it observed removes exactly that
            // state's value: what remains is what the other state added beyond it.
            let observed = state(a)
            let concurrent = state(b)
            let reset = observed.resetDelta(context: UpdateContext(replica: 1))
            #expect(observed.joined(reset).value == 0)
            #expect(observed.joined(reset).isNeutral)
            let merged = observed.joined(concurrent).joined(reset)
            #expect(merged.value <= concurrent.value)
        }
    }

    @Test("Increments at different replicas add up after joining")
    func incrementsAddUp() throws {
        var a = GCounter(), b = GCounter()
        _ = try a.apply(.increment(3), context: UpdateContext(replica: 1))
        _ = try b.apply(.increment(4), context: UpdateContext(replica: 2))
        _ = try b.apply(.increment(0), context: UpdateContext(replica: 2))
        a.join(b)
        #expect(a.value == 7)
        #expect(!a.isNeutral)
    }

    @Test("A reset removes only observed increments; a concurrent increment survives")
    func observedReset() throws {
        var a = GCounter(), b = GCounter()
        let first = try a.apply(.increment(5), context: UpdateContext(replica: 1))
        b.join(first)
        // a increments concurrently with b's reset.
        let concurrent = try a.apply(.increment(2), context: UpdateContext(replica: 1))
        let reset = b.resetDelta(context: UpdateContext(replica: 2))
        b.join(reset)
        #expect(b.value == 0)
        #expect(b.isNeutral)
        a.join(reset)
        b.join(concurrent)
        #expect(a == b)
        #expect(a.value == 2)
        #expect(!a.isNeutral)
    }

    @Test("An increment that would overflow throws and changes nothing")
    func overflow() throws {
        var counter = GCounter()
        _ = try counter.apply(.increment(UInt64.max - 1), context: UpdateContext(replica: 1))
        let before = counter
        #expect(throws: CRDTError.self) { try counter.apply(.increment(2), context: UpdateContext(replica: 2)) }
        #expect(counter == before)
        _ = try counter.apply(.increment(1), context: UpdateContext(replica: 2))
        #expect(counter.value == UInt64.max)
    }

    @Test("The decoder rejects zero, unordered and repeated entries and baselines above counts")
    func decoderRejectsInconsistentStates() {
        func encoded(counts: [(UInt64, UInt64)], baselines: [(UInt64, UInt64)]) -> [UInt8] {
            var writer = ByteWriter()
            writer.writeByte(GCounter.formatVersion)
            GCounter.typeCode.encode(to: &writer)
            for list in [counts, baselines] {
                writer.writeCount(list.count)
                for (replica, count) in list {
                    writer.writeVarUInt(replica)
                    writer.writeVarUInt(count)
                }
            }
            return writer.bytes
        }
        #expect((try? GCounter(serialized: encoded(counts: [(1, 3), (2, 1)], baselines: [(1, 3)])))?.value == 1)
        for bytes in [
            encoded(counts: [(1, 0)], baselines: []),
            encoded(counts: [(2, 1), (1, 1)], baselines: []),
            encoded(counts: [(1, 1), (1, 2)], baselines: []),
            encoded(counts: [(1, 1)], baselines: [(1, 2)]),
            encoded(counts: [(1, 1)], baselines: [(2, 1)]),
        ] {
            #expect(throws: CodecError.self) { try GCounter(serialized: bytes) }
        }
    }
}
