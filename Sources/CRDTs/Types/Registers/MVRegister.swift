/// A multi-value register (AntidoteDB's `register_mv`): keeps every concurrent assignment.
///
/// The state is a dot function `dot → value` with its causal context. `.assign(v)` drops
/// every dot it observed and binds a fresh dot to `v`, so it overwrites only the values it
/// saw; `.reset` drops what it observed (a context-only delta). The surviving dots are the
/// latest assignments, pairwise concurrent; the register reads their distinct values.
public struct MVRegister<V: CRDTValue>: ResettableCRDT, CustomStringConvertible {
    /// The operations of a multi-value register.
    public enum Operation: Sendable, Hashable {
        /// Replaces every value this replica has seen with `V`.
        case assign(V)
        /// Removes every value this replica has seen; concurrent assignments survive.
        case reset
    }

    /// The surviving assignments with the causal context.
    public private(set) var state: CausalDotStore<DotFunction<V>>

    /// The empty register (reads `[]`).
    public init() { state = CausalDotStore() }

    init(state: CausalDotStore<DotFunction<V>>) { self.state = state }

    /// `MVRegister<V.valueTag>`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.mvRegister, valueTag: V.valueTag) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The distinct values of the surviving assignments in reading order: natural order
    /// when `V` is `Comparable` (lexicographic for `[UInt8]`), canonical order otherwise
    /// (see `CRDTValue.sortedForReading(_:)`). Concurrent assignments of one value read once.
    /// - Complexity: O(n log n) in the number of surviving assignments.
    public var value: [V] { V.sortedForReading(Set(state.store.values)) }

    /// The distinct values of the surviving assignments in canonical (encoded-bytes) order,
    /// defined for every value type. - Complexity: O(n log n).
    public var values: [V] { V.canonicallySorted(Set(state.store.values)) }

    /// Performs `operation` at `context.replica`; throws `.overflow` only when the
    /// replica's dots are exhausted (a state decoded from hostile input).
    /// - Complexity: O(n log n) in the number of surviving assignments.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> MVRegister {
        switch operation {
        case .assign(let value):
            try state.context.requireDots(1, for: context.replica)
            let dot = state.context.makeDot(for: context.replica)
            let store = DotFunction([dot: value])
            let delta = MVRegister(
                state: CausalDotStore(
                    store: store, context: CausalContext(dots: state.store.dots.union([dot]))))
            state.store = store
            return delta
        case .reset:
            let delta = MVRegister(state: state.resetDelta)
            state.store.removeAll()
            return delta
        }
    }

    /// The causal join. - Complexity: O(n + m) dots.
    public mutating func join(_ other: MVRegister) { state.join(other.state) }

    /// The context-only delta that removes every assignment this state has seen.
    /// - Complexity: O(n log n).
    public func resetDelta(context: UpdateContext) -> MVRegister { MVRegister(state: state.resetDelta) }

    /// Whether no assignment survives (the register reads `[]`). - Complexity: O(1).
    public var isNeutral: Bool { state.store.isEmpty }

    /// `MVRegister(<values>: <state>)`.
    public var description: String { "MVRegister(\(values): \(state))" }

    /// Encodes the context and the dot function. - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }

    /// Decodes a register.
    /// - Throws: `CodecError` on malformed input or a dot its context has not seen.
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) { state = try CausalDotStore(from: &reader) }
}
