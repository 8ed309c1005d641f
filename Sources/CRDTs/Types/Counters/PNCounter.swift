/// A counter that goes up and down (AntidoteDB's counter_pn).
///
/// State: per replica, the sum of its increments and the sum of its decrements (as
/// magnitudes), each joined by pointwise maximum; the value is their difference. Like
/// `GCounter`, it keeps reset baselines so that a map can remove it by an observed reset;
/// without resets they cost two bytes in the encoding.
public struct PNCounter: ResettableCRDT, CustomStringConvertible {
    /// The operations of a PN-counter. A negative amount counts the other way:
    /// `.increment(-n)` is `.decrement(n)`, and `Int64.min` is accepted.
    public enum Operation: Sendable, Hashable {
        /// Adds the amount to the counter.
        case increment(Int64)
        /// Subtracts the amount from the counter.
        case decrement(Int64)
    }

    var counts: SignedObservedResetCounts

    /// `PNCounter` (no value type).
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.pnCounter) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The counter at zero, with nothing observed.
    public init() {
        counts = SignedObservedResetCounts()
    }

    init(counts: SignedObservedResetCounts) {
        self.counts = counts
    }

    /// The sum of increments minus the sum of decrements not removed by an observed reset.
    /// A local update never leaves `Int64`'s range; if concurrent updates merged at several
    /// replicas do, the value is clamped to `Int64.min` or `Int64.max`.
    /// - Complexity: O(n) in the number of replicas.
    public var value: Int64 { counts.value }

    /// Performs an increment or decrement at `context.replica` and returns its delta: that
    /// replica's new increment or decrement total.
    ///
    /// - Throws: `CRDTError.overflow` when the value this state shows would leave `Int64`'s
    ///   range (or a per-replica total would pass `UInt64.max`); the state is then unchanged.
    /// - Complexity: O(n) in the number of replicas.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> PNCounter {
        switch operation {
        case .increment(let amount): PNCounter(counts: try counts.add(amount, at: context.replica))
        case .decrement(let amount): PNCounter(counts: try counts.subtract(amount, at: context.replica))
        }
    }

    /// Pointwise maximum of every per-replica total and baseline. - Complexity: O(n + m).
    public mutating func join(_ other: PNCounter) {
        counts.join(other.counts)
    }

    /// The delta that removes every increment and decrement this state has observed; updates
    /// it has not seen survive the join. - Complexity: O(n).
    public func resetDelta(context: UpdateContext) -> PNCounter {
        PNCounter(counts: counts.resetDelta())
    }

    /// Whether every update this state holds was removed by a reset. - Complexity: O(n).
    public var isNeutral: Bool { counts.isNeutral }

    /// Encodes increments (totals, baselines), then decrements (totals, baselines), each
    /// sorted by replica with zero entries omitted. - Complexity: O(n).
    public func encode(to writer: inout ByteWriter) {
        counts.encode(to: &writer)
    }

    /// Decodes a canonical encoding.
    /// - Throws: `CodecError` on truncated input, entries that are zero, repeated or out of
    ///   order, or a baseline above its total (`.inconsistent`).
    /// - Complexity: O(n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        counts = try SignedObservedResetCounts(from: &reader)
    }

    /// `PNCounter(+increments −decrements)`.
    public var description: String { "PNCounter(\(counts.description))" }
}
