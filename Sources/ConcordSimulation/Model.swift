import Concord

/// One acknowledged operation, with what its replica had seen when it committed.
struct AcknowledgedOperation: Sendable {
    let object: ObjectName
    let operation: ModelOperation
    /// The transaction's dot: (replica, its sequence number there).
    let dot: Dot
    /// The commit's clock (the replica's clock after the transaction).
    let clock: VectorClock
    /// Position within the transaction (operations of one transaction are sequential).
    let position: Int

    /// Whether `self` happened before `other`: `other`'s replica had seen `self`'s
    /// transaction when it committed, or both are in one transaction and `self` came first.
    func happened(before other: AcknowledgedOperation) -> Bool {
        if dot == other.dot { return position < other.position }
        return other.clock.contains(dot)
    }
}

/// A sequential specification of every type: given every acknowledged operation, what a
/// replica that has seen them all must read. Concurrency is decided from the commits'
/// vector clocks, never from the engine's internal state, so the model is independent of
/// the implementation it checks (it catches lost updates as well as divergence).
struct Model {
    private(set) var operations: [ObjectName: [AcknowledgedOperation]] = [:]
    /// Commit clocks by transaction dot: the causal-closure check uses them.
    private(set) var commits: [Dot: VectorClock] = [:]
    private(set) var count = 0

    /// Forgets the transaction at `dot`: a power loss took it before any peer had it.
    mutating func forget(_ dot: Dot) {
        guard commits.removeValue(forKey: dot) != nil else { return }
        for object in Array(operations.keys) {
            let before = operations[object]?.count ?? 0
            operations[object]?.removeAll { $0.dot == dot }
            count -= before - (operations[object]?.count ?? 0)
        }
    }

    mutating func record(_ operations: [(ObjectName, ModelOperation)], dot: Dot, clock: VectorClock) {
        commits[dot] = clock
        for (position, (object, operation)) in operations.enumerated() {
            self.operations[object, default: []].append(
                AcknowledgedOperation(object: object, operation: operation, dot: dot, clock: clock, position: position))
            count += 1
        }
    }

    /// Operations of `candidates` that no operation of `observers` happened after.
    private func survivors(
        _ candidates: [AcknowledgedOperation], observedBy observers: [AcknowledgedOperation]
    ) -> [AcknowledgedOperation] {
        candidates.filter { candidate in !observers.contains { candidate.happened(before: $0) } }
    }

    /// What `predicate` says about `value`: the model's verdict for one object.
    enum Expectation: CustomStringConvertible {
        case exactly(ObservedValue)
        /// LWW: one of these (the causally maximal assignments), or nil when none.
        case oneOf(Set<String>)

        func admits(_ value: ObservedValue) -> Bool {
            switch self {
            case .exactly(let expected): return expected == value
            case .oneOf(let candidates):
                if case .register(let observed) = value {
                    return observed.map { candidates.contains($0) } ?? candidates.isEmpty
                }
                return false
            }
        }

        var description: String {
            switch self {
            case .exactly(let value): "\(value)"
            case .oneOf(let candidates): "one of \(candidates.sorted())"
            }
        }
    }

    /// What a replica that has seen every acknowledged operation — or, given `clock`,
    /// exactly those of the transactions `clock` holds — must read.
    func expectation(for object: ObjectName, at clock: VectorClock? = nil) -> Expectation {
        let all = (operations[object] ?? []).filter { clock?.contains($0.dot) ?? true }
        switch object.kind {
        case .gCounter, .pnCounter, .boundedCounter:
            return .exactly(.integer(all.reduce(0) { $0 &+ Self.amount($1.operation) }))
        case .resettableCounter:
            let resets = all.filter { $0.operation == .reset }
            let live = survivors(all.filter { $0.operation != .reset }, observedBy: resets)
            return .exactly(.integer(live.reduce(0) { $0 &+ Self.amount($1.operation) }))
        case .lwwRegister:
            let maximal = survivors(all, observedBy: all)
            return .oneOf(Set(maximal.compactMap { if case .assignString(let s) = $0.operation { s } else { nil } }))
        case .mvRegister:
            let live = survivors(all.filter { $0.operation != .reset }, observedBy: all)
            return .exactly(
                .strings(
                    Set(
                        live.compactMap {
                            if case .assignInteger(let n) = $0.operation { "\(n)" } else { nil }
                        })))
        case .ewFlag:
            let live = survivors(all.filter { $0.operation == .enable }, observedBy: all)
            return .exactly(.flag(!live.isEmpty))
        case .dwFlag:
            let live = survivors(all.filter { $0.operation != .reset }, observedBy: all)
            return .exactly(
                .flag(live.contains { $0.operation == .enable } && !live.contains { $0.operation == .disable }))
        case .gSet:
            return .exactly(.strings(Set(all.compactMap { if case .add(let e) = $0.operation { e } else { nil } })))
        case .awSet, .rwSet:
            return .exactly(.strings(setValue(all, removeWins: object.kind == .rwSet)))
        case .gMap:
            let total = all.reduce(Int64(0)) { $0 &+ Self.amount($1.operation) }
            return .exactly(.map(counter: all.isEmpty ? nil : total, set: nil))
        case .rrMap:
            return .exactly(mapValue(all))
        }
    }

    private func setValue(_ all: [AcknowledgedOperation], removeWins: Bool) -> Set<String> {
        let resets = all.filter { $0.operation == .reset }
        var byElement: [String: [AcknowledgedOperation]] = [:]
        for operation in all {
            switch operation.operation {
            case .add(let e), .remove(let e): byElement[e, default: []].append(operation)
            default: break
            }
        }
        var present = Set<String>()
        for (element, operations) in byElement {
            let live = survivors(operations, observedBy: operations + resets)
            let adds = live.contains { if case .add = $0.operation { true } else { false } }
            let removes = live.contains { if case .remove = $0.operation { true } else { false } }
            // Add-wins: a surviving add keeps it. Remove-wins: a surviving remove vetoes it.
            if adds && !(removeWins && removes) { present.insert(element) }
        }
        return present
    }

    private func mapValue(_ all: [AcknowledgedOperation]) -> ObservedValue {
        let resets = all.filter { $0.operation == .reset }
        let counterRemoves = all.filter { $0.operation == .removeCounterField } + resets
        let setRemoves = all.filter { $0.operation == .removeSetField } + resets
        let increments = survivors(
            all.filter { if case .incrementField = $0.operation { true } else { false } }, observedBy: counterRemoves)
        let counter: Int64? = increments.isEmpty ? nil : increments.reduce(0) { $0 &+ Self.amount($1.operation) }
        var byElement: [String: [AcknowledgedOperation]] = [:]
        for operation in all {
            switch operation.operation {
            case .addToField(let e), .removeFromField(let e): byElement[e, default: []].append(operation)
            default: break
            }
        }
        var present = Set<String>()
        for (element, operations) in byElement {
            let live = survivors(operations, observedBy: operations + setRemoves)
            if live.contains(where: { if case .addToField = $0.operation { true } else { false } }) {
                present.insert(element)
            }
        }
        return .map(counter: counter, set: present.isEmpty ? nil : present)
    }

    private static func amount(_ operation: ModelOperation) -> Int64 {
        switch operation {
        case .increment(let n), .incrementField(let n): n
        case .decrement(let n): -n
        default: 0
        }
    }
}
