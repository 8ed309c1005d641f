/// A counter with an observed reset (AntidoteDB's counter_fat).
///
/// A reset removes exactly the increments and decrements it observed; updates concurrent
/// with it survive. State, per replica `r`: the monotone totals `P[r]` (increments) and
/// `N[r]` (decrements), and reset baselines `PB[r] ≤ P[r]`, `NB[r] ≤ N[r]`, all joined by
/// pointwise maximum. The value is `Σ (P − PB) − Σ (N − NB)`; a reset's delta raises each
/// baseline to the total it observed.
///
/// This is exact where the classic "ccounter" design is not: there, a reset concurrent with
/// an increment at `r` brings back `r`'s whole observed value. Here `r`'s updates form one
/// chain, a reset observes a prefix of it, and the baseline subtracts exactly that prefix.
public struct ResettableCounter: ResettableCRDT, CustomStringConvertible {
    /// The operations of a resettable counter. A negative amount counts the other way:
    /// `.increment(-n)` is `.decrement(n)`, and `Int64.min` is accepted.
    public enum Operation: Sendable, Hashable {
        /// Adds the amount to the counter.
        case increment(Int64)
        /// Subtracts the amount from the counter.
        case decrement(Int64)
        /// Removes every update this replica has observed; concurrent updates survive.
        case reset
    }

    var counts: SignedObservedResetCounts

    /// `ResettableCounter` (no value type).
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.resettableCounter) }

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

    /// The sum of the increments minus the sum of the decrements that no observed reset
    /// removed. A local update never leaves `Int64`'s range; if concurrent updates merged
    /// at several replicas do, the value is clamped to `Int64.min` or `Int64.max`.
    /// - Complexity: O(n) in the number of replicas.
    public var value: Int64 { counts.value }

    /// Performs an operation at `context.replica` and returns its delta: for an update, that
    /// replica's new total; for a reset, the observed totals as baselines (only the replicas
    /// with something left to remove).
    ///
    /// - Throws: `CRDTError.overflow` when an update would take the value this state shows
    ///   out of `Int64`'s range (or a per-replica total past `UInt64.max`); the state is then
    ///   unchanged. A reset never throws.
    /// - Complexity: O(n) in the number of replicas.
    public mutating func apply(
        _ operation: Operation, context: UpdateContext
    ) throws(CRDTError) -> ResettableCounter {
        switch operation {
        case .increment(let amount):
            return ResettableCounter(counts: try counts.add(amount, at: context.replica))
        case .decrement(let amount):
            return ResettableCounter(counts: try counts.subtract(amount, at: context.replica))
        case .reset:
            let delta = counts.resetDelta()
            counts.join(delta)
            return ResettableCounter(counts: delta)
        }
    }

    /// Pointwise maximum of every total and baseline. - Complexity: O(n + m).
    public mutating func join(_ other: ResettableCounter) {
        counts.join(other.counts)
    }

    /// The delta of `.reset`: removes everything this state has observed. - Complexity: O(n).
    public func resetDelta(context: UpdateContext) -> ResettableCounter {
        ResettableCounter(counts: counts.resetDelta())
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

    /// `ResettableCounter(+increments −decrements)`.
    public var description: String { "ResettableCounter(\(counts.description))" }
}
