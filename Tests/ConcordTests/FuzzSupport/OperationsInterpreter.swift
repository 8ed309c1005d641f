import CRDTs

/// The interpreter behind the `operations` fuzz target: the bytes drive operations at three
/// replicas of every built-in CRDT type, whole-state joins, and delta deliveries in any
/// order with duplicates; the laws are checked after every step and at the end.
///
/// A program is a sequence of steps; each step reads a type (an index into
/// `fuzzableTypes`), then an action byte and its arguments (see `Lab.step`). Per type:
/// - after an operation: `before ⊔ delta == after` (the delta law), and a refused
///   operation leaves the state unchanged;
/// - at the end: join is commutative, associative and idempotent over the replicas and
///   the latest deltas; every state and delta survives its encoding; delivering every
///   outstanding delta makes the replicas equal, byte for byte, and equal to the join of
///   all deltas; joining whole states in two orders agrees.
public enum OperationsInterpreter {
    /// The number of replicas per type.
    public static let replicaCount = 3
    /// Steps per program at the most (a limit on the work one input can ask for).
    public static let maximumSteps = 1_000

    /// Runs the program in `bytes` and returns the first law it breaks, or `nil`.
    public static func run(_ bytes: [UInt8]) -> FuzzViolation? {
        var input = FuzzInput(bytes)
        var labs: [(any LabProtocol)?] = Array(repeating: nil, count: fuzzableTypes.count)
        var steps = 0
        while !input.isAtEnd, steps < maximumSteps {
            steps += 1
            let index = input.below(fuzzableTypes.count)
            if labs[index] == nil { labs[index] = fuzzableTypes[index].makeLab() }
            if let violation = labs[index]!.step(&input) { return violation }
        }
        for lab in labs {
            if let violation = lab?.finish() { return violation }
        }
        return nil
    }
}

/// One type's replicas, with the type erased.
protocol LabProtocol {
    mutating func step(_ input: inout FuzzInput) -> FuzzViolation?
    func finish() -> FuzzViolation?
}

/// Three replicas of one type, the deltas not yet delivered to each, and every delta made.
struct Lab<T: FuzzableCRDT>: LabProtocol {
    /// How many deltas a lab keeps at the most; past it, the end-of-program checks that
    /// need every delta are skipped (whole-state convergence is still checked).
    static var maximumDeltas: Int { 2_048 }

    var replicas = [T](repeating: T(), count: OperationsInterpreter.replicaCount)
    var inboxes = [[T]](repeating: [], count: OperationsInterpreter.replicaCount)
    var deltas: [T] = []
    var isLogComplete = true
    var times = [UInt64](repeating: 0, count: OperationsInterpreter.replicaCount)

    func violation(_ what: String) -> FuzzViolation { FuzzViolation("\(T.typeCode): \(what)") }

    mutating func step(_ input: inout FuzzInput) -> FuzzViolation? {
        let replica = input.below(replicas.count)
        switch input.below(8) {
        case 0, 1, 2:
            return operate(at: replica, &input)
        case 3:
            // A whole-state join (state-based anti-entropy).
            let source = input.below(replicas.count)
            let before = replicas[replica]
            replicas[replica].join(replicas[source])
            if replicas[replica].joined(before) != replicas[replica] {
                return violation("joining r\(source + 1) into r\(replica + 1) lost part of \(before)")
            }
        case 4:
            // Deliver some of the outstanding deltas in a shuffled order, duplicating some.
            var inbox = inboxes[replica]
            input.shuffle(&inbox)
            let count = inbox.isEmpty ? 0 : input.below(inbox.count + 1)
            var kept: [T] = []
            for (position, delta) in inbox.enumerated() {
                if position < count {
                    replicas[replica].join(delta)
                    if input.below(4) == 0 { kept.append(delta) }
                } else {
                    kept.append(delta)
                }
            }
            inboxes[replica] = kept
        case 5:
            // Re-deliver an old delta (a duplicate, possibly long after its successors).
            if !deltas.isEmpty {
                let delta = deltas[input.below(min(deltas.count, 256)) % deltas.count]
                let before = replicas[replica]
                replicas[replica].join(delta)
                if replicas[replica].joined(before) != replicas[replica] {
                    return violation("re-delivering \(delta) to r\(replica + 1) lost part of \(before)")
                }
            }
        case 6:
            // A read and a codec round trip of one replica.
            return checkCodec(replicas[replica], "replica r\(replica + 1)")
        default:
            // Reset through `resetDelta`, as a map's remove does.
            guard let resettable = replicas[replica] as? any ResettableCRDT else { return nil }
            let context = UpdateContext(replica: ReplicaID(UInt64(replica + 1)), timeMicroseconds: times[replica])
            guard let delta = resettable.resetDelta(context: context) as? T else {
                return violation("resetDelta returned another type")
            }
            let before = replicas[replica]
            replicas[replica].join(delta)
            if before.joined(delta) != replicas[replica] {
                return violation("joining a reset delta is not deterministic")
            }
            record(delta, from: replica)
        }
        return nil
    }

    mutating func operate(at replica: Int, _ input: inout FuzzInput) -> FuzzViolation? {
        // Time mostly moves forward, sometimes jumps back or to the edge of the clock.
        switch input.below(8) {
        case 0: times[replica] = input.unsigned()
        case 1: times[replica] = times[replica] / 2
        default: times[replica] &+= UInt64(input.below(4))
        }
        let context = UpdateContext(replica: ReplicaID(UInt64(replica + 1)), timeMicroseconds: times[replica])
        let operation = T.fuzzedOperation(&input, depth: 0)
        let before = replicas[replica]
        do {
            let delta = try replicas[replica].apply(operation, context: context)
            let expected = before.joined(delta)
            if expected != replicas[replica] {
                return violation(
                    "delta law broken by \(operation) at r\(replica + 1): state \(before) ⊔ delta \(delta) = \(expected), but the operation left \(replicas[replica])"
                )
            }
            record(delta, from: replica)
        } catch {
            if replicas[replica] != before {
                return violation(
                    "\(operation) at r\(replica + 1) threw \(error) but changed \(before) into \(replicas[replica])")
            }
        }
        return nil
    }

    mutating func record(_ delta: T, from replica: Int) {
        guard deltas.count < Self.maximumDeltas else {
            isLogComplete = false
            return
        }
        deltas.append(delta)
        for other in replicas.indices where other != replica { inboxes[other].append(delta) }
    }

    func checkCodec(_ state: T, _ what: String) -> FuzzViolation? {
        _ = state.value
        let bytes = state.serialized()
        do {
            let decoded = try T(serialized: bytes)
            if decoded != state { return violation("\(what) \(state) decodes to \(decoded)") }
            if decoded.serialized() != bytes {
                return violation("\(what) \(state) does not re-encode to the same bytes")
            }
        } catch {
            return violation("\(what) \(state) does not decode: \(error)")
        }
        return nil
    }

    func finish() -> FuzzViolation? {
        // The join laws, over the replicas and the latest deltas.
        let pool = replicas + deltas.suffix(6)
        for (i, a) in pool.enumerated() {
            if a.joined(a) != a { return violation("join is not idempotent for \(a)") }
            if a.joined(T()) != a || T().joined(a) != a {
                return violation("the initial state is not neutral for \(a)")
            }
            for b in pool[i...] where a.joined(b) != b.joined(a) {
                return violation("join is not commutative for \(a) and \(b)")
            }
            let b = pool[(i + 1) % pool.count], c = pool[(i + 2) % pool.count]
            if a.joined(b).joined(c) != a.joined(b.joined(c)) {
                return violation("join is not associative for \(a), \(b), \(c)")
            }
            if let violation = checkCodec(a, i < replicas.count ? "replica r\(i + 1)" : "delta") { return violation }
        }
        // Whole-state exchange in two orders.
        let forward = replicas.reduce(T()) { $0.joined($1) }
        let backward = replicas.reversed().reduce(T()) { $0.joined($1) }
        if forward != backward {
            return violation("joining the replicas in two orders gives \(forward) and \(backward)")
        }
        guard isLogComplete else { return nil }
        // Delta-based convergence: after every outstanding delta is delivered, the replicas
        // are equal (as values and as bytes) and equal to the join of all deltas.
        var delivered = replicas
        for index in delivered.indices {
            for delta in inboxes[index] { delivered[index].join(delta) }
        }
        let everything = deltas.reduce(T()) { $0.joined($1) }
        let bytes = everything.serialized()
        for (index, state) in delivered.enumerated() {
            if state != everything {
                return violation(
                    "r\(index + 1) reached \(state) after every delta, but all deltas join to \(everything)")
            }
            if state.serialized() != bytes {
                return violation("r\(index + 1) converged to \(state) but encodes it differently from \(everything)")
            }
        }
        if forward != everything { return violation("the replicas join to \(forward), the deltas to \(everything)") }
        return nil
    }
}
