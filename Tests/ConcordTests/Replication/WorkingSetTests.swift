import Testing

@testable import Concord

@Suite struct WorkingSetTests {
    private func object(_ name: String, _ value: Int64) -> WorkingObject {
        var counter = PNCounter()
        let delta = try! counter.apply(.increment(value), context: UpdateContext(replica: 1, timeMicroseconds: 0))
        return WorkingObject(key: Key<PNCounter>(name).object, state: counter, delta: delta)
    }

    private func value(_ object: WorkingObject?) -> Int64? { (object?.state as? PNCounter)?.value }

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
        for _ in 0..<50 {
            var set = WorkingSet()
            var model: [String: Int64] = [:]
            for step in 0..<Int(random.next() % 20) {
                let name = "k\(random.next() % 8)"
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
        }
    }
}
