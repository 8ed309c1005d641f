import CRDTs
import PropertyBased
import Testing

@Suite struct RWSetTests {
    typealias Operation = RWSet<String>.Operation

    @Sendable static func generate(_ random: inout SeededGenerator, _ state: RWSet<String>, _ replica: ReplicaID)
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

    /// An element is present iff the latest operations on it (those no later add, remove or
    /// reset of it observed) include an add and no remove: a remove defeats every add it
    /// did not observe (concurrent or earlier-but-unseen), and an add that observed a remove
    /// defeats it.
    static func specification(_ visible: [TracedOperation<Operation>], _ replica: ReplicaID) -> Set<String> {
        Set(
            Specification.latest(visible, keys: touched).compactMap { element, latest in
                let adds = latest.contains {
                    if case .add = $0.operation { true } else if case .addAll = $0.operation { true } else { false }
                }
                let removes = latest.contains {
                    if case .remove = $0.operation {
                        true
                    } else if case .removeAll = $0.operation {
                        true
                    } else {
                        false
                    }
                }
                return adds && !removes ? element : nil
            })
    }

    @Test(arguments: 0..<100) func tracesMatchTheSpecification(seed: UInt64) {
        var trace = CausalTrace<RWSet<String>>(seed: seed)
        guard trace.run(steps: 200, generate: Self.generate, specification: Self.specification) else { return }
        Laws.check(trace)
        Laws.checkDecoderHardening(RWSet<String>.self, samples: trace.hardeningSamples, seed: seed)
    }

    @Test func joinLawsHoldOnGeneratedStates() async {
        await propertyCheck(input: StateGenerators.triples(RWSet<String>.self, generate: Self.generate)) { triple in
            StateGenerators.checkJoinLaws(triple)
        }
    }

    @Test("Concurrent add and remove: RWSet drops it") func concurrentAddAndRemove() throws {
        var a = RWSet<String>()
        var b = RWSet<String>()
        b.join(try a.apply(.add("x"), context: UpdateContext(replica: 1)))
        let add = try a.apply(.add("x"), context: UpdateContext(replica: 1))
        let remove = try b.apply(.remove("x"), context: UpdateContext(replica: 2))
        a.join(remove)
        b.join(add)
        #expect(a == b)
        #expect(a.value.isEmpty)
        // An add that observed the remove wins over it.
        b.join(try a.apply(.add("x"), context: UpdateContext(replica: 1)))
        #expect(b.value == ["x"])
    }

    @Test("A reset removes only what it observed") func resetRemovesOnlyObserved() throws {
        var a = RWSet<String>()
        var b = RWSet<String>()
        b.join(try a.apply(.add("x"), context: UpdateContext(replica: 1)))
        let concurrent = try a.apply(.add("y"), context: UpdateContext(replica: 1))
        b.join(try b.apply(.reset, context: UpdateContext(replica: 2)))
        #expect(b.isNeutral)
        b.join(concurrent)
        #expect(b.value == ["y"])
    }

    // MARK: Compaction

    /// A clock of trace dots that every replica has seen and that is closed under causality
    /// and concurrency (every operation before or concurrent with one inside is inside).
    static func stableTraceClock(_ trace: CausalTrace<RWSet<String>>) -> VectorClock {
        var stable = VectorClock.pointwiseMinimum(trace.replicas.map(\.clock))
        var operations: [Dot: TracedOperation<Operation>] = [:]
        for replica in trace.replicas { for operation in replica.visible { operations[operation.dot] = operation } }
        var changed = true
        while changed {
            changed = false
            for outside in operations.values where !stable.contains(outside.dot) {
                for inside in operations.values where stable.contains(inside.dot) {
                    if !inside.happened(before: outside) {
                        stable[inside.replica] = min(stable[inside.replica], inside.dot.counter - 1)
                        changed = true
                    }
                }
            }
        }
        return stable
    }

    /// The trace clock translated into the object's own dots (an operation makes one object
    /// dot per element it adds or removes).
    static func objectClock(_ traceClock: VectorClock, _ trace: CausalTrace<RWSet<String>>) -> VectorClock {
        var clock = VectorClock()
        for replica in trace.replicas {
            for (operation, delta) in replica.deltas where traceClock.contains(operation.dot) {
                for dot in delta.state.store.dots where dot.replica == operation.replica {
                    clock[dot.replica] = max(clock[dot.replica], dot.counter)
                }
            }
        }
        return clock
    }

    @Test(arguments: 0..<40) func compactionNeverChangesTheValueAndReplicasConverge(seed: UInt64) {
        var trace = CausalTrace<RWSet<String>>(seed: seed)
        var random = SeededGenerator(seed: seed ^ 0xC0FFEE)
        var compactions = 0
        for step in 0..<200 {
            guard trace.run(steps: 1, generate: Self.generate, specification: Self.specification) else { return }
            guard step % 10 == 9 else { continue }
            let stable = Self.objectClock(Self.stableTraceClock(trace), trace)
            let index = Int.random(in: 0..<trace.replicas.count, using: &random)
            let before = trace.replicas[index].state
            trace.replicas[index].state.compact(stable: stable)
            let after = trace.replicas[index].state
            if after != before { compactions += 1 }
            #expect(after.value == before.value, "seed \(seed), step \(step): compaction changed the value")
            #expect(
                (try? RWSet<String>(serialized: after.serialized())) == after,
                "seed \(seed): compacted state does not round-trip")
        }
        trace.synchronize()
        let expected = Self.specification(trace.replicas[0].visible, 1)
        for replica in trace.replicas {
            #expect(replica.state.value == expected, "seed \(seed): replicas disagree after synchronizing")
        }
        let stable = Self.objectClock(Self.stableTraceClock(trace), trace)
        for index in trace.replicas.indices { trace.replicas[index].state.compact(stable: stable) }
        let target = trace.replicas[0].state
        for replica in trace.replicas {
            #expect(replica.state == target, "seed \(seed): fully compacted replicas differ")
            #expect(replica.state.value == expected, "seed \(seed): full compaction changed the value")
        }
    }

    @Test func fullCompactionLeavesNoRemovedElement() throws {
        var a = RWSet<String>()
        var b = RWSet<String>()
        b.join(try a.apply(.addAll(["x", "y"]), context: UpdateContext(replica: 1)))
        a.join(try b.apply(.remove("x"), context: UpdateContext(replica: 2)))
        a.compact(stable: a.state.context.vector)
        #expect(a.value == ["y"])
        #expect(a.state.store.keys.count == 1)
        // b has not compacted; a's next delta on x says that it supersedes every dot of x up
        // to a's frontier, so b drops its remove marker.
        let delta = try a.apply(.add("x"), context: UpdateContext(replica: 1))
        #expect(delta.superseded["x"] == a.compacted)
        b.join(delta)
        #expect(b.value == ["x", "y"])
        #expect(b.state.store["x"].dots == a.state.store["x"].dots)
    }

    /// Found by the simulator (`concord simulate --seed 243 --ops 200 --keys 2 --elements 6`):
    /// a reset makes no dot, so a state from before it can have the same context as one
    /// after it. The old join compacted such a stale state with the receiver's frontier,
    /// dropped its entry for e0, and so deleted the add that the reset had left standing.
    @Test func staleStateAfterCompactionKeepsALiveAdd() throws {
        let r1 = UpdateContext(replica: 1)
        let r2 = UpdateContext(replica: 2)
        var a = RWSet<String>()
        var b = RWSet<String>()
        let add = try a.apply(.add("e0"), context: r1)
        let remove = try b.apply(.remove("e0"), context: r2)
        let stale = add.joined(remove)  // both operations: e0 absent
        #expect(stale.value.isEmpty)
        let reset = try b.apply(.reset, context: r2)  // observed the remove, not the add
        b.join(add)
        a.join(remove)
        a.join(reset)
        #expect(a.value == ["e0"] && b.value == ["e0"])
        #expect(a.state.context == stale.state.context)
        a.compactObserved()
        #expect(a.value == ["e0"])
        a.join(stale)
        #expect(a.value == ["e0"], "a stale state must not undo the reset")
        var late = stale
        late.join(a)
        #expect(late == a)
    }

    /// Found by the `decoders` fuzzer (twice): a decoded state whose compacted frontier or
    /// supersession clock covers dots of r3 that r3 never made. First a remove at r3 made a
    /// compactable entry that `apply` kept and `join` dropped; later an add at r3 made a dot
    /// that the state's own claim covered, so `before ⊔ delta` dropped it. Both broke
    /// `before ⊔ delta == after`. Such a state is damaged: operations at r3 now throw and
    /// change nothing, while operations at other replicas keep the law.
    @Test(arguments: [
        (VectorClock([3: 5]), [String: VectorClock]()),
        (VectorClock(), ["x": VectorClock([3: 9])]),
    ])
    func claimsBeyondTheOwnDotsAreRefused(compacted: VectorClock, superseded: [String: VectorClock]) throws {
        var writer = ByteWriter()
        writer.write(compacted)
        writer.write(CausalContext(vector: [1: 1]))
        writer.writeCount(0)  // empty store
        writer.writeCount(superseded.count)
        for (element, clock) in superseded {
            element.encode(to: &writer)
            writer.write(clock)
        }
        var state = try RWSet<String>(decoding: writer.bytes)
        let before = state
        for operation in [RWSet<String>.Operation.removeAll(["x"]), .add("x")] {
            #expect(throws: CRDTError.self) { try state.apply(operation, context: UpdateContext(replica: 3)) }
            #expect(state == before)
        }
        let delta = try state.apply(.add("x"), context: UpdateContext(replica: 1))
        #expect(before.joined(delta) == state)
        #expect(try RWSet<String>(serialized: delta.serialized()) == delta)
        #expect(try RWSet<String>(serialized: state.serialized()) == state)
    }
}
