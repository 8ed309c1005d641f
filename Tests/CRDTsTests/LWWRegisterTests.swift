import CRDTs
import PropertyBased
import Testing

@Suite struct LWWRegisterTests {
    /// A timestamp as the specification computes it: (physical, logical, replica).
    struct Stamp: Comparable {
        var physical: UInt64
        var logical: UInt64
        var replica: ReplicaID
        static func < (lhs: Stamp, rhs: Stamp) -> Bool {
            (lhs.physical, lhs.logical, lhs.replica) < (rhs.physical, rhs.logical, rhs.replica)
        }
    }

    /// The sequential specification, with the timestamps of the operations memoized (a
    /// timestamp depends only on the operation and what happened before it).
    final class Specification {
        var stamps: [Dot: Stamp] = [:]

        /// The hybrid-clock rule: after the latest timestamp the assignment observed, with
        /// physical time max(wall clock, latest physical) and the logical counter bumped when
        /// the physical time did not advance.
        func stamp(
            of traced: TracedOperation<LWWRegister<String>.Operation>,
            visible: [TracedOperation<LWWRegister<String>.Operation>]
        ) -> Stamp {
            if let known = stamps[traced.dot] { return known }
            var latest: Stamp?
            for earlier in visible where earlier.happened(before: traced) {
                // `visible` is in causal order, so everything before `traced` is stamped already.
                let other = stamp(of: earlier, visible: visible)
                if latest.map({ $0 < other }) ?? true { latest = other }
            }
            let result: Stamp
            if let latest, latest.physical >= traced.timeMicroseconds {
                result = Stamp(physical: latest.physical, logical: latest.logical + 1, replica: traced.replica)
            } else {
                result = Stamp(physical: traced.timeMicroseconds, logical: 0, replica: traced.replica)
            }
            stamps[traced.dot] = result
            return result
        }

        func value(_ visible: [TracedOperation<LWWRegister<String>.Operation>]) -> String? {
            var best: (Stamp, String)?
            for traced in visible {
                let stamp = stamp(of: traced, visible: visible)
                if best.map({ $0.0 < stamp }) ?? true {
                    switch traced.operation {
                    case .assign(let value): best = (stamp, value)
                    }
                }
            }
            return best?.1
        }
    }

    @Test(
        "Random causal traces with a clock that steps back: the greatest hybrid timestamp wins",
        arguments: 0..<100)
    func causalTrace(seed: UInt64) {
        var trace = CausalTrace<LWWRegister<String>>(seed: seed)
        let specification = Specification()
        let passed = trace.run(
            steps: 200,
            generate: { random, _, replica in .assign("\(replica)-\(UInt8.random(in: 0...255, using: &random))") },
            specification: CachedSpecification { visible, _ in specification.value(visible) }.callAsFunction)
        guard passed else { return }
        Laws.check(trace)
        trace.synchronize()
        Laws.checkDecoderHardening(
            LWWRegister<String>.self, samples: [trace.replicas[0].state, trace.allDeltas.last ?? LWWRegister()],
            seed: seed)
    }

    static func state(_ script: [(Int, Int, Int)]) -> LWWRegister<Int64> {
        // Few distinct values, so that equal values at different timestamps are common.
        GeneratedStates.state(script) { action, amount, _, _ in action == 4 ? nil : .assign(Int64(amount % 3)) }
    }

    /// A generated state, reset (as a map removing the field would) for every other script.
    static func resettingState(_ script: [(Int, Int, Int)]) -> LWWRegister<Int64> {
        var state = Self.state(script)
        if script.count % 2 == 0 { state.join(state.resetDelta(context: UpdateContext(replica: 1))) }
        return state
    }

    @Test("Join laws hold on generated states, with resets")
    func joinLawsOnGeneratedStates() async {
        await propertyCheck(
            count: 200, input: GeneratedStates.scripts(), GeneratedStates.scripts(), GeneratedStates.scripts()
        ) { a, b, c in
            GeneratedStates.checkLaws(Self.resettingState(a), Self.resettingState(b), Self.resettingState(c))
        }
    }

    @Test("An encoded join agrees with decoding and joining, conflicts included")
    func encodedJoinAgreesWithTheDecodedOne() async {
        await propertyCheck(
            count: 300, input: GeneratedStates.scripts(), GeneratedStates.scripts(), GeneratedStates.scripts()
        ) { a, b, clocks in
            let local = Self.resettingState(a)
            let incoming = Self.resettingState(b)
            // What each side knew: counters of replicas 1...3 taken from the third script.
            var sides = [[ReplicaID: UInt64](), [:]]
            for (replica, side, amount) in clocks {
                sides[side % 2][ReplicaID(UInt64(replica + 1))] = UInt64(amount % 4)
            }
            let knowledge = JoinKnowledge(localClock: VectorClock(sides[0]), incomingClock: VectorClock(sides[1]))
            let joined = LWWRegister<Int64>.joinEncoded(
                local.encodedBytes()[...], incoming.encodedBytes()[...], knowledge: knowledge)
            let decodedKinds = local.conflicts(joining: incoming, knowledge: knowledge).map(\.kind)
            guard let joined else {
                // Only a pair it cannot order by timestamps alone is left to the decoder.
                // (flags byte 1: an entry and no cleared timestamp).
                #expect(
                    local.encodedBytes().first != 1 || incoming.encodedBytes().first != 1
                        || local.timestamp == incoming.timestamp, "\(local), \(incoming)")
                return
            }
            #expect(local.joined(incoming) == (joined.takesIncoming ? incoming : local), "\(local), \(incoming)")
            #expect(decodedKinds == (joined.conflict.map { [$0] } ?? []), "\(local), \(incoming), \(knowledge)")
        }
    }

    @Test("Two concurrent assignments join encoded: the later wins, and the loss is a conflict")
    func encodedJoinOfConcurrentAssignments() throws {
        var a = LWWRegister<String>(), b = LWWRegister<String>()
        _ = try a.apply(.assign("a"), context: UpdateContext(replica: 1, timeMicroseconds: 10))
        _ = try b.apply(.assign("b"), context: UpdateContext(replica: 2, timeMicroseconds: 20))
        let concurrent = JoinKnowledge(localClock: [1: 1], incomingClock: [2: 1])
        let joined = LWWRegister<String>.joinEncoded(
            a.encodedBytes()[...], b.encodedBytes()[...], knowledge: concurrent)
        #expect(joined == EncodedJoin(takesIncoming: true, conflict: .lwwAssignmentLost))
        let causal = JoinKnowledge(localClock: [1: 1], incomingClock: [1: 1, 2: 1])
        #expect(
            LWWRegister<String>.joinEncoded(b.encodedBytes()[...], a.encodedBytes()[...], knowledge: causal)
                == EncodedJoin(takesIncoming: false, conflict: nil))
        #expect(LWWRegister<String>.joinEncoded(a.encodedBytes()[...], a.encodedBytes()[...], knowledge: causal) == nil)
        #expect(LWWRegister<String>.joinEncoded([][...], a.encodedBytes()[...], knowledge: causal) == nil)
        #expect(GCounter.joinEncoded([1][...], [1][...], knowledge: causal) == nil)
    }

    @Test("A later assign at one replica wins even if the wall clock steps back")
    func clockStepsBack() throws {
        var a = LWWRegister<String>(), b = LWWRegister<String>()
        let first = try a.apply(.assign("first"), context: UpdateContext(replica: 1, timeMicroseconds: 5_000))
        let second = try a.apply(.assign("second"), context: UpdateContext(replica: 1, timeMicroseconds: 1_000))
        let third = try a.apply(.assign("third"), context: UpdateContext(replica: 1, timeMicroseconds: 1_000))
        #expect(a.value == "third")
        #expect(a.timestamp == HybridTimestamp(physicalMicroseconds: 5_000, logical: 2, replica: 1))
        for delta in [third, first, second] { b.join(delta) }
        #expect(b == a)
        // Another replica that saw it, with a clock far behind, still writes after it.
        _ = try b.apply(.assign("fourth"), context: UpdateContext(replica: 0, timeMicroseconds: 10))
        a.join(b)
        #expect(a.value == "fourth")
    }

    @Test("Equal timestamps are broken by replica id: the higher id wins")
    func equalTimestamps() throws {
        var low = LWWRegister<Int64>(), high = LWWRegister<Int64>()
        let fromLow = try low.apply(.assign(1), context: UpdateContext(replica: 1, timeMicroseconds: 7))
        let fromHigh = try high.apply(.assign(2), context: UpdateContext(replica: 2, timeMicroseconds: 7))
        low.join(fromHigh)
        high.join(fromLow)
        #expect(low == high)
        #expect(low.value == 2)
    }

    @Test("A reset clears the observed value; a concurrent later assign survives it")
    func observedReset() throws {
        var a = LWWRegister<String>(), b = LWWRegister<String>()
        b.join(try a.apply(.assign("x"), context: UpdateContext(replica: 1, timeMicroseconds: 10)))
        let concurrent = try a.apply(.assign("y"), context: UpdateContext(replica: 1, timeMicroseconds: 20))
        let reset = b.resetDelta(context: UpdateContext(replica: 2, timeMicroseconds: 30))
        b.join(reset)
        #expect(b.value == nil)
        #expect(b.isNeutral)
        // An assignment after the reset, even with an older wall clock, wins over it.
        var c = b
        _ = try c.apply(.assign("z"), context: UpdateContext(replica: 3, timeMicroseconds: 1))
        #expect(c.value == "z")
        a.join(reset)
        b.join(concurrent)
        #expect(a == b)
        #expect(a.value == "y")
        #expect(LWWRegister<String>().resetDelta(context: UpdateContext(replica: 1)) == LWWRegister())
    }

    @Test("The type code carries the value type's tag")
    func typeCode() {
        #expect(LWWRegister<String>.typeCode == CRDTTypeCode(.lwwRegister, valueTag: String.valueTag))
        #expect(LWWRegister<Int64>.typeCode != LWWRegister<String>.typeCode)
        var register = LWWRegister<String>()
        _ = try? register.apply(.assign("a"), context: UpdateContext(replica: 1))
        #expect(throws: CodecError.self) { try LWWRegister<Int64>(serialized: register.serialized()) }
    }

    @Test("The decoder rejects unknown flags and an entry its reset covers")
    func decoderRejectsInconsistentStates() throws {
        func encoded(flags: UInt8, entry: (UInt64, Int64)?, cleared: UInt64?) -> [UInt8] {
            var writer = ByteWriter()
            writer.writeByte(LWWRegister<Int64>.formatVersion)
            LWWRegister<Int64>.typeCode.encode(to: &writer)
            writer.writeByte(flags)
            if let entry {
                writer.write(HybridTimestamp(physicalMicroseconds: entry.0, logical: 0, replica: 1))
                writer.write(entry.1)
            }
            if let cleared { writer.write(HybridTimestamp(physicalMicroseconds: cleared, logical: 0, replica: 1)) }
            return writer.bytes
        }
        #expect(try LWWRegister<Int64>(serialized: encoded(flags: 3, entry: (5, 9), cleared: 4)).value == 9)
        #expect(throws: CodecError.self) {
            try LWWRegister<Int64>(serialized: encoded(flags: 3, entry: (5, 9), cleared: 5))
        }
        #expect(throws: CodecError.self) {
            try LWWRegister<Int64>(serialized: encoded(flags: 4, entry: nil, cleared: nil))
        }
        #expect(throws: CodecError.self) {
            try LWWRegister<Int64>(serialized: encoded(flags: 1, entry: nil, cleared: nil))
        }
    }

    @Test("An exhausted hybrid clock throws instead of trapping")
    func exhaustedClock() throws {
        var writer = ByteWriter()
        writer.writeByte(LWWRegister<Int64>.formatVersion)
        LWWRegister<Int64>.typeCode.encode(to: &writer)
        writer.writeByte(1)
        writer.write(HybridTimestamp(physicalMicroseconds: .max, logical: .max, replica: 1))
        writer.write(Int64(1))
        var register = try LWWRegister<Int64>(serialized: writer.bytes)
        let before = register
        #expect(throws: CRDTError.self) { try register.apply(.assign(2), context: UpdateContext(replica: 2)) }
        #expect(register == before)
    }
}
