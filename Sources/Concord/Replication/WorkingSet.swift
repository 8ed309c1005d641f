/// One transaction's working copy of an object: the state after its updates and the join
/// of the deltas they produced.
///
/// A class: the set and the commit pass it around by reference, where a struct of two
/// existentials was copied field by field through their value witnesses; and a later update
/// of the same object in the transaction changes it in place, without looking its key up
/// again to replace it.
final class WorkingObject {
    let key: ObjectKey
    // Used by one transaction, under its replica's lock: no runtime exclusivity checks.
    @exclusivity(unchecked) var state: any CRDT
    @exclusivity(unchecked) var delta: any CRDT

    init(key: ObjectKey, state: any CRDT, delta: any CRDT) {
        self.key = key
        self.state = state
        self.delta = delta
    }
}

/// The objects a local transaction has updated, each once.
///
/// Most transactions update one object (every `Replica.update` does): it is held inline, and
/// only a second object makes the table, so a single update neither hashes its key nor
/// allocates a dictionary.
struct WorkingSet {
    /// The first object updated.
    private var first: WorkingObject?
    /// The others, by key.
    private var others: [ObjectKey: WorkingObject] = [:]

    init() {}

    /// A set holding `objects` (of a key given twice, the last).
    init(_ objects: [WorkingObject]) {
        for object in objects { put(object) }
    }

    var isEmpty: Bool { first == nil }

    /// How many objects it holds.
    var count: Int { first == nil ? 0 : 1 + others.count }

    /// The working copy of `key`, if the transaction updated it.
    subscript(key: ObjectKey) -> WorkingObject? {
        if let first, first.key == key { return first }
        return others.isEmpty ? nil : others[key]
    }

    /// Holds `object`, replacing the working copy of its key.
    mutating func put(_ object: WorkingObject) {
        if first == nil || first?.key == object.key {
            first = object
        } else {
            others[object.key] = object
        }
    }

    /// Every object, in key order (the order of a log entry's objects).
    func sorted() -> [WorkingObject] {
        guard let first else { return [] }
        if others.isEmpty { return [first] }
        var all = Array(others.values)
        all.append(first)
        all.sort { $0.key < $1.key }
        return all
    }
}
