import CRDTs
import PropertyBased
import Testing

/// States built from generated scripts, for property-based tests of the lattice laws.
///
/// A script is a list of steps `(replica, action, amount)` run over three replicas (ids 1...3):
/// action 0 joins the next replica's state into `replica`; any other action becomes an
/// operation through the type's `operation` closure (nil skips the step). Operations a type
/// refuses (a bounded counter out of rights) leave the state unchanged, as the protocol says.
/// The result is the join of a generated subset of the replicas, so scripts reach states that
/// no single replica holds.
enum GeneratedStates {
    typealias Step = (replica: Int, action: Int, amount: Int)

    /// Scripts of up to `length` steps, with actions in `0...actions` and amounts in `amounts`.
    static func scripts(
        length: Int = 16, actions: Int = 4, amounts: ClosedRange<Int> = 0...20
    ) -> Generator<[(Int, Int, Int)], some SendableSequenceType> {
        zip(Gen.int(in: 0...2), Gen.int(in: 0...actions), Gen.int(in: amounts)).array(of: 0...length)
    }

    /// Runs `script` and returns the joined state of the replicas it selects.
    static func state<T: CRDT>(
        _ script: [(Int, Int, Int)], time: UInt64 = 1_000,
        operation: (_ action: Int, _ amount: Int, _ state: T, _ replica: ReplicaID) -> T.Operation?
    ) -> T {
        var replicas = [T(), T(), T()]
        var timeMicroseconds = time
        for (index, action, amount) in script {
            timeMicroseconds = timeMicroseconds &+ UInt64(amount % 7) &- 2
            if action == 0 {
                replicas[index].join(replicas[(index + 1) % 3])
                continue
            }
            let replica = ReplicaID(UInt64(index + 1))
            guard let op = operation(action, amount, replicas[index], replica) else { continue }
            do {
                _ = try replicas[index].apply(
                    op, context: UpdateContext(replica: replica, timeMicroseconds: timeMicroseconds))
            } catch {
                // A refused operation changes nothing; the trace tests check that it does not.
            }
        }
        // Which replicas to join: taken from the script so it shrinks with it.
        let mask = script.count % 7 + 1
        var result = T()
        for index in 0..<3 where mask & (1 << index) != 0 { result.join(replicas[index]) }
        return result
    }

    /// Join is commutative, associative and idempotent on `a`, `b`, `c`, and each state's
    /// encoding round-trips canonically.
    static func checkLaws<T: CRDT>(_ a: T, _ b: T, _ c: T, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.joined(b) == b.joined(a), "join not commutative: \(a), \(b)", sourceLocation: sourceLocation)
        #expect(
            a.joined(b).joined(c) == a.joined(b.joined(c)), "join not associative: \(a), \(b), \(c)",
            sourceLocation: sourceLocation)
        #expect(a.joined(a) == a, "join not idempotent: \(a)", sourceLocation: sourceLocation)
        #expect(
            a.joined(b).joined(a) == a.joined(b), "join is not an upper bound of \(a), \(b)",
            sourceLocation: sourceLocation)
        for state in [a, b, c] {
            #expect(
                (try? T(serialized: state.serialized())) == state, "codec round trip changed \(state)",
                sourceLocation: sourceLocation)
        }
    }
}
