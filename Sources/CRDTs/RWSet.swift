/// A remove-wins set (AntidoteDB's `set_rw`): a concurrent add and remove of one element
/// leave it absent.
///
/// The state (after `rworset` in Baquero's delta-enabled-crdts) is a dot map
/// `element → DotFunction<Bool>` with its causal context, where a dot records whether its
/// operation was an add (`true`) or a remove (`false`). An add or remove of an element
/// drops every dot of the element it observed and binds one fresh dot with its flag; a
/// reset drops every dot it observed (a context-only delta). The surviving dots of an
/// element are its latest operations, pairwise concurrent; the element is present if and
/// only if at least one of them is an add and none is a remove.
///
/// Remove dots are metadata that outlive the element: `compact(stable:)` drops them once
/// stability makes them irrelevant.
public struct RWSet<E: CRDTValue>: ResettableCRDT, CustomStringConvertible {
    /// The operations of a remove-wins set.
    public enum Operation: Sendable, Hashable {
        /// Adds one element; a concurrent remove wins.
        case add(E)
        /// Adds every element of the array (one fresh dot per distinct element).
        case addAll([E])
        /// Removes the element, vetoing concurrent adds of it.
        case remove(E)
        /// Removes every element of the array (one fresh dot per distinct element).
        case removeAll([E])
        /// Removes every add and remove this replica has seen; concurrent operations survive.
        case reset
    }

    /// The elements' operations (`true` for add) with the causal context.
    public private(set) var state: CausalDotStore<DotMap<E, DotFunction<Bool>>>

    /// The stable clock this state has compacted with (see `compact(stable:)`). Deltas carry
    /// it, so a replica compacts before it joins what a compacted replica produced.
    public private(set) var compacted: VectorClock

    /// The empty set.
    public init() {
        state = CausalDotStore()
        compacted = VectorClock()
    }

    init(state: CausalDotStore<DotMap<E, DotFunction<Bool>>>, compacted: VectorClock) {
        self.state = state
        self.compacted = compacted
    }

    /// `RWSet<E.valueTag>`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.rwSet, valueTag: E.valueTag) }

    /// The elements with a surviving add and no surviving remove. - Complexity: O(n) dots.
    public var value: Set<E> {
        Set(state.store.entries.compactMap { Self.isPresent($0.value) ? $0.key : nil })
    }

    /// Whether `element` is present. - Complexity: O(k) for the element's k surviving dots.
    public func contains(_ element: E) -> Bool { Self.isPresent(state.store[element]) }

    private static func isPresent(_ operations: DotFunction<Bool>) -> Bool {
        let flags = operations.values
        return flags.contains(true) && !flags.contains(false)
    }

    /// Performs `operation` at `context.replica`; throws `.overflow` only when the
    /// replica's dots are exhausted (a state decoded from hostile input).
    /// - Complexity: O(k log k) for k elements touched, O(n log n) for a reset.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> RWSet {
        switch operation {
        case .add(let element): return try record([element], isAdd: true, at: context.replica)
        case .addAll(let elements): return try record(elements, isAdd: true, at: context.replica)
        case .remove(let element): return try record([element], isAdd: false, at: context.replica)
        case .removeAll(let elements): return try record(elements, isAdd: false, at: context.replica)
        case .reset:
            let delta = RWSet(state: state.resetDelta, compacted: compacted)
            state.store.removeAll()
            return delta
        }
    }

    private mutating func record(_ elements: [E], isAdd: Bool, at replica: ReplicaID) throws(CRDTError) -> RWSet {
        try state.context.requireDots(elements.count, for: replica)
        var deltaStore = DotMap<E, DotFunction<Bool>>()
        var deltaDots = Set<Dot>()
        for element in elements where deltaStore[element].isEmpty {
            deltaDots.formUnion(state.store[element].dots)
            let dot = state.context.makeDot(for: replica)
            deltaDots.insert(dot)
            deltaStore[element] = DotFunction([dot: isAdd])
            state.store[element] = DotFunction([dot: isAdd])
        }
        var delta = RWSet(
            state: CausalDotStore(store: deltaStore, context: CausalContext(dots: deltaDots)), compacted: compacted)
        if !compacted.isEmpty {
            // Only a state whose frontier covers dots its own replica never made (corrupt or
            // hostile input) can make a compactable entry here. Keep both in join's normal
            // form, so that `before ⊔ delta == after` and both encode.
            dropCompactable()
            delta.dropCompactable()
        }
        return delta
    }

    /// The causal join. Each side is first compacted with the later of the two stable
    /// clocks, so an element a compacted replica dropped is dropped here too before the
    /// newer operations of the compacted replica arrive.
    /// - Complexity: O(n + m) dots.
    public mutating func join(_ other: RWSet) {
        var other = other
        let frontier = compacted.merging(other.compacted)
        if frontier != compacted {
            compacted = frontier
            dropCompactable()
        }
        if frontier != other.compacted {
            other.compacted = frontier
            other.dropCompactable()
        }
        state.join(other.state)
        if !compacted.isEmpty { dropCompactable() }
    }

    /// Drops the remove-wins metadata that stability made irrelevant; the value never changes.
    ///
    /// `stable` is a clock in *this object's* dots such that every replica has seen every
    /// dot it covers, and every operation concurrent with a covered dot has been delivered
    /// to every replica (so it is covered itself). An element whose surviving dots are all
    /// covered by `stable` and include a remove is absent, and every later operation on it
    /// happens after all of them: its entries are dropped (the context keeps the dots).
    /// Entries with one uncovered dot stay, because an operation concurrent with that dot
    /// may still arrive (a reset concurrent with a surviving add must leave the add).
    ///
    /// The clock is kept in `compacted` and carried by every later delta, so a replica
    /// compacts before it joins what this one produces next.
    /// - Complexity: O(n) dots.
    public mutating func compact(stable: VectorClock) {
        let frontier = compacted.merging(stable)
        guard frontier != compacted else { return }
        compacted = frontier
        dropCompactable()
    }

    /// Compacts with this state's own context as the stable clock (see
    /// `CRDT.compactObserved()` for when that is sound).
    public mutating func compactObserved() {
        compact(stable: state.context.vector)
    }

    private func isCompactable(_ operations: DotFunction<Bool>) -> Bool {
        operations.values.contains(false) && operations.dots.allSatisfy(compacted.contains)
    }

    private mutating func dropCompactable() {
        for (element, operations) in state.store.entries where isCompactable(operations) {
            state.store.removeValue(forKey: element)
        }
    }

    /// The context-only delta that removes every add and remove this state has seen.
    /// - Complexity: O(n log n).
    public func resetDelta(context: UpdateContext) -> RWSet { RWSet(state: state.resetDelta, compacted: compacted) }

    /// Whether no element is present. Surviving remove markers do not count: compaction
    /// drops them at stability, and a map must show the same fields before and after.
    /// - Complexity: O(n) elements.
    public var isNeutral: Bool { !state.store.entries.values.contains(where: Self.isPresent) }

    /// `RWSet(<state>, compacted <clock>)`.
    public var description: String { "RWSet(\(state), compacted \(compacted))" }

    /// Encodes the compaction clock, the context and the dot map in canonical order.
    /// - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) {
        compacted.encode(to: &writer)
        state.encode(to: &writer)
    }

    /// Decodes a set.
    /// - Throws: `CodecError` on malformed input, elements out of canonical order or
    ///   repeated, an element without dots, a dot under two elements, a dot its context has
    ///   not seen, or an element that compaction would have dropped.
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        compacted = try VectorClock(from: &reader)
        state = try CausalDotStore(from: &reader)
        for (element, operations) in state.store.entries where isCompactable(operations) {
            throw reader.error(.inconsistent, "element \(element) should have been compacted with \(compacted)")
        }
    }
}
