/// One side of a counter with observed reset: per replica, a monotone count and a reset
/// baseline, both joined by pointwise maximum.
///
/// The live amount is `Σ (count[r] − baseline[r])`. A reset raises every baseline to the count
/// it observed, so it removes exactly the increments it saw: a concurrent increment at `r`
/// raises `count[r]` past the baseline and survives. Unlike the classic "ccounter" that
/// re-adds a replica's whole observed value when a concurrent increment arrives, this is exact
/// because a replica's increments form one chain and a reset observes a prefix of it.
///
/// Invariant: `baseline[r] ≤ count[r]` for every replica; joins keep it (the pointwise maximum
/// of pairs that satisfy it satisfies it) and the decoder enforces it.
struct ObservedResetCounts: Hashable, Sendable {
    /// Per replica, the sum of the amounts it added (zero entries omitted).
    private(set) var counts = VectorClock()
    /// Per replica, how much of `counts` resets have removed (zero entries omitted).
    private(set) var baselines = VectorClock()

    init() {}

    /// Whether nothing has been added since the last observed reset.
    var isNeutral: Bool { counts == baselines }

    /// Whether there are neither counts nor baselines (the bottom state).
    var isEmpty: Bool { counts.isEmpty && baselines.isEmpty }

    /// `Σ (count − baseline)`, exact: 128 bits cannot overflow for fewer than 2^64 replicas.
    /// - Complexity: O(n) in the number of replicas.
    var liveTotal: UInt128 {
        var total: UInt128 = 0
        for entry in counts.entries {
            // The invariant makes the subtraction safe; `&-` keeps a broken invariant from trapping.
            total &+= UInt128(entry.counter &- baselines[entry.replica])
        }
        return total
    }

    /// The count of `replica`.
    func count(of replica: ReplicaID) -> UInt64 { counts[replica] }

    /// Adds `amount` at `replica` and returns the delta (just the new count of `replica`).
    /// Returns nil (and changes nothing) when the count would overflow `UInt64`.
    mutating func add(_ amount: UInt64, at replica: ReplicaID) -> ObservedResetCounts? {
        let (sum, overflow) = counts[replica].addingReportingOverflow(amount)
        if overflow { return nil }
        var delta = ObservedResetCounts()
        guard amount > 0 else { return delta }
        counts[replica] = sum
        delta.counts[replica] = sum
        return delta
    }

    /// The delta that raises every baseline to its observed count: only the replicas where
    /// something is live, with their counts, so the delta itself satisfies the invariant.
    func resetDelta() -> ObservedResetCounts {
        var delta = ObservedResetCounts()
        for entry in counts.entries where baselines[entry.replica] < entry.counter {
            delta.counts[entry.replica] = entry.counter
            delta.baselines[entry.replica] = entry.counter
        }
        return delta
    }

    /// Pointwise maximum of counts and of baselines.
    mutating func join(_ other: ObservedResetCounts) {
        counts.merge(other.counts)
        baselines.merge(other.baselines)
    }

    /// Counts, then baselines, each as a vector clock (sorted, no zero entries). With no
    /// reset, the baselines cost one byte.
    func encode(to writer: inout ByteWriter) {
        counts.encode(to: &writer)
        baselines.encode(to: &writer)
    }

    /// Decodes counts and baselines; a baseline above its count is inconsistent.
    init(from reader: inout ByteReader) throws(CodecError) {
        let counts = try VectorClock(from: &reader)
        let baselines = try VectorClock(from: &reader)
        for entry in baselines.entries where entry.counter > counts[entry.replica] {
            throw reader.error(
                .inconsistent,
                "reset baseline \(entry.counter) of \(entry.replica) is above its count \(counts[entry.replica])")
        }
        self.counts = counts
        self.baselines = baselines
    }

    /// `counts − baselines`, for descriptions.
    var description: String { baselines.isEmpty ? "\(counts)" : "\(counts) − \(baselines)" }
}

/// Both sides of a counter with observed reset: increments and decrements, each an
/// `ObservedResetCounts`. `PNCounter` and `ResettableCounter` share it.
struct SignedObservedResetCounts: Hashable, Sendable {
    private(set) var increments = ObservedResetCounts()
    private(set) var decrements = ObservedResetCounts()

    init() {}

    /// The exact value: live increments minus live decrements.
    var exactValue: Int128 { Int128(clamping: increments.liveTotal) - Int128(clamping: decrements.liveTotal) }

    /// The value, clamped into `Int64` (only merges of concurrent updates can leave its range:
    /// a local update that would is refused).
    var value: Int64 { Int64(clamping: exactValue) }

    var isNeutral: Bool { increments.isNeutral && decrements.isNeutral }

    /// Adds `amount` (negative: subtracts its magnitude) at `replica` and returns the delta.
    /// Throws `.overflow` when the value would leave `Int64`'s range or a count would pass
    /// `UInt64.max`; nothing changes then.
    mutating func add(_ amount: Int64, at replica: ReplicaID) throws(CRDTError) -> SignedObservedResetCounts {
        try record(amount.magnitude, increasing: amount >= 0, at: replica)
    }

    /// Subtracts `amount` (negative: adds its magnitude). `Int64.min` needs no negation: its
    /// magnitude is a `UInt64`.
    mutating func subtract(_ amount: Int64, at replica: ReplicaID) throws(CRDTError) -> SignedObservedResetCounts {
        try record(amount.magnitude, increasing: amount < 0, at: replica)
    }

    private mutating func record(
        _ magnitude: UInt64, increasing: Bool, at replica: ReplicaID
    ) throws(CRDTError) -> SignedObservedResetCounts {
        let updated = increasing ? exactValue + Int128(magnitude) : exactValue - Int128(magnitude)
        guard updated >= Int128(Int64.min), updated <= Int128(Int64.max) else {
            throw CRDTError(
                .overflow,
                "\(increasing ? "adding" : "subtracting") \(magnitude) to \(exactValue) leaves Int64's range; nothing was changed"
            )
        }
        var delta = SignedObservedResetCounts()
        var side = increasing ? increments : decrements
        guard let sideDelta = side.add(magnitude, at: replica) else {
            throw CRDTError(.overflow, "a count of \(replica) passes UInt64.max; nothing was changed")
        }
        if increasing {
            increments = side
            delta.increments = sideDelta
        } else {
            decrements = side
            delta.decrements = sideDelta
        }
        return delta
    }

    func resetDelta() -> SignedObservedResetCounts {
        var delta = SignedObservedResetCounts()
        delta.increments = increments.resetDelta()
        delta.decrements = decrements.resetDelta()
        return delta
    }

    mutating func join(_ other: SignedObservedResetCounts) {
        increments.join(other.increments)
        decrements.join(other.decrements)
    }

    func joined(_ other: SignedObservedResetCounts) -> SignedObservedResetCounts {
        var copy = self
        copy.join(other)
        return copy
    }

    /// Increments (counts, baselines), then decrements (counts, baselines).
    func encode(to writer: inout ByteWriter) {
        increments.encode(to: &writer)
        decrements.encode(to: &writer)
    }

    init(from reader: inout ByteReader) throws(CodecError) {
        increments = try ObservedResetCounts(from: &reader)
        decrements = try ObservedResetCounts(from: &reader)
    }

    var description: String { "+\(increments.description) −\(decrements.description)" }
}
