/// An add-wins set (AntidoteDB's `set_aw`, an observed-remove set): a concurrent add and
/// remove of one element leave it present.
///
/// The state is a dot map `element → DotSet` with its causal context. An add binds the
/// element to a fresh dot and drops the element's dots it observed; a remove drops the
/// element's dots it observed (a context-only delta); a reset drops every dot it observed.
/// An element is present while one of its dots survives, so an add that a remove did not
/// observe survives it.
public struct AWSet<E: CRDTValue>: ResettableCRDT, CustomStringConvertible {
    /// The operations of an add-wins set.
    public enum Operation: Sendable, Hashable {
        /// Adds one element.
        case add(E)
        /// Adds every element of the array (one fresh dot per distinct element).
        case addAll([E])
        /// Removes the element as far as this replica has seen it; a concurrent add wins.
        case remove(E)
        /// Removes every element of the array as far as this replica has seen it.
        case removeAll([E])
        /// Removes every element this replica has seen.
        case reset
    }

    /// The elements' dots with the causal context.
    public private(set) var state: CausalDotStore<DotMap<E, DotSet>>

    /// The empty set.
    public init() { state = CausalDotStore() }

    init(state: CausalDotStore<DotMap<E, DotSet>>) { self.state = state }

    /// `AWSet<E.valueTag>`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.awSet, valueTag: E.valueTag) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The elements with a surviving dot. - Complexity: O(n).
    public var value: Set<E> { Set(state.store.keys) }

    /// Whether `element` is present. - Complexity: O(1).
    public func contains(_ element: E) -> Bool { !state.store[element].isEmpty }

    /// Performs `operation` at `context.replica`; throws `.overflow` only when the
    /// replica's dots are exhausted (a state decoded from hostile input).
    /// - Complexity: O(k log k) for k elements touched, O(n log n) for a reset.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> AWSet {
        switch operation {
        case .add(let element): return try add([element], at: context.replica)
        case .addAll(let elements): return try add(elements, at: context.replica)
        case .remove(let element): return remove([element])
        case .removeAll(let elements): return remove(elements)
        case .reset:
            let delta = AWSet(state: state.resetDelta)
            state.store.removeAll()
            return delta
        }
    }

    private mutating func add(_ elements: [E], at replica: ReplicaID) throws(CRDTError) -> AWSet {
        try state.context.requireDots(elements.count, for: replica)
        var deltaStore = DotMap<E, DotSet>()
        var deltaDots = Set<Dot>()
        for element in elements where deltaStore[element].isEmpty {
            deltaDots.formUnion(state.store[element].dots)
            let dot = state.context.makeDot(for: replica)
            deltaDots.insert(dot)
            deltaStore[element] = DotSet([dot])
            state.store[element] = DotSet([dot])
        }
        return AWSet(state: CausalDotStore(store: deltaStore, context: CausalContext(dots: deltaDots)))
    }

    private mutating func remove(_ elements: [E]) -> AWSet {
        var observed = Set<Dot>()
        for element in elements { observed.formUnion(state.store.removeValue(forKey: element).dots) }
        return AWSet(state: .removing(observed))
    }

    /// The causal join. - Complexity: O(n + m) dots.
    public mutating func join(_ other: AWSet) { state.join(other.state) }

    /// The context-only delta that removes every element this state has seen.
    /// - Complexity: O(n log n).
    public func resetDelta(context: UpdateContext) -> AWSet { AWSet(state: state.resetDelta) }

    /// Whether the set is empty. - Complexity: O(1).
    public var isNeutral: Bool { state.store.isEmpty }

    /// `AWSet(<state>)`.
    public var description: String { "AWSet(\(state))" }

    /// Encodes the context and the dot map in canonical order. - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }

    /// Decodes a set.
    /// - Throws: `CodecError` on malformed input, elements out of canonical order or
    ///   repeated, an element without dots, a dot under two elements, or a dot its context
    ///   has not seen.
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) { state = try CausalDotStore(from: &reader) }
}
