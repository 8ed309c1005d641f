/// Intervals that arrived before their causal dependencies, in arrival order, waiting until
/// the replica's clock covers their `from`.
///
/// Bounded: past `bound` new intervals are dropped (the sender resends them after its
/// retransmit timeout), so a flood of early intervals cannot grow memory without limit.
struct CausalBuffer {
    enum Outcome: Equatable {
        case buffered
        /// An equal interval already waits.
        case alreadyWaiting
        /// The buffer is full; the interval was dropped.
        case full
    }

    /// An interval and the peer (and its incarnation) it came from.
    struct Waiting: Equatable {
        var interval: DeltaInterval
        var sender: ReplicaID
        var incarnation: UInt64
    }

    let bound: Int
    private(set) var waiting: [Waiting] = []

    /// The waiting intervals, in arrival order.
    var intervals: [DeltaInterval] { waiting.map(\.interval) }

    init(bound: Int) {
        precondition(bound >= 1, "a causal buffer holds at least one interval")
        self.bound = bound
    }

    var count: Int { waiting.count }

    /// Holds `interval`, which `sender` sent in its incarnation `incarnation`.
    mutating func hold(_ interval: DeltaInterval, from sender: ReplicaID = 0, incarnation: UInt64 = 0) -> Outcome {
        if waiting.count >= bound { return .full }
        if waiting.contains(where: { $0.interval == interval }) { return .alreadyWaiting }
        waiting.append(Waiting(interval: interval, sender: sender, incarnation: incarnation))
        return .buffered
    }

    /// Removes and returns the first interval whose dependencies `clock` covers.
    mutating func takeReady(at clock: VectorClock) -> DeltaInterval? {
        guard let position = waiting.firstIndex(where: { clock.dominates($0.interval.from) }) else { return nil }
        return waiting.remove(at: position).interval
    }

    /// Drops every interval `clock` already covers.
    mutating func discard(coveredBy clock: VectorClock) {
        waiting.removeAll { clock.dominates($0.interval.to) }
    }

    /// Drops what `sender` sent before its incarnation `incarnation`: a power loss may have
    /// taken those transactions from it, and its new incarnation may reuse their dots (what
    /// it still has, it sends again).
    mutating func discard(from sender: ReplicaID, before incarnation: UInt64) {
        waiting.removeAll { $0.sender == sender && $0.incarnation < incarnation }
    }
}
