import CRDTs
import PropertyBased
import Testing

@Suite struct ResettableCounterTests {
    /// The sequential specification: the sum of the visible updates that no visible reset
    /// observed. A reset observed exactly the operations in its `observed` clock, and those
    /// clocks are per-replica prefixes, so their pointwise maximum says which updates some
    /// reset removed.
    static func specification(_ visible: [TracedOperation<ResettableCounter.Operation>]) -> Int64 {
        var removed = VectorClock()
        for traced in visible {
            if case .reset = traced.operation { removed.merge(traced.observed) }
        }
        var sum: Int64 = 0
        for traced in visible where !removed.contains(traced.dot) {
            switch traced.operation {
            case .increment(let amount): sum += amount
            case .decrement(let amount): sum -= amount
            case .reset: break
            }
        }
        return sum
    }

    @Test("Random causal traces: a reset removes exactly the updates it observed", arguments: 0..<100)
    func causalTrace(seed: UInt64) {
        var trace = CausalTrace<ResettableCounter>(seed: seed)
        let passed = trace.run(
            steps: 250,
            generate: { random, _, _ in
                let amount = Int64.random(in: -10...10, using: &random)
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<2: return .reset
                case 2..<6: return .increment(amount)
                default: return .decrement(amount)
                }
            },
            specification: CachedSpecification { visible, _ in Self.specification(visible) }.callAsFunction)
        guard passed else { return }
        Laws.check(trace)
        trace.synchronize()
        Laws.checkDecoderHardening(
            ResettableCounter.self, samples: [trace.replicas[0].state, trace.allDeltas.last ?? ResettableCounter()],
            seed: seed)
    }

    @Test("Join laws hold on generated states with resets")
    func joinLawsOnGeneratedStates() async {
        func state(_ script: [(Int, Int, Int)]) -> ResettableCounter {
            GeneratedStates.state(script) { action, amount, _, _ in
                switch action {
                case 1: .increment(Int64(amount))
                case 2: .decrement(Int64(amount))
                case 3: .reset
                default: .increment(-Int64(amount))
                }
            }
        }
        await propertyCheck(
            count: 200, input: GeneratedStates.scripts(), GeneratedStates.scripts(), GeneratedStates.scripts()
        ) { a, b, c in
            GeneratedStates.checkLaws(state(a), state(b), state(c))
        }
    }

    @Test("A reset removes only observed increments; a concurrent increment survives")
    func observedReset() throws {
        var a = ResettableCounter(), b = ResettableCounter()
        b.join(try a.apply(.increment(5), context: UpdateContext(replica: 1)))
        b.join(try a.apply(.increment(7), context: UpdateContext(replica: 1)))
        // a increments concurrently with b's reset; the classic ccounter would bring back
        // all 15 here, not just the 3 the reset did not see.
        let concurrent = try a.apply(.increment(3), context: UpdateContext(replica: 1))
        let reset = try b.apply(.reset, context: UpdateContext(replica: 2))
        #expect(b.value == 0)
        #expect(b.isNeutral)
        a.join(reset)
        b.join(concurrent)
        #expect(a == b)
        #expect(a.value == 3)
    }

    @Test("Concurrent resets remove the union of what they observed")
    func concurrentResets() throws {
        var a = ResettableCounter(), b = ResettableCounter(), c = ResettableCounter()
        let one = try a.apply(.increment(1), context: UpdateContext(replica: 1))
        let two = try b.apply(.increment(2), context: UpdateContext(replica: 2))
        let four = try c.apply(.increment(4), context: UpdateContext(replica: 3))
        a.join(two)
        b.join(four)
        let resetA = try a.apply(.reset, context: UpdateContext(replica: 1))
        let resetB = try b.apply(.reset, context: UpdateContext(replica: 2))
        for delta in [one, two, four, resetA, resetB] { c.join(delta) }
        #expect(c.value == 0)
        var d = ResettableCounter()
        for delta in [resetB, one, resetA, four, two] { d.join(delta) }
        #expect(d == c)
    }

    @Test("A reset of a reset state changes nothing and produces an empty delta")
    func resetIsIdempotent() throws {
        var counter = ResettableCounter()
        _ = try counter.apply(.increment(2), context: UpdateContext(replica: 1))
        _ = try counter.apply(.reset, context: UpdateContext(replica: 1))
        let before = counter
        let delta = try counter.apply(.reset, context: UpdateContext(replica: 2))
        #expect(delta == ResettableCounter())
        #expect(counter == before)
    }
}
