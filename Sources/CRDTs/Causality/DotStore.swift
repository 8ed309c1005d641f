/// A dot store: the part of a causal CRDT's state that holds dots (Almeida, Shoker and
/// Baquero, "Delta State Replicated Data Types", JPDC 2018).
///
/// A dot store is always read together with a `CausalContext` that covers every dot in it.
/// A dot that the context has seen but the store does not hold was removed: this is how
/// causal CRDTs remove without tombstones.
///
/// Conforming types: `DotSet`, `DotFunction`, `DotMap`.
public protocol DotStore: Hashable, Sendable, BinaryCodable {
    /// The empty store.
    init()

    /// Whether the store holds no dot. - Complexity: O(1).
    var isEmpty: Bool { get }

    /// Every dot in the store. - Complexity: O(n) in the number of dots.
    var dots: Set<Dot> { get }

    /// The causal join `(left, leftContext) ⊔ (right, rightContext)`, store part: a dot
    /// survives if both stores hold it, or if the side that lacks it has not seen it
    /// (`survives(_:inOther:otherContext:)`). The joined context is the union of the two.
    ///
    /// - Complexity: O(n + m) dots, times O(log k) context lookups.
    static func join(_ left: Self, _ leftContext: CausalContext, _ right: Self, _ rightContext: CausalContext) -> Self
}

extension DotStore {
    /// The causal join rule for one dot of one side: it survives if the other side holds it
    /// too, or if the other side has never seen it (so the other side did not remove it).
    ///
    /// Every dot store's join decides through this function, so the rule lives in one place.
    /// - Complexity: O(log n) in the other context's size.
    @inlinable
    public static func survives(_ dot: Dot, inOther: Bool, otherContext: CausalContext) -> Bool {
        inOther || !otherContext.contains(dot)
    }
}

extension CausalContext {
    /// A context that has seen exactly `dots`, compacted.
    /// - Complexity: O(n log n) in the number of dots.
    public init(dots: some Sequence<Dot>) {
        var context = CausalContext()
        for dot in dots.sorted() { context.insert(dot) }
        self = context
    }
}
