import CRDTs
import PropertyBased
import Testing

@Suite struct PNCounterTests {
    static func amount(of operation: PNCounter.Operation) -> Int64 {
        switch operation {
        case .increment(let amount): amount
        case .decrement(let amount): -amount
        }
    }

    @Test("Random causal traces match increments minus decrements", arguments: 0..<100)
    func causalTrace(seed: UInt64) {
        var trace = CausalTrace<PNCounter>(seed: seed)
        let passed = trace.run(
            steps: 200,
            generate: { random, _, _ in
                let amount = Int64.random(in: -10...10, using: &random)
                return random.chance(0.5) ? .increment(amount) : .decrement(amount)
            },
            specification: CachedSpecification { visible, _ in visible.reduce(0) { $0 + Self.amount(of: $1.operation) }
            }
            .callAsFunction)
        guard passed else { return }
        Laws.check(trace)
        trace.synchronize()
        Laws.checkDecoderHardening(
            PNCounter.self, samples: [trace.replicas[0].state, trace.allDeltas.last ?? PNCounter()], seed: seed)
    }

    static func state(_ script: [(Int, Int, Int)]) -> PNCounter {
        GeneratedStates.state(script) { action, amount, _, _ in
            switch action {
            case 1: .increment(Int64(amount))
            case 2: .decrement(Int64(amount))
            case 3: .increment(-Int64(amount))
            default: nil
            }
        }
    }

    @Test("Join laws hold on generated states")
    func joinLawsOnGeneratedStates() async {
        await propertyCheck(
            count: 200, input: GeneratedStates.scripts(), GeneratedStates.scripts(), GeneratedStates.scripts()
        ) { a, b, c in
            GeneratedStates.checkLaws(Self.state(a), Self.state(b), Self.state(c))
        }
    }

    @Test("Negative amounts count the other way")
    func negativeAmounts() throws {
        var a = PNCounter(), b = PNCounter()
        _ = try a.apply(.increment(-4), context: UpdateContext(replica: 1))
        _ = try b.apply(.decrement(4), context: UpdateContext(replica: 1))
        #expect(a == b)
        #expect(a.value == -4)
        _ = try a.apply(.decrement(-6), context: UpdateContext(replica: 2))
        #expect(a.value == 2)
    }

    @Test("Int64.min amounts do not trap; overflow throws and changes nothing")
    func extremes() throws {
        var counter = PNCounter()
        _ = try counter.apply(.increment(Int64.min), context: UpdateContext(replica: 1))
        #expect(counter.value == Int64.min)
        let before = counter
        #expect(throws: CRDTError.self) { try counter.apply(.decrement(1), context: UpdateContext(replica: 1)) }
        #expect(throws: CRDTError.self) { try counter.apply(.increment(Int64.min), context: UpdateContext(replica: 2)) }
        #expect(counter == before)
        _ = try counter.apply(.decrement(Int64.min), context: UpdateContext(replica: 2))
        #expect(counter.value == 0)
        _ = try counter.apply(.increment(Int64.max), context: UpdateContext(replica: 3))
        let atMaximum = counter
        do {
            _ = try counter.apply(.decrement(Int64.min), context: UpdateContext(replica: 3))
            Issue.record("decrementing Int64.min at Int64.max did not throw")
        } catch {
            #expect(error.code == .overflow)
        }
        #expect(counter == atMaximum)
        #expect(try PNCounter(serialized: counter.serialized()) == counter)
    }

    @Test("Merged concurrent updates beyond Int64's range clamp instead of trapping")
    func mergedOverflowClamps() throws {
        var a = PNCounter(), b = PNCounter()
        _ = try a.apply(.increment(Int64.max), context: UpdateContext(replica: 1))
        _ = try b.apply(.increment(Int64.max), context: UpdateContext(replica: 2))
        a.join(b)
        #expect(a.value == Int64.max)
        #expect(throws: CRDTError.self) { try a.apply(.increment(1), context: UpdateContext(replica: 1)) }
        _ = try a.apply(.decrement(Int64.max), context: UpdateContext(replica: 1))
        #expect(a.value == Int64.max)
    }

    @Test("A reset removes only observed updates; a concurrent decrement survives")
    func observedReset() throws {
        var a = PNCounter(), b = PNCounter()
        b.join(try a.apply(.increment(10), context: UpdateContext(replica: 1)))
        b.join(try a.apply(.decrement(3), context: UpdateContext(replica: 1)))
        let concurrent = try a.apply(.decrement(2), context: UpdateContext(replica: 1))
        let reset = b.resetDelta(context: UpdateContext(replica: 2))
        b.join(reset)
        #expect(b.value == 0 && b.isNeutral)
        b.join(concurrent)
        a.join(reset)
        #expect(a == b)
        #expect(a.value == -2)
    }

    @Test("The decoder rejects a decrement baseline above its total")
    func decoderRejectsBaselineAboveTotal() {
        var writer = ByteWriter()
        writer.writeByte(PNCounter.formatVersion)
        PNCounter.typeCode.encode(to: &writer)
        writer.write(VectorClock([1: 2]))
        writer.write(VectorClock())
        writer.write(VectorClock([1: 2]))
        writer.write(VectorClock([1: 3]))
        #expect(throws: CodecError.self) { try PNCounter(serialized: writer.bytes) }
    }
}
