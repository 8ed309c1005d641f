import Testing

@testable import Concord

@Suite struct WorkingSetTests {
    private func object(_ name: String, _ value: Int64) -> WorkingObject {
        var counter = PNCounter()
        let delta = try! counter.apply(.increment(value), context: UpdateContext(replica: 1, timeMicroseconds: 0))
        return WorkingCopy(key: Key<PNCounter>(name).object, state: counter, delta: delta)
    }

    private func value(_ object: WorkingObject?) -> Int64? { (object?.erasedState as? PNCounter)?.value }

    @Test func oneObjectIsHeldAndReplacedInPlace() {
        var set = WorkingSet()
        #expect(set.isEmpty && set.count == 0 && set.sorted().isEmpty)
        set.put(object("a", 1))
        set.put(object("a", 2))
        #expect(!set.isEmpty && set.count == 1)
        #expect(value(set[Key<PNCounter>("a").object]) == 2)
        #expect(set[Key<PNCounter>("b").object] == nil)
        #expect(set.sorted().map(\.key) == [Key<PNCounter>("a").object])
    }

    @Test("Objects come out in key order, each once with its last copy, whatever the order of the updates")
    func manyObjectsComeOutSortedOnce() {
        var generator = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        var random = SeededRandom(seed: seed)
        // Small sets, and large ones whose table grows several times and probes past taken
        // slots; keys of one length that differ in their last bytes, like most applications'.
        for round in 0..<60 {
            let (keys, steps) = round % 3 == 0 ? (400, 1_200) : (8, 20)
            var set = WorkingSet()
            var model: [String: Int64] = [:]
            for step in 0..<Int(random.next() % UInt64(steps)) {
                let name = "k\(random.next() % UInt64(keys))"
                set.put(object(name, Int64(step)))
                model[name] = Int64(step)
            }
            let sorted = set.sorted()
            #expect(set.count == model.count, "seed \(seed)")
            #expect(sorted.map(\.key) == model.keys.map { Key<PNCounter>($0).object }.sorted(), "seed \(seed)")
            for object in sorted {
                #expect(value(object) == model[object.key.name], "seed \(seed)")
                #expect(value(set[object.key]) == model[object.key.name], "seed \(seed)")
            }
            for absent in 0..<20 {
                #expect(set[Key<PNCounter>("absent\(absent)").object] == nil, "seed \(seed)")
                #expect(set[Key<PNCounter>("k\(keys + absent)").object] == nil, "seed \(seed)")
            }
        }
    }

    @Test("The table's hash spreads keys that differ only in their last digits")
    func theHashSpreadsSequentialKeys() {
        // 1000 keys in 2048 slots (the table's fill at most), by the bits the table uses.
        var buckets = [Int](repeating: 0, count: 2048)
        for index in 0..<1000 {
            let name = "key-\(String(repeating: "0", count: 16))\(1000 + index)"
            let key = Key<LWWRegister<[UInt8]>>(name, bucket: "bench")
            buckets[Int(truncatingIfNeeded: WorkingSet.hash(of: key.object) >> 32) & 2047] += 1
        }
        // Uniform hashing puts at most 5 or 6 in one slot here; a weak mix puts dozens.
        #expect(buckets.max()! <= 8)
        #expect(buckets.filter { $0 > 0 }.count > 700)
    }

    @Test("A commit's log entry, encoded from the working copies, is the interval of their deltas")
    func theEntryEncodedFromWorkingCopiesIsTheIntervalOfTheirDeltas() throws {
        var generator = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        var random = SeededRandom(seed: seed)
        for round in 0..<30 {
            let context = UpdateContext(
                replica: ReplicaID(1 + random.next() % 3), timeMicroseconds: random.next() % 1000)
            var objects: [WorkingObject] = []
            var deltas: [ObjectDelta] = []
            for index in 0..<Int(1 + random.next() % 4) {
                switch random.next() % 4 {
                case 0:
                    var counter = PNCounter()
                    let delta = try counter.apply(.increment(Int64(random.next() % 100)), context: context)
                    let key = Key<PNCounter>("c\(index)").object
                    objects.append(WorkingCopy(key: key, state: counter, delta: delta))
                    deltas.append(ObjectDelta(key: key, state: delta))
                case 1:
                    var set = AWSet<String>()
                    _ = try set.apply(.add("x"), context: context)
                    let delta = try set.apply(.add("e\(random.next() % 10)"), context: context)
                    let key = Key<AWSet<String>>("s\(index)").object
                    objects.append(WorkingCopy(key: key, state: set, delta: delta))
                    deltas.append(ObjectDelta(key: key, state: delta))
                case 2:
                    var register = LWWRegister<[UInt8]>()
                    let value = (0..<Int(random.next() % 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                    let delta = try register.apply(.assign(value), context: context)
                    let key = Key<LWWRegister<[UInt8]>>("r\(index)").object
                    objects.append(WorkingCopy(key: key, state: register, delta: delta))
                    deltas.append(ObjectDelta(key: key, state: delta))
                default:
                    // Two updates in the transaction, the second taken in place (from an
                    // empty set, state and delta end equal; case 1 has a state larger than its
                    // delta).
                    var set = AWSet<String>()
                    let first = try set.apply(.add("a"), context: context)
                    let copy = WorkingCopy(key: Key<AWSet<String>>("t\(index)").object, state: set, delta: first)
                    let second = try set.apply(random.next() % 2 == 0 ? .add("b") : .remove("a"), context: context)
                    copy.update(state: set, delta: second)
                    objects.append(copy)
                    deltas.append(ObjectDelta(key: copy.key, state: first.joined(second)))
                }
            }
            // In key order, as the commit takes them from `WorkingSet.sorted()`.
            objects.sort { $0.key < $1.key }
            deltas.sort { $0.key < $1.key }
            let from = VectorClock([1: random.next() % 50, 2: random.next() % 50])
            var to = from
            to.increment(context.replica)
            let expected = DeltaInterval(
                from: from, to: to, transactions: 1, timeMicroseconds: context.timeMicroseconds, objects: deltas
            ).encodedBytes()
            var states: [[UInt8]] = []
            let encoded = DeltaInterval.encodedBytes(
                from: from, to: to, timeMicroseconds: context.timeMicroseconds, working: objects
            ) { _, state in states.append(state) }
            // Each state as `serialized()` gives it, whether or not it equals its delta.
            #expect(states == objects.map { $0.erasedState.serialized() }, "seed \(seed), round \(round)")
            #expect(encoded == expected, "seed \(seed), round \(round)")
            #expect(try DeltaInterval(decoding: encoded).objects == deltas, "seed \(seed), round \(round)")
        }
    }
}
