/// A disable-wins flag (AntidoteDB's `flag_dw`): a concurrent enable and disable read `false`.
///
/// The state is a dot function `dot → isEnable` with its causal context. `.enable` and
/// `.disable` each drop every dot they observed and add one fresh dot that records which of
/// the two they were; `.reset` only drops what it observed (a context-only delta). A dot
/// therefore survives exactly while no operation has observed it, so the surviving dots are
/// the latest operations, pairwise concurrent. The flag reads `true` if and only if at
/// least one surviving dot is an enable and none is a disable: a disable vetoes every
/// enable it did not observe (disable wins), and an enable that observed a disable
/// overrides it. The initial flag reads `false`, and so does a flag after `.reset`.
public struct DWFlag: ResettableCRDT, CustomStringConvertible {
    /// The operations of a disable-wins flag.
    public enum Operation: Sendable, Hashable {
        /// Sets the flag, overriding every enable and disable this replica has seen; a
        /// concurrent disable wins.
        case enable
        /// Clears the flag, overriding what this replica has seen and vetoing concurrent enables.
        case disable
        /// Removes everything this replica has seen (reads `false`); concurrent operations survive.
        case reset
    }

    /// The surviving operations (`true` for enable, `false` for disable) with the causal context.
    public private(set) var state: CausalDotStore<DotFunction<Bool>>

    /// The initial flag: disabled, nothing seen.
    public init() { state = CausalDotStore() }

    init(state: CausalDotStore<DotFunction<Bool>>) { self.state = state }

    /// `DWFlag`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.dwFlag) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// Whether an enable survives and no disable does. - Complexity: O(n) surviving dots.
    public var value: Bool {
        let flags = state.store.values
        return flags.contains(true) && !flags.contains(false)
    }

    /// Performs `operation` at `context.replica`; throws `.overflow` only when the
    /// replica's dots are exhausted (a state decoded from hostile input).
    /// - Complexity: O(n log n) in the number of surviving dots (at most one per replica).
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> DWFlag {
        let isEnable: Bool
        switch operation {
        case .enable: isEnable = true
        case .disable: isEnable = false
        case .reset:
            let delta = DWFlag(state: state.resetDelta)
            state.store.removeAll()
            return delta
        }
        try state.context.requireDots(1, for: context.replica)
        let dot = state.context.makeDot(for: context.replica)
        let store = DotFunction([dot: isEnable])
        let delta = DWFlag(
            state: CausalDotStore(store: store, context: CausalContext(dots: state.store.dots.union([dot]))))
        state.store = store
        return delta
    }

    /// The causal join. - Complexity: O(n + m) dots.
    public mutating func join(_ other: DWFlag) { state.join(other.state) }

    /// The context-only delta that removes every operation this state has seen.
    /// - Complexity: O(n log n) in the number of dots.
    public func resetDelta(context: UpdateContext) -> DWFlag { DWFlag(state: state.resetDelta) }

    /// Whether no operation survives (the flag reads `false`, and a reset changes nothing).
    /// - Complexity: O(1).
    public var isNeutral: Bool { state.store.isEmpty }

    /// `DWFlag(<value>: <state>)`.
    public var description: String { "DWFlag(\(value): \(state))" }

    /// Encodes the context and the dot function. - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }

    /// Decodes a flag.
    /// - Throws: `CodecError` on malformed input or a dot its context has not seen.
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) { state = try CausalDotStore(from: &reader) }
}
