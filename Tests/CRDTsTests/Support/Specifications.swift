import CRDTs
import PropertyBased
import Testing

/// Helpers for sequential specifications of causal CRDTs.
enum Specification {
    /// For each key, the visible operations on it that no other visible operation on it (or
    /// reset) happened after: the operations an observed-remove CRDT keeps a dot for.
    ///
    /// `keys` names the keys an operation touches, or `nil` for a reset of every key. An
    /// operation on a key is overtaken exactly when the latest operation on that key (or
    /// reset) of some replica happened after it, since a replica's later operations have
    /// seen all that its earlier ones had. - Complexity: O(n · replicas) per key touched.
    static func latest<Operation>(
        _ visible: [TracedOperation<Operation>], keys: (Operation) -> [String]?
    ) -> [String: [TracedOperation<Operation>]] {
        // Plain arrays indexed by key number and replica number: this runs after every
        // step at every replica, and generic dictionaries are slow in debug builds.
        var keyNumbers: [String: Int] = [:]
        var names: [String] = []
        var lastOnKey: [[Int]] = []  // [key][replica] → index into visible, or -1
        var lastReset: [Int] = []
        func slot(_ replica: ReplicaID) -> Int { Int(replica.rawValue) }
        for index in visible.indices {
            let replica = slot(visible[index].replica)
            if let touched = keys(visible[index].operation) {
                for key in touched {
                    let number: Int
                    if let known = keyNumbers[key] {
                        number = known
                    } else {
                        number = names.count
                        keyNumbers[key] = number
                        names.append(key)
                        lastOnKey.append([])
                    }
                    while lastOnKey[number].count <= replica { lastOnKey[number].append(-1) }
                    lastOnKey[number][replica] = index
                }
            } else {
                while lastReset.count <= replica { lastReset.append(-1) }
                lastReset[replica] = index
            }
        }
        // Only a replica's latest operation on a key can be latest: its earlier ones
        // happened before it.
        let resets = lastReset.filter { $0 >= 0 }
        var result: [String: [TracedOperation<Operation>]] = [:]
        for number in names.indices {
            let candidates = lastOnKey[number].filter { $0 >= 0 }
            let overtakers = candidates + resets
            for candidate in candidates {
                let dot = visible[candidate].dot
                if !overtakers.contains(where: { visible[$0].observed.contains(dot) }) {
                    result[names[number], default: []].append(visible[candidate])
                }
            }
        }
        return result
    }
}

/// Generators of reachable states for property-based tests: the states and deltas of a
/// random causal trace (replicas at different points, partially synchronized).
enum StateGenerators {
    /// Three states (or deltas) drawn from one random causal trace of `steps` steps.
    static func triples<T: CRDT>(
        _ type: T.Type, steps: Int = 40,
        generate: @escaping @Sendable (inout SeededGenerator, T, ReplicaID) -> T.Operation?
    ) -> Generator<Triple<T>, Shrink.None<Triple<T>>> where T.Value: Equatable {
        Generator { random in
            let seed = random.next()
            var trace = CausalTrace<T>(seed: seed)
            trace.run(steps: steps, generate: generate, specification: nil)
            let pool = trace.states + trace.allDeltas + trace.replicas.map(\.state)
            var pick = SeededGenerator(seed: seed ^ 0x5EED)
            return Triple(
                seed: seed, a: pool.randomElement(using: &pick)!, b: pool.randomElement(using: &pick)!,
                c: pool.randomElement(using: &pick)!)
        }
    }

    /// Checks the join laws on one generated triple: commutative, associative, idempotent,
    /// and an upper bound of both sides.
    static func checkJoinLaws<T: CRDT>(_ triple: Triple<T>, sourceLocation: SourceLocation = #_sourceLocation) {
        let (a, b, c) = (triple.a, triple.b, triple.c)
        let seed = triple.seed
        #expect(a.joined(b) == b.joined(a), "trace seed \(seed): not commutative", sourceLocation: sourceLocation)
        #expect(
            a.joined(b).joined(c) == a.joined(b.joined(c)), "trace seed \(seed): not associative",
            sourceLocation: sourceLocation)
        #expect(a.joined(a) == a, "trace seed \(seed): not idempotent", sourceLocation: sourceLocation)
        #expect(
            a.joined(b).joined(a) == a.joined(b), "trace seed \(seed): not an upper bound",
            sourceLocation: sourceLocation)
        #expect(
            (try? T(serialized: a.joined(b).serialized())) == a.joined(b),
            "trace seed \(seed): codec round trip of a join fails", sourceLocation: sourceLocation)
    }
}

/// Three states from one trace, with the trace's seed.
struct Triple<T: CRDT>: Sendable, CustomStringConvertible {
    let seed: UInt64
    let a: T
    let b: T
    let c: T
    var description: String { "trace seed \(seed): \(a) | \(b) | \(c)" }
}

extension CausalTrace {
    /// A few states and deltas of the trace, for `Laws.checkDecoderHardening`.
    var hardeningSamples: [T] {
        Array(replicas.map(\.state).suffix(2)) + Array(allDeltas.suffix(2))
    }
}
