/// A dot store with its causal context: the whole state of a causal CRDT (`EWFlag`,
/// `DWFlag`, `MVRegister`, `AWSet`, `RWSet`, maps of CRDTs).
///
/// Invariant: the context covers every dot of the store. The join is the causal join of
/// the stores (`DotStore.join`) with the union of the contexts.
public struct CausalDotStore<Store: DotStore>: Hashable, Sendable, CustomStringConvertible, BinaryCodable {
    /// The dots that carry the value.
    public var store: Store
    /// Every dot this state has seen, kept or removed.
    public var context: CausalContext

    /// The empty state (bottom).
    public init() {
        store = Store()
        context = CausalContext()
    }

    /// A state with `store` and `context`; the context must cover every dot of the store.
    public init(store: Store, context: CausalContext) {
        assert(store.dots.allSatisfy(context.contains), "a dot store holds a dot its context has not seen")
        self.store = store
        self.context = context
    }

    /// Joins `other` into this state: the causal join of the stores, the union of the contexts.
    /// - Complexity: O(n + m) dots, times O(log k) context lookups.
    public mutating func join(_ other: CausalDotStore) {
        store = Store.join(store, context, other.store, other.context)
        context.merge(other.context)
    }

    /// The delta that removes every dot of `observed` and nothing else (a context-only delta:
    /// an observed remove).
    /// - Complexity: O(n log n) in the number of dots.
    public static func removing(_ observed: some Sequence<Dot>) -> CausalDotStore {
        CausalDotStore(store: Store(), context: CausalContext(dots: observed))
    }

    /// The delta that removes every dot this state holds: an observed reset.
    /// - Complexity: O(n log n) in the number of dots.
    public var resetDelta: CausalDotStore { .removing(store.dots) }

    /// `store @ context`.
    public var description: String { "\(store) @ \(context)" }

    /// Encodes the context, then the store.
    /// - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) {
        context.encode(to: &writer)
        store.encode(to: &writer)
    }

    /// Decodes a context and a store (one nesting level deeper).
    /// - Throws: `CodecError` when either is malformed, or when the store holds a dot the
    ///   context has not seen (`.inconsistent`).
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        let context = try CausalContext(from: &reader)
        let store = try reader.nested { (nested: inout ByteReader) throws(CodecError) in try Store(from: &nested) }
        // The least such dot, so the words of the error do not depend on a set's order.
        if let dot = store.dots.lazy.filter({ !context.contains($0) }).min() {
            throw reader.error(.inconsistent, "the store holds \(dot), which its context \(context) has not seen")
        }
        self.store = store
        self.context = context
    }
}
