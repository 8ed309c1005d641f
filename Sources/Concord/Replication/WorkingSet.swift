/// One transaction's working copy of an object, seen whatever its type: the base of
/// `WorkingCopy<T>`, which holds the state after the transaction's updates and the join of
/// the deltas they produced. The working set and the commit hold objects of any type through
/// this class; the transaction, which knows the type, casts to `WorkingCopy<T>` (a class
/// cast) and reaches the state unboxed.
///
/// A class: the set and the commit pass it around by reference, where a struct of two
/// existentials was copied field by field through their value witnesses; a later update of
/// the same object changes it in place; and a `WorkingCopy<T>` holds its state and delta
/// inline, where two `any CRDT` existentials of a register each took a box (a malloc) of
/// their own.
class WorkingObject {
    let key: ObjectKey
    /// `WorkingCopy<T>.encodeDelta(of:to:)`, taken where `T` is known (the copy's
    /// initializer, specialized in its caller). The commit calls it through here: an
    /// overriding method of the generic class would run its unspecialized body, which
    /// reached the state's encoding through witness tables and looked its generic metadata
    /// up on every call.
    private let encodeDeltaOfObject: (WorkingObject, inout ByteWriter) -> [UInt8]

    /// Only `WorkingCopy<T>` makes one.
    fileprivate init(key: ObjectKey, encodeDelta: @escaping (WorkingObject, inout ByteWriter) -> [UInt8]) {
        self.key = key
        encodeDeltaOfObject = encodeDelta
    }

    /// The object's CRDT type.
    var stateType: any CRDT.Type { preconditionFailure("WorkingObject is abstract: use WorkingCopy") }
    /// The state after the transaction's updates, type-erased (for inspection and tests).
    var erasedState: any CRDT { preconditionFailure("WorkingObject is abstract: use WorkingCopy") }

    /// Encodes the join of the transaction's deltas without a type prefix, as an interval's
    /// object holds it (`ObjectDelta.encode`), and returns the state after the updates
    /// `serialized()` (what the store holds). When the two are equal (a register's assignment
    /// is its whole state) the state is not encoded a second time.
    final func encodeDelta(to writer: inout ByteWriter) -> [UInt8] { encodeDeltaOfObject(self, &writer) }
}

/// The working copy of an object of type `T` (see `WorkingObject`).
final class WorkingCopy<T: CRDT>: WorkingObject {
    // Used by one transaction, under its replica's lock: no runtime exclusivity checks.
    @exclusivity(unchecked) private(set) var state: T
    @exclusivity(unchecked) private(set) var delta: T
    /// Whether `state == delta` (a register's assignment is its whole state): the commit
    /// then encodes it once. Compared here, where `T` is known: the commit's generic code
    /// would compare through witness tables, which cost more than the encoding it saves.
    @exclusivity(unchecked) private var stateIsDelta: Bool

    init(key: ObjectKey, state: T, delta: T) {
        self.state = state
        self.delta = delta
        self.stateIsDelta = state == delta
        super.init(key: key, encodeDelta: Self.encodeDelta(of:to:))
    }

    /// Takes a further update of the object in this transaction: its new state, and its
    /// delta, joined into the transaction's.
    @inline(__always)
    func update(state: T, delta: T) {
        self.state = state
        self.delta.join(delta)
        stateIsDelta = self.state == self.delta
    }

    override var stateType: any CRDT.Type { T.self }
    override var erasedState: any CRDT { state }

    /// `WorkingObject.encodeDelta(to:)` of a `WorkingCopy<T>`.
    private static func encodeDelta(of object: WorkingObject, to writer: inout ByteWriter) -> [UInt8] {
        let copy = unsafeDowncast(object, to: WorkingCopy<T>.self)
        let start = writer.bytes.count
        copy.delta.encode(to: &writer)
        guard copy.stateIsDelta else { return copy.state.serialized() }
        return T.serialized(fromEncoding: writer.bytes[start...])
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
            // A transaction that updates a second object usually updates more: start the
            // table at 16, past the resizes that would rehash every key at 1, 2, 4 and 8.
            if others.isEmpty { others.reserveCapacity(16) }
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
