/// A grow-only counter (AntidoteDB's counter_pn restricted to increments).
///
/// State: per replica, the sum of the increments made there, joined by pointwise maximum;
/// the value is their sum. To let a map remove it (an observed reset), it also keeps per
/// replica a reset baseline: the value is `Σ (count − baseline)`, and a reset raises each
/// baseline to the count it observed, so increments concurrent with the reset survive.
/// Without resets the baselines are empty and cost one byte in the encoding.
public struct GCounter: ResettableCRDT, CustomStringConvertible {
    /// The operations of a grow-only counter.
    public enum Operation: Sendable, Hashable {
        /// Adds the amount to the counter.
        case increment(UInt64)
    }

    var counts: ObservedResetCounts

    /// `GCounter` (no value type).
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.gCounter) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The counter at zero, with nothing observed.
    public init() {
        counts = ObservedResetCounts()
    }

    /// The sum of all increments not removed by an observed reset. If concurrent increments
    /// at several replicas add up past `UInt64.max`, the value saturates there (a single
    /// replica refuses an increment that would overflow what it sees).
    /// - Complexity: O(n) in the number of replicas.
    public var value: UInt64 { UInt64(clamping: counts.liveTotal) }

    /// Performs an increment at `context.replica` and returns its delta: that replica's new count.
    ///
    /// - Throws: `CRDTError.overflow` when the value this state shows, or the replica's count,
    ///   would pass `UInt64.max`; the state is then unchanged.
    /// - Complexity: O(n) in the number of replicas.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> GCounter {
        switch operation {
        case .increment(let amount):
            guard counts.liveTotal + UInt128(amount) <= UInt128(UInt64.max) else {
                throw CRDTError(.overflow, "incrementing \(value) by \(amount) overflows UInt64; nothing was changed")
            }
            var updated = counts
            guard let delta = updated.add(amount, at: context.replica) else {
                throw CRDTError(.overflow, "the count of \(context.replica) overflows UInt64; nothing was changed")
            }
            counts = updated
            return GCounter(counts: delta)
        }
    }

    init(counts: ObservedResetCounts) {
        self.counts = counts
    }

    /// Pointwise maximum of counts and baselines. - Complexity: O(n + m).
    public mutating func join(_ other: GCounter) {
        counts.join(other.counts)
    }

    /// The delta that removes every increment this state has observed; increments it has not
    /// seen survive the join. - Complexity: O(n).
    public func resetDelta(context: UpdateContext) -> GCounter {
        GCounter(counts: counts.resetDelta())
    }

    /// Whether every increment this state holds was removed by a reset (the value is 0 and
    /// stays 0 until a new increment). - Complexity: O(n).
    public var isNeutral: Bool { counts.isNeutral }

    /// Encodes the counts, then the baselines, each sorted by replica with zero entries omitted.
    /// - Complexity: O(n).
    public func encode(to writer: inout ByteWriter) {
        counts.encode(to: &writer)
    }

    /// Decodes a canonical encoding.
    /// - Throws: `CodecError` on truncated input, entries that are zero, repeated or out of
    ///   order, or a baseline above its count (`.inconsistent`).
    /// - Complexity: O(n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        counts = try ObservedResetCounts(from: &reader)
    }

    /// `GCounter(counts − baselines)`.
    public var description: String { "GCounter(\(counts.description))" }
}
