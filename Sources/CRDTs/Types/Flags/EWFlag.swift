/// An enable-wins flag (AntidoteDB's `flag_ew`): a concurrent enable and disable read `true`.
///
/// The state is a dot set with its causal context. `.enable` adds a fresh dot and drops the
/// dots it observed; `.disable` and `.reset` drop the dots they observed (a context-only
/// delta). The flag reads `true` while any enable dot survives, so an enable that a disable
/// did not observe survives it.
public struct EWFlag: ResettableCRDT, CustomStringConvertible {
    /// The operations of an enable-wins flag.
    public enum Operation: Sendable, Hashable {
        /// Sets the flag, overriding every enable and disable this replica has seen.
        case enable
        /// Clears the flag as far as this replica has seen; a concurrent enable wins.
        case disable
        /// Removes everything this replica has seen (reads `false`, like `.disable`).
        case reset
    }

    /// The enable dots with the causal context.
    public private(set) var state: CausalDotStore<DotSet>

    /// The initial flag: disabled, nothing seen.
    public init() { state = CausalDotStore() }

    init(state: CausalDotStore<DotSet>) { self.state = state }

    /// `EWFlag`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.ewFlag) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// Whether an enable survives. - Complexity: O(1).
    public var value: Bool { !state.store.isEmpty }

    /// Performs `operation` at `context.replica`; throws `.overflow` only when the
    /// replica's dots are exhausted (a state decoded from hostile input).
    /// - Complexity: O(n log n) in the number of surviving dots (at most one per replica).
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> EWFlag {
        switch operation {
        case .enable:
            try state.context.requireDots(1, for: context.replica)
            let dot = state.context.makeDot(for: context.replica)
            let delta = EWFlag(
                state: CausalDotStore(
                    store: DotSet([dot]), context: CausalContext(dots: state.store.dots.union([dot]))))
            state.store = DotSet([dot])
            return delta
        case .disable, .reset:
            let delta = EWFlag(state: state.resetDelta)
            state.store.removeAll()
            return delta
        }
    }

    /// The causal join. - Complexity: O(n + m) dots.
    public mutating func join(_ other: EWFlag) { state.join(other.state) }

    /// The context-only delta that removes every enable this state has seen.
    /// - Complexity: O(n log n) in the number of dots.
    public func resetDelta(context: UpdateContext) -> EWFlag { EWFlag(state: state.resetDelta) }

    /// Whether no enable survives (the flag reads `false`). - Complexity: O(1).
    public var isNeutral: Bool { state.store.isEmpty }

    /// `EWFlag(<value>: <state>)`.
    public var description: String { "EWFlag(\(value): \(state))" }

    /// Encodes the context and the dot set. - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }

    /// Decodes a flag.
    /// - Throws: `CodecError` on malformed input or a dot its context has not seen.
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) { state = try CausalDotStore(from: &reader) }
}
