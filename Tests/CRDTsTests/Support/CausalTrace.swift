import CRDTs
import Testing

/// One operation of a trace, with enough causal information for a sequential specification
/// to decide what it observed: `dot` names it (replica, n-th operation there), `observed` is
/// the clock of operations its replica had seen when it ran (itself excluded).
struct TracedOperation<Operation> {
    let operation: Operation
    let replica: ReplicaID
    let dot: Dot
    let observed: VectorClock
    /// The (simulated) time the operation ran at.
    let timeMicroseconds: UInt64

    /// Whether `self` happened before `other` (other's replica had seen self when other ran).
    func happened(before other: TracedOperation) -> Bool { other.observed.contains(dot) }

    /// Whether neither happened before the other.
    func isConcurrent(with other: TracedOperation) -> Bool {
        dot != other.dot && !happened(before: other) && !other.happened(before: self)
    }
}

/// A random causal trace over a few replicas of one CRDT, in the style of antidote_crdt's
/// `crdt_properties`: operations at random replicas, pulls between them delivered causally,
/// and after every step each replica's value is checked against a sequential specification
/// computed from exactly the operations visible to it.
///
/// Every failure names the seed, so `CausalTrace(seed:)` with it replays the same trace.
struct CausalTrace<T: CRDT> where T.Value: Equatable {
    typealias Generate = (inout SeededGenerator, _ state: T, _ replica: ReplicaID) -> T.Operation?
    typealias Specification = (_ visible: [TracedOperation<T.Operation>], _ replica: ReplicaID) -> T.Value

    struct Replica {
        var state = T()
        var clock = VectorClock()
        /// Deltas in the order this replica delivered them (a causal order).
        var deltas: [(operation: TracedOperation<T.Operation>, delta: T)] = []
        var visible: [TracedOperation<T.Operation>] = []
    }

    let seed: UInt64
    var random: SeededGenerator
    var replicas: [Replica]
    var timeMicroseconds: UInt64 = 1_000_000
    /// Every state any replica reached, and every delta produced: material for the laws.
    var states: [T] = [T()]
    var allDeltas: [T] = []
    /// Operations refused by the CRDT (e.g. a bounded counter out of rights).
    var rejected = 0
    /// Per replica, the specification's value for its visible operations so far (by count).
    private var expectations: [(visibleCount: Int, value: T.Value)?] = []

    init(seed: UInt64, replicaCount: Int = 3) {
        self.seed = seed
        random = SeededGenerator(seed: seed)
        replicas = Array(repeating: Replica(), count: replicaCount)
    }

    func id(_ index: Int) -> ReplicaID { ReplicaID(UInt64(index + 1)) }

    /// Runs `steps` random steps; after each, checks the specification at every replica and
    /// the delta law for each operation. Returns false after the first failure (recorded).
    @discardableResult
    mutating func run(
        steps: Int, generate: Generate, specification: Specification?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        for step in 0..<steps {
            // The clock may step back (LWW must cope): mostly forward, sometimes backward.
            if random.chance(0.1) {
                timeMicroseconds -= UInt64.random(in: 0...min(500, timeMicroseconds), using: &random)
            } else {
                timeMicroseconds += UInt64.random(in: 0...1_000, using: &random)
            }
            let index = Int.random(in: 0..<replicas.count, using: &random)
            if random.chance(0.6) {
                guard operate(at: index, generate: generate, step: step, sourceLocation: sourceLocation) else {
                    return false
                }
            } else {
                var source = Int.random(in: 0..<replicas.count - 1, using: &random)
                if source >= index { source += 1 }
                pull(into: index, from: source, partial: random.chance(0.3))
            }
            if let specification {
                if expectations.count != replicas.count { expectations = Array(repeating: nil, count: replicas.count) }
                for (i, replica) in replicas.enumerated() {
                    // The specification depends only on the visible operations: recompute it
                    // when they changed, but compare the value after every step.
                    let expected: T.Value
                    if let cached = expectations[i], cached.visibleCount == replica.visible.count {
                        expected = cached.value
                    } else {
                        expected = specification(replica.visible, id(i))
                        expectations[i] = (replica.visible.count, expected)
                    }
                    if replica.state.value != expected {
                        Issue.record(
                            """
                            seed \(seed), step \(step): replica \(id(i)) reads \(replica.state.value), \
                            specification says \(expected); visible: \(replica.visible.map { "\($0.dot) \($0.operation)" })
                            """, sourceLocation: sourceLocation)
                        return false
                    }
                }
            }
        }
        return true
    }

    private mutating func operate(
        at index: Int, generate: Generate, step: Int, sourceLocation: SourceLocation
    ) -> Bool {
        let replica = id(index)
        guard let operation = generate(&random, replicas[index].state, replica) else { return true }
        let before = replicas[index].state
        var after = before
        let delta: T
        do {
            delta = try after.apply(
                operation, context: UpdateContext(replica: replica, timeMicroseconds: timeMicroseconds))
        } catch {
            if after != before {
                Issue.record(
                    "seed \(seed), step \(step): \(operation) threw \(error) but changed the state",
                    sourceLocation: sourceLocation)
                return false
            }
            rejected += 1
            return true
        }
        // The delta law: the state joined with the delta equals the state after the operation.
        if before.joined(delta) != after {
            Issue.record(
                "seed \(seed), step \(step): delta law fails for \(operation): \(before) ⊔ \(delta) != \(after)",
                sourceLocation: sourceLocation)
            return false
        }
        let dot = replicas[index].clock.increment(replica)
        var observed = replicas[index].clock
        observed[replica] = dot.counter - 1
        let traced = TracedOperation(
            operation: operation, replica: replica, dot: dot, observed: observed, timeMicroseconds: timeMicroseconds)
        replicas[index].state = after
        replicas[index].deltas.append((traced, delta))
        replicas[index].visible.append(traced)
        states.append(after)
        allDeltas.append(delta)
        return true
    }

    /// Delivers to `index` what `source` has delivered and `index` lacks, in `source`'s
    /// (causal) order; `partial` stops after a random prefix, which is still causally closed.
    mutating func pull(into index: Int, from source: Int, partial: Bool) {
        var missing = replicas[source].deltas.filter { !replicas[index].clock.contains($0.operation.dot) }
        if partial && !missing.isEmpty {
            missing = Array(missing.prefix(Int.random(in: 0...missing.count, using: &random)))
        }
        for (operation, delta) in missing {
            replicas[index].state.join(delta)
            replicas[index].clock[operation.replica] = operation.dot.counter
            replicas[index].deltas.append((operation, delta))
            replicas[index].visible.append(operation)
        }
        if !missing.isEmpty { states.append(replicas[index].state) }
    }

    /// Delivers everything everywhere.
    mutating func synchronize() {
        for _ in 0..<2 {
            for i in replicas.indices {
                for j in replicas.indices where i != j { pull(into: i, from: j, partial: false) }
            }
        }
    }
}
