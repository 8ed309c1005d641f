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
    /// `WorkingSet.hash(of:)` of the key, taken once.
    let keyHash: UInt64
    /// `WorkingCopy<T>.encodeDelta(of:to:)`, taken where `T` is known (the copy's
    /// initializer, specialized in its caller). The commit calls it through here: an
    /// overriding method of the generic class would run its unspecialized body, which
    /// reached the state's encoding through witness tables and looked its generic metadata
    /// up on every call.
    private let encodeDeltaOfObject: (WorkingObject, inout ByteWriter) -> [UInt8]

    /// Only `WorkingCopy<T>` makes one.
    fileprivate init(key: ObjectKey, encodeDelta: @escaping (WorkingObject, inout ByteWriter) -> [UInt8]) {
        self.key = key
        keyHash = WorkingSet.hash(of: key)
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
/// only a second object makes the table, so a single update allocates none.
///
/// The table is open addressing with linear probing, at most half full, found by a cheap
/// multiplicative hash of the key's bytes (`hash(of:)`). A transaction's keys are its own
/// application's, so they need no protection from flooding; the standard dictionary's SipHash
/// of a 40-byte key cost about 600 instructions per lookup, twice per object of a batch (its
/// lookup, then its insertion), more than reading the object.
struct WorkingSet {
    /// The first object updated.
    private var first: WorkingObject?
    /// The others: a power-of-two number of slots (none until a second object comes).
    private var slots: [WorkingObject?] = []
    /// How many of `slots` are taken.
    private var others = 0

    init() {}

    /// A set holding `objects` (of a key given twice, the last).
    init(_ objects: [WorkingObject]) {
        for object in objects { put(object) }
    }

    var isEmpty: Bool { first == nil }

    /// How many objects it holds.
    var count: Int { first == nil ? 0 : 1 + others }

    /// The working copy of `key`, if the transaction updated it.
    subscript(key: ObjectKey) -> WorkingObject? {
        if let first, first.key == key { return first }
        guard others > 0 else { return nil }
        let hash = Self.hash(of: key)
        let mask = slots.count - 1
        var index = Self.slot(of: hash, mask: mask)
        while let object = slots[index] {
            if object.keyHash == hash && object.key == key { return object }
            index = (index + 1) & mask
        }
        return nil
    }

    /// Holds `object`, replacing the working copy of its key.
    mutating func put(_ object: WorkingObject) {
        guard let held = first, held.key != object.key else {
            first = object
            return
        }
        // A transaction that updates a second object usually updates more: start at 32
        // slots (16 objects) rather than grow through the smallest tables.
        if slots.isEmpty {
            slots = Array(repeating: nil, count: 32)
        } else if (others + 1) * 2 > slots.count {
            grow()
        }
        if Self.insert(object, into: &slots) { others += 1 }
    }

    /// Every object, in key order (the order of a log entry's objects).
    func sorted() -> [WorkingObject] {
        guard let first else { return [] }
        if others == 0 { return [first] }
        var all: [WorkingObject] = []
        all.reserveCapacity(others + 1)
        for case let object? in slots { all.append(object) }
        all.append(first)
        all.sort { $0.key < $1.key }
        return all
    }

    /// Places `object` in `slots`, replacing the object of the same key: true when it took
    /// a free slot.
    private static func insert(_ object: WorkingObject, into slots: inout [WorkingObject?]) -> Bool {
        let mask = slots.count - 1
        var index = Self.slot(of: object.keyHash, mask: mask)
        while let held = slots[index] {
            if held.keyHash == object.keyHash && held.key == object.key {
                slots[index] = object
                return false
            }
            index = (index + 1) & mask
        }
        slots[index] = object
        return true
    }

    /// Doubles the slots, placing every object again.
    private mutating func grow() {
        var larger = [WorkingObject?](repeating: nil, count: slots.count * 2)
        for case let object? in slots { _ = Self.insert(object, into: &larger) }
        slots = larger
    }

    /// The first slot to look at for `hash`: its high bits, which the multiplication mixes
    /// best.
    private static func slot(of hash: UInt64, mask: Int) -> Int {
        Int(truncatingIfNeeded: hash >> 32) & mask
    }

    /// A multiplicative hash of the key's bytes, eight at a time (the constant is 2^64
    /// divided by the golden ratio).
    static func hash(of key: ObjectKey) -> UInt64 {
        key.bytes.withUnsafeBytes { bytes in
            var hash = UInt64(truncatingIfNeeded: bytes.count) &* 0x9E37_79B9_7F4A_7C15
            var offset = 0
            while offset + 8 <= bytes.count {
                hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
                hash ^= hash >> 29
                offset += 8
            }
            var tail: UInt64 = 0
            while offset < bytes.count {
                tail = tail << 8 | UInt64(bytes[offset])
                offset += 1
            }
            hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
            return hash ^ (hash >> 32)
        }
    }
}
