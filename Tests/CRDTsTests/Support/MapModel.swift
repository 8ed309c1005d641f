import CRDTs
import Testing

/// What a map reads, as plain values: the form the sequential specification of map traces
/// computes, and the form a map's `MapValue` is converted to for the comparison.
indirect enum ModelValue: Equatable, CustomStringConvertible {
    case counter(Int64)
    case register(String)
    case set(Set<String>)
    case map([FieldKey: ModelValue])

    var description: String {
        switch self {
        case .counter(let value): "\(value)"
        case .register(let value): "\"\(value)\""
        case .set(let value): "\(value.sorted())"
        case .map(let fields): "{" + fields.keys.sorted().map { "\($0) = \(fields[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    /// The model of a map's value; a field of a type the model does not know is a failure.
    static func of(_ value: MapValue) -> [FieldKey: ModelValue] {
        var model: [FieldKey: ModelValue] = [:]
        for key in value.fields {
            let name = key.name
            switch key.type {
            case PNCounter.typeCode: model[key] = value[name, as: PNCounter.self].map { .counter($0) }
            case ResettableCounter.typeCode: model[key] = value[name, as: ResettableCounter.self].map { .counter($0) }
            case BoundedCounter.typeCode: model[key] = value[name, as: BoundedCounter.self].map { .counter($0) }
            case GCounter.typeCode: model[key] = value[name, as: GCounter.self].map { .counter(Int64($0)) }
            case LWWRegister<String>.typeCode:
                model[key] = value[name, as: LWWRegister<String>.self].map {
                    $0.map { .register($0) } ?? .register("<nil>")
                }
            case RRMap.typeCode: model[key] = value[name, as: RRMap.self].map { .map(of($0)) }
            case GMap.typeCode: model[key] = value[name, as: GMap.self].map { .map(of($0)) }
            case AWSet<String>.typeCode: model[key] = value[name, as: AWSet<String>.self].map { .set($0) }
            default: Issue.record("the map model does not know \(key)")
            }
        }
        return model
    }
}

/// One effect of a traced map operation on one leaf field (a field that is not a map).
enum LeafEvent: CustomStringConvertible {
    /// A counter increment (positive) or decrement (negative).
    case count(Int64)
    case assign(String)
    case add(String)
    case remove(String)
    /// An observed remove of everything under the path: a map remove or reset, or the nested
    /// type's own reset.
    case removal

    var description: String {
        switch self {
        case .count(let amount): "count(\(amount))"
        case .assign(let value): "assign(\(value))"
        case .add(let element): "add(\(element))"
        case .remove(let element): "remove(\(element))"
        case .removal: "removal"
        }
    }
}

/// The sequential specification of a map, composed from the per-type rules: each traced map
/// operation becomes events on leaf paths; a removal covers every leaf under its path and
/// acts as the leaf type's reset, observing exactly the events that happened before it.
///
/// - counters: the sum of the amounts no covering removal observed; shown when any is left;
/// - `LWWRegister<String>`: the hybrid-clock winner among the assignments, hidden when a
///   covering removal observed an assignment at least as late (the register clears at the
///   latest timestamp it observed);
/// - `AWSet<String>`: add wins: an element is in when some add of it was observed by no
///   remove of it and no covering removal; shown when not empty;
/// - a nested map: shown when any field is.
final class MapSpecification {
    typealias Flatten = (_ operation: Any) -> [(path: [FieldKey], event: LeafEvent)]

    struct Stamp: Comparable {
        var physical: UInt64
        var logical: UInt64
        var replica: ReplicaID
        static func < (lhs: Stamp, rhs: Stamp) -> Bool {
            (lhs.physical, lhs.logical, lhs.replica) < (rhs.physical, rhs.logical, rhs.replica)
        }
    }

    /// Leaf paths by number, so the hot loops hash integers rather than paths.
    private var paths: [[FieldKey]] = []
    private var pathNumbers: [[FieldKey]: Int] = [:]
    /// Whether the removal path (first) covers the leaf path (second).
    private var covers: [Int: [Int: Bool]] = [:]
    private var events: [Dot: [(path: Int, event: TracedOperation<LeafEvent>)]] = [:]
    private var stamps: [Dot: Stamp] = [:]
    /// Whether the map shows neutral fields (a `GMap` does: it cannot remove a field, so a
    /// set emptied by its own removes, or a counter reset to zero, is still there).
    private let showsNeutralFields: Bool

    init(showsNeutralFields: Bool = false) {
        self.showsNeutralFields = showsNeutralFields
    }

    private func number(of path: [FieldKey]) -> Int {
        if let known = pathNumbers[path] { return known }
        paths.append(path)
        pathNumbers[path] = paths.count - 1
        return paths.count - 1
    }

    private func covers(_ removal: Int, _ leaf: Int) -> Bool {
        if let known = covers[removal]?[leaf] { return known }
        let result = paths[leaf].starts(with: paths[removal])
        covers[removal, default: [:]][leaf] = result
        return result
    }

    /// The leaf events of one traced operation (memoized by its dot).
    private func events<Operation>(
        of traced: TracedOperation<Operation>, flatten: (Operation) -> [(path: [FieldKey], event: LeafEvent)]
    ) -> [(path: Int, event: TracedOperation<LeafEvent>)] {
        if let known = events[traced.dot] { return known }
        let result = flatten(traced.operation).map { path, event in
            (
                number(of: path),
                TracedOperation(
                    operation: event, replica: traced.replica, dot: traced.dot,
                    observed: traced.observed, timeMicroseconds: traced.timeMicroseconds)
            )
        }
        events[traced.dot] = result
        return result
    }

    /// Per replica, the last model computed and how many operations it covered: a replica's
    /// visible operations only grow, so an unchanged count means an unchanged model.
    private var lastModel: [ReplicaID: (count: Int, model: [FieldKey: ModelValue])] = [:]

    /// The model of what `replica`, having seen `visible` (in causal order), reads.
    func value<Operation>(
        _ visible: [TracedOperation<Operation>], at replica: ReplicaID,
        flatten: (Operation) -> [(path: [FieldKey], event: LeafEvent)]
    ) -> [FieldKey: ModelValue] {
        if let last = lastModel[replica], last.count == visible.count { return last.model }
        let model = value(visible, flatten: flatten)
        lastModel[replica] = (visible.count, model)
        return model
    }

    /// The model of what a replica that has seen `visible` (in causal order) reads.
    func value<Operation>(
        _ visible: [TracedOperation<Operation>], flatten: (Operation) -> [(path: [FieldKey], event: LeafEvent)]
    ) -> [FieldKey: ModelValue] {
        var byLeaf: [Int: [TracedOperation<LeafEvent>]] = [:]
        var removals: [(path: Int, event: TracedOperation<LeafEvent>)] = []
        var leafOrder: [Int] = []
        for traced in visible {
            for (path, event) in events(of: traced, flatten: flatten) {
                if case .removal = event.operation {
                    removals.append((path, event))
                } else {
                    if byLeaf[path] == nil { leafOrder.append(path) }
                    byLeaf[path, default: []].append(event)
                }
            }
        }
        var model: [FieldKey: ModelValue] = [:]
        for leaf in leafOrder {
            let covering = removals.filter { covers($0.path, leaf) }.map(\.event)
            let path = paths[leaf]
            if let value = leafValue(type: path.last!.type, updates: byLeaf[leaf]!, removals: covering) {
                Self.insert(value, at: path[...], into: &model)
            }
        }
        return model
    }

    private static func insert(
        _ value: ModelValue, at path: ArraySlice<FieldKey>, into model: inout [FieldKey: ModelValue]
    ) {
        let key = path.first!
        if path.count == 1 {
            model[key] = value
            return
        }
        var nested: [FieldKey: ModelValue] = [:]
        if case .map(let existing) = model[key] { nested = existing }
        insert(value, at: path.dropFirst(), into: &nested)
        model[key] = .map(nested)
    }

    /// A removal observed exactly the events that happened before it, so an event is removed
    /// by some removal in a list when the join of their observed clocks contains its dot.
    private static func observed(by removals: some Sequence<TracedOperation<LeafEvent>>) -> VectorClock {
        var clock = VectorClock()
        for removal in removals { clock.merge(removal.observed) }
        return clock
    }

    private func leafValue(
        type: CRDTTypeCode, updates: [TracedOperation<LeafEvent>], removals: [TracedOperation<LeafEvent>]
    ) -> ModelValue? {
        let removed = Self.observed(by: removals)
        switch type.kind {
        case .pnCounter, .resettableCounter, .boundedCounter, .gCounter:
            var total: Int64 = 0
            var live = false
            for update in updates where !removed.contains(update.dot) {
                if case .count(let amount) = update.operation {
                    total += amount
                    live = true
                }
            }
            return live || (showsNeutralFields && !updates.isEmpty) ? .counter(total) : nil
        case .lwwRegister:
            var best: (Stamp, String)?
            var cleared: Stamp?
            for update in updates {
                let stamp = stamp(of: update, among: updates)
                if case .assign(let value) = update.operation, best.map({ $0.0 < stamp }) ?? true {
                    best = (stamp, value)
                }
                if removed.contains(update.dot), cleared.map({ $0 < stamp }) ?? true { cleared = stamp }
            }
            guard let best else { return nil }
            guard cleared.map({ $0 < best.0 }) ?? true else { return showsNeutralFields ? .register("<nil>") : nil }
            return .register(best.1)
        case .awSet:
            var removes: [String: [TracedOperation<LeafEvent>]] = [:]
            for update in updates {
                if case .remove(let element) = update.operation { removes[element, default: []].append(update) }
            }
            let removedPerElement = removes.mapValues { Self.observed(by: $0) }
            var elements = Set<String>()
            for update in updates {
                guard case .add(let element) = update.operation, !removed.contains(update.dot) else { continue }
                if !(removedPerElement[element]?.contains(update.dot) ?? false) { elements.insert(element) }
            }
            let created = updates.contains { if case .add = $0.operation { true } else { false } }
            return elements.isEmpty && !(showsNeutralFields && created) ? nil : .set(elements)
        default:
            Issue.record("the map specification does not know \(type)")
            return nil
        }
    }

    /// The hybrid-clock timestamp of an assignment: after the latest assignment to the same
    /// field that happened before it.
    private func stamp(of traced: TracedOperation<LeafEvent>, among updates: [TracedOperation<LeafEvent>]) -> Stamp {
        if let known = stamps[traced.dot] { return known }
        var latest: Stamp?
        for earlier in updates where earlier.happened(before: traced) {
            let other = stamp(of: earlier, among: updates)
            if latest.map({ $0 < other }) ?? true { latest = other }
        }
        let result: Stamp
        if let latest, latest.physical >= traced.timeMicroseconds {
            result = Stamp(physical: latest.physical, logical: latest.logical + 1, replica: traced.replica)
        } else {
            result = Stamp(physical: traced.timeMicroseconds, logical: 0, replica: traced.replica)
        }
        stamps[traced.dot] = result
        return result
    }
}

/// A map whose value is its model, so `CausalTrace` can compare it with the specification.
/// Everything else is the wrapped map's.
struct Modelled<Map: CRDT>: CRDT, CustomStringConvertible where Map.Value == MapValue {
    var map = Map()

    static var typeCode: CRDTTypeCode { Map.typeCode }
    init() {}
    init(_ map: Map) { self.map = map }
    var value: [FieldKey: ModelValue] { ModelValue.of(map.value) }
    mutating func apply(_ operation: Map.Operation, context: UpdateContext) throws(CRDTError) -> Modelled {
        Modelled(try map.apply(operation, context: context))
    }
    mutating func join(_ other: Modelled) { map.join(other.map) }
    mutating func compact(stable: VectorClock) { map.compact(stable: stable) }
    func encode(to writer: inout ByteWriter) { map.encode(to: &writer) }
    init(from reader: inout ByteReader) throws(CodecError) { map = try Map(from: &reader) }
    var description: String { "\(map)" }
}
