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

    let bound: Int
    private(set) var intervals: [DeltaInterval] = []

    init(bound: Int) {
        precondition(bound >= 1, "a causal buffer holds at least one interval")
        self.bound = bound
    }

    var count: Int { intervals.count }

    mutating func hold(_ interval: DeltaInterval) -> Outcome {
        if intervals.count >= bound { return .full }
        if intervals.contains(interval) { return .alreadyWaiting }
        intervals.append(interval)
        return .buffered
    }

    /// Removes and returns the first interval whose dependencies `clock` covers.
    mutating func takeReady(at clock: VectorClock) -> DeltaInterval? {
        guard let position = intervals.firstIndex(where: { clock.dominates($0.from) }) else { return nil }
        return intervals.remove(at: position)
    }

    /// Drops every interval `clock` already covers.
    mutating func discard(coveredBy clock: VectorClock) {
        intervals.removeAll { clock.dominates($0.to) }
    }
}
