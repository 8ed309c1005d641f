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
/// Remove dots are metadata that outlive the element: `compact(stable:)` drops an element
/// whose surviving dots are all stable and include a remove. A replica that compacted no
/// longer knows those dots, so its later operations cannot list them in their deltas;
/// instead each delta carries, for every element it touches, a *supersession clock*: every
/// dot of that element at or below the clock that the delta does not hold was overwritten
/// or compacted away where the operation ran. The join treats it as part of the delta's
/// context for that element only, so an uncompacted replica drops the stale remove dots the
/// operation superseded. Compaction itself never runs inside a join on the strength of a
/// peer's clock: a state drops elements only at a frontier it has been told is stable (by
/// `compact(stable:)`) or one it inherits from a state that was.
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

    /// The stable frontier this state has compacted at (see `compact(stable:)`): the state
    /// holds every operation at or below it, and no element whose dots are all at or below
    /// it includes a remove. Deltas leave it empty; a join takes the later of the two.
    public private(set) var compacted: VectorClock

    /// Per element, a clock below which every dot of the element that this state does not
    /// hold has been superseded (see the type's documentation). Only the entries beyond
    /// `compacted` are kept; elements need not be present.
    public private(set) var superseded: [E: VectorClock]

    /// The empty set.
    public init() {
        state = CausalDotStore()
        compacted = VectorClock()
        superseded = [:]
    }

    init(
        state: CausalDotStore<DotMap<E, DotFunction<Bool>>>, compacted: VectorClock = VectorClock(),
        superseded: [E: VectorClock] = [:]
    ) {
        self.state = state
        self.compacted = compacted
        self.superseded = superseded
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
            let delta = RWSet(state: state.resetDelta)
            state.store.removeAll()
            return delta
        }
    }

    private mutating func record(_ elements: [E], isAdd: Bool, at replica: ReplicaID) throws(CRDTError) -> RWSet {
        try state.context.requireDots(elements.count, for: replica)
        // A replica's own next dot is beyond anything it has seen, so no honest supersession
        // clock covers it; one that does comes from corrupt or hostile input, and the join
        // would drop the new dot. Refuse, changing nothing, rather than break the delta law.
        let next = state.context.nextDot(for: replica)
        for element in elements where supersession(of: element).contains(next) {
            throw CRDTError(
                .invalidArgument,
                "the state claims dots of \(replica) up to \(supersession(of: element)[replica]) superseded for "
                    + "\(element), beyond what it has seen (\(next.counter - 1)); it is damaged, and nothing was changed"
            )
        }
        var deltaStore = DotMap<E, DotFunction<Bool>>()
        var deltaDots = Set<Dot>()
        var deltaSuperseded: [E: VectorClock] = [:]
        for element in elements where deltaStore[element].isEmpty {
            deltaDots.formUnion(state.store[element].dots)
            let claim = supersession(of: element)
            if !claim.isEmpty { deltaSuperseded[element] = claim }
            let dot = state.context.makeDot(for: replica)
            deltaDots.insert(dot)
            deltaStore[element] = DotFunction([dot: isAdd])
            state.store[element] = DotFunction([dot: isAdd])
        }
        // Only a state whose frontier covers dots its own replica never made (corrupt or
        // hostile input) can make a compactable entry here; drop it as the join would, so
        // that `before ⊔ delta == after`.
        if !compacted.isEmpty { dropCompactable() }
        return RWSet(
            state: CausalDotStore(store: deltaStore, context: CausalContext(dots: deltaDots)),
            superseded: deltaSuperseded)
    }

    /// Every dot of `element` at or below this clock that the state does not hold has been
    /// superseded: the compaction frontier joined with the element's own clock.
    private func supersession(of element: E) -> VectorClock {
        guard let own = superseded[element] else { return compacted }
        return own.merging(compacted)
    }

    /// The causal join, element by element, where each side's context for an element also
    /// covers the element's supersession clock. The compaction frontier and the supersession
    /// clocks join pointwise; then elements the frontier makes compactable are dropped.
    /// - Complexity: O(n + m) dots, plus O(k) clocks for the k elements with one.
    public mutating func join(_ other: RWSet) {
        var store = DotMap<E, DotFunction<Bool>>()
        for (element, mine) in state.store.entries {
            store[element] = Self.join(
                mine, state.context, supersession(of: element),
                other.state.store[element], other.state.context, other.supersession(of: element))
        }
        for (element, theirs) in other.state.store.entries where state.store.entries[element] == nil {
            store[element] = Self.join(
                DotFunction(), state.context, supersession(of: element),
                theirs, other.state.context, other.supersession(of: element))
        }
        state = CausalDotStore(store: store, context: state.context.merging(other.state.context))
        for (element, clock) in other.superseded { superseded[element, default: VectorClock()].merge(clock) }
        compacted.merge(other.compacted)
        normalize()
    }

    /// The causal join of one element's dots, each side's context extended by its claim.
    private static func join(
        _ left: DotFunction<Bool>, _ leftContext: CausalContext, _ leftClaim: VectorClock,
        _ right: DotFunction<Bool>, _ rightContext: CausalContext, _ rightClaim: VectorClock
    ) -> DotFunction<Bool> {
        var result: [Dot: Bool] = [:]
        for (dot, flag) in left.entries
        where right[dot] != nil || !(rightContext.contains(dot) || rightClaim.contains(dot)) {
            result[dot] = flag
        }
        for (dot, flag) in right.entries
        where result[dot] == nil && (left[dot] != nil || !(leftContext.contains(dot) || leftClaim.contains(dot))) {
            result[dot] = flag
        }
        return DotFunction(result)
    }

    /// Drops the remove-wins metadata that stability made irrelevant; the value never changes.
    ///
    /// The caller promises that this state holds every operation whose dot `stable` covers,
    /// and that every operation anywhere that is not covered happens after all that are (so
    /// none can still arrive concurrent with them). `stable` is a clock in *this object's*
    /// dots. An element whose surviving dots are all covered and include a remove is absent,
    /// and every later operation on it happens after all of them: its entries are dropped
    /// (the context keeps the dots). Entries with one uncovered dot stay.
    ///
    /// The engine calls this through `compactObserved()` only when every member has
    /// acknowledged exactly this replica's clock. Later deltas carry supersession clocks, so
    /// a replica that has not compacted drops what they supersede.
    /// - Complexity: O(n) dots.
    public mutating func compact(stable: VectorClock) {
        let frontier = compacted.merging(stable)
        guard frontier != compacted else { return }
        compacted = frontier
        normalize()
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

    /// The canonical form: no compactable element, and supersession clocks keep only the
    /// entries beyond the compaction frontier (the rest say nothing more).
    private mutating func normalize() {
        guard !compacted.isEmpty else { return }
        dropCompactable()
        for (element, clock) in superseded {
            let beyond = Self.beyond(clock, compacted)
            if beyond != clock { superseded[element] = beyond.isEmpty ? nil : beyond }
        }
    }

    /// The entries of `clock` that exceed `frontier`.
    private static func beyond(_ clock: VectorClock, _ frontier: VectorClock) -> VectorClock {
        var result = clock
        for entry in clock.entries where entry.counter <= frontier[entry.replica] { result[entry.replica] = 0 }
        return result
    }

    /// The context-only delta that removes every add and remove this state has seen.
    /// - Complexity: O(n log n).
    public func resetDelta(context: UpdateContext) -> RWSet { RWSet(state: state.resetDelta) }

    /// Whether no element is present. Surviving remove markers do not count: compaction
    /// drops them at stability, and a map must show the same fields before and after.
    /// - Complexity: O(n) elements.
    public var isNeutral: Bool { !state.store.entries.values.contains(where: Self.isPresent) }

    /// `RWSet(<state>, compacted <clock>, superseded <clocks>)`.
    public var description: String {
        let claims = E.canonicallySorted(superseded.keys).map { "\($0): \(superseded[$0]!)" }
        return "RWSet(\(state), compacted \(compacted)"
            + (claims.isEmpty ? ")" : ", superseded [\(claims.joined(separator: ", "))])")
    }

    /// Encodes the compaction clock, the context and the dot map, then the supersession
    /// clocks, all in canonical order.
    /// - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) {
        compacted.encode(to: &writer)
        state.encode(to: &writer)
        writer.writeCount(superseded.count)
        for element in E.canonicallySorted(superseded.keys) {
            element.encode(to: &writer)
            superseded[element]!.encode(to: &writer)
        }
    }

    /// Decodes a set.
    /// - Throws: `CodecError` on malformed input, elements out of canonical order or
    ///   repeated, an element without dots, a dot under two elements, a dot its context has
    ///   not seen, an element that compaction would have dropped, or a supersession clock
    ///   that is empty or says nothing beyond the compaction frontier.
    /// - Complexity: O(n log n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        compacted = try VectorClock(from: &reader)
        state = try CausalDotStore(from: &reader)
        let count = try reader.readCount(minimumElementSize: 2)
        var superseded: [E: VectorClock] = [:]
        superseded.reserveCapacity(count)
        var previous: [UInt8]?
        for _ in 0..<count {
            let element = try reader.nested { (nested: inout ByteReader) throws(CodecError) in try E(from: &nested) }
            let bytes = element.encodedBytes()
            if let previous, !previous.lexicographicallyPrecedes(bytes) {
                throw reader.error(.inconsistent, "supersession clocks out of order or repeated at \(element)")
            }
            let clock = try VectorClock(from: &reader)
            if clock.isEmpty || Self.beyond(clock, compacted) != clock {
                throw reader.error(
                    .inconsistent, "supersession clock \(clock) of \(element) is not beyond the frontier \(compacted)")
            }
            superseded[element] = clock
            previous = bytes
        }
        self.superseded = superseded
        for (element, operations) in state.store.entries where isCompactable(operations) {
            throw reader.error(.inconsistent, "element \(element) should have been compacted with \(compacted)")
        }
    }
}
