import Concord

/// The kinds of object a simulated workload touches: every CRDT type Concord ships, as the
/// table of built-in types lists them.
///
/// The workload switches over it exhaustively (`read`, `state`, `randomOperation`, and the
/// model's `expectation`), so a type added to the table does not build here until the
/// simulator can drive it, and the simulator cannot have a kind the table lacks. Objects
/// are named after the case (`gCounter-0`) and ordered by its kind number, both stable.
typealias ObjectKind = BuiltInType

/// One object of the workload: its kind and name.
struct ObjectName: Hashable, Sendable, Comparable, CustomStringConvertible {
    let kind: ObjectKind
    let index: Int
    var name: String { "\(kind)-\(index)" }
    var description: String { name }
    static func < (lhs: ObjectName, rhs: ObjectName) -> Bool {
        (lhs.kind.rawValue, lhs.index) < (rhs.kind.rawValue, rhs.index)
    }
}

/// An operation of the workload, in a form the sequential model can reason about.
enum ModelOperation: Sendable, Hashable, CustomStringConvertible {
    case increment(Int64)
    case decrement(Int64)
    case transfer(Int64, to: ReplicaID)
    case reset
    case assignString(String)
    case assignInteger(Int64)
    case enable
    case disable
    case add(String)
    case remove(String)
    /// Map operations: on the counter field, on the set field, and removing either.
    case incrementField(Int64)
    case addToField(String)
    case removeFromField(String)
    case removeCounterField
    case removeSetField

    var description: String {
        switch self {
        case .increment(let n): "increment(\(n))"
        case .decrement(let n): "decrement(\(n))"
        case .transfer(let n, let to): "transfer(\(n), to: \(to))"
        case .reset: "reset"
        case .assignString(let s): "assign(\(s))"
        case .assignInteger(let n): "assign(\(n))"
        case .enable: "enable"
        case .disable: "disable"
        case .add(let e): "add(\(e))"
        case .remove(let e): "remove(\(e))"
        case .incrementField(let n): "update(count, increment(\(n)))"
        case .addToField(let e): "update(tags, add(\(e)))"
        case .removeFromField(let e): "update(tags, remove(\(e)))"
        case .removeCounterField: "remove(count)"
        case .removeSetField: "remove(tags)"
        }
    }
}

/// The map fields the workload uses.
enum MapFields {
    static let counter = "count"
    static let set = "tags"
}

/// Typed keys for every object name, and the code that applies a model operation to them.
enum Objects {
    static func bucket(_ object: ObjectName) -> String { "simulation" }

    /// Applies `operation` to `object` inside `transaction`.
    static func apply(_ operation: ModelOperation, to object: ObjectName, in transaction: Transaction) throws {
        let name = object.name
        let bucket = bucket(object)
        switch (object.kind, operation) {
        case (.gCounter, .increment(let n)):
            try transaction.update(Key<GCounter>(name, bucket: bucket), .increment(UInt64(n)))
        case (.pnCounter, .increment(let n)):
            try transaction.update(Key<PNCounter>(name, bucket: bucket), .increment(n))
        case (.pnCounter, .decrement(let n)):
            try transaction.update(Key<PNCounter>(name, bucket: bucket), .decrement(n))
        case (.resettableCounter, .increment(let n)):
            try transaction.update(Key<ResettableCounter>(name, bucket: bucket), .increment(n))
        case (.resettableCounter, .decrement(let n)):
            try transaction.update(Key<ResettableCounter>(name, bucket: bucket), .decrement(n))
        case (.resettableCounter, .reset):
            try transaction.update(Key<ResettableCounter>(name, bucket: bucket), .reset)
        case (.boundedCounter, .increment(let n)):
            try transaction.update(Key<BoundedCounter>(name, bucket: bucket), .increment(n))
        case (.boundedCounter, .decrement(let n)):
            try transaction.update(Key<BoundedCounter>(name, bucket: bucket), .decrement(n))
        case (.boundedCounter, .transfer(let n, let to)):
            try transaction.update(Key<BoundedCounter>(name, bucket: bucket), .transfer(n, to: to))
        case (.lwwRegister, .assignString(let s)):
            try transaction.update(Key<LWWRegister<String>>(name, bucket: bucket), .assign(s))
        case (.mvRegister, .assignInteger(let n)):
            try transaction.update(Key<MVRegister<Int64>>(name, bucket: bucket), .assign(n))
        case (.mvRegister, .reset):
            try transaction.update(Key<MVRegister<Int64>>(name, bucket: bucket), .reset)
        case (.ewFlag, .enable): try transaction.update(Key<EWFlag>(name, bucket: bucket), .enable)
        case (.ewFlag, .disable): try transaction.update(Key<EWFlag>(name, bucket: bucket), .disable)
        case (.ewFlag, .reset): try transaction.update(Key<EWFlag>(name, bucket: bucket), .reset)
        case (.dwFlag, .enable): try transaction.update(Key<DWFlag>(name, bucket: bucket), .enable)
        case (.dwFlag, .disable): try transaction.update(Key<DWFlag>(name, bucket: bucket), .disable)
        case (.dwFlag, .reset): try transaction.update(Key<DWFlag>(name, bucket: bucket), .reset)
        case (.gSet, .add(let e)): try transaction.update(Key<GSet<String>>(name, bucket: bucket), .add(e))
        case (.awSet, .add(let e)): try transaction.update(Key<AWSet<String>>(name, bucket: bucket), .add(e))
        case (.awSet, .remove(let e)): try transaction.update(Key<AWSet<String>>(name, bucket: bucket), .remove(e))
        case (.awSet, .reset): try transaction.update(Key<AWSet<String>>(name, bucket: bucket), .reset)
        case (.rwSet, .add(let e)): try transaction.update(Key<RWSet<String>>(name, bucket: bucket), .add(e))
        case (.rwSet, .remove(let e)): try transaction.update(Key<RWSet<String>>(name, bucket: bucket), .remove(e))
        case (.rwSet, .reset): try transaction.update(Key<RWSet<String>>(name, bucket: bucket), .reset)
        case (.gMap, .incrementField(let n)):
            try transaction.update(
                Key<GMap>(name, bucket: bucket), .update(MapFields.counter, GCounter.self, .increment(UInt64(n))))
        case (.rrMap, .incrementField(let n)):
            try transaction.update(
                Key<RRMap>(name, bucket: bucket), .update(MapFields.counter, PNCounter.self, .increment(n)))
        case (.rrMap, .addToField(let e)):
            try transaction.update(
                Key<RRMap>(name, bucket: bucket), .update(MapFields.set, AWSet<String>.self, .add(e)))
        case (.rrMap, .removeFromField(let e)):
            try transaction.update(
                Key<RRMap>(name, bucket: bucket), .update(MapFields.set, AWSet<String>.self, .remove(e)))
        case (.rrMap, .removeCounterField):
            try transaction.update(Key<RRMap>(name, bucket: bucket), .remove(MapFields.counter, PNCounter.self))
        case (.rrMap, .removeSetField):
            try transaction.update(Key<RRMap>(name, bucket: bucket), .remove(MapFields.set, AWSet<String>.self))
        case (.rrMap, .reset):
            try transaction.update(Key<RRMap>(name, bucket: bucket), .reset)
        default:
            preconditionFailure("the workload generated \(operation) for \(object.kind)")
        }
    }

    /// The observable value of `object` at `replica`, rendered canonically for comparison.
    static func read(_ object: ObjectName, at replica: Replica) throws -> ObservedValue {
        try visit(object, Reading(replica: replica))
    }

    /// The full state of `object` at `replica`, type-erased (for the never-backwards check).
    static func state(_ object: ObjectName, at replica: Replica) throws -> any CRDT {
        try visit(object, StateReading(replica: replica))
    }

    /// An observation of `object`'s value at `replica`, rendered as `read` renders it.
    static func observe(_ object: ObjectName, at replica: Replica) -> ValueChanges<ObservedValue>.Iterator {
        // Observing cannot fail: it only registers (reads happen when it is polled).
        try! visit(object, Observing(replica: replica))
    }

    /// Calls `visitor` with the typed key of `object` and how its value renders.
    private static func visit<Visitor: ObjectVisitor>(_ object: ObjectName, _ visitor: Visitor) throws
        -> Visitor.Result
    {
        let name = object.name
        let bucket = bucket(object)
        switch object.kind {
        case .gCounter: return try visitor.visit(Key<GCounter>(name, bucket: bucket)) { .integer(Int64(clamping: $0)) }
        case .pnCounter: return try visitor.visit(Key<PNCounter>(name, bucket: bucket)) { .integer($0) }
        case .resettableCounter: return try visitor.visit(Key<ResettableCounter>(name, bucket: bucket)) { .integer($0) }
        case .boundedCounter: return try visitor.visit(Key<BoundedCounter>(name, bucket: bucket)) { .integer($0) }
        case .lwwRegister: return try visitor.visit(Key<LWWRegister<String>>(name, bucket: bucket)) { .register($0) }
        case .mvRegister:
            return try visitor.visit(Key<MVRegister<Int64>>(name, bucket: bucket)) { .strings(Set($0.map { "\($0)" })) }
        case .ewFlag: return try visitor.visit(Key<EWFlag>(name, bucket: bucket)) { .flag($0) }
        case .dwFlag: return try visitor.visit(Key<DWFlag>(name, bucket: bucket)) { .flag($0) }
        case .gSet: return try visitor.visit(Key<GSet<String>>(name, bucket: bucket)) { .strings($0) }
        case .awSet: return try visitor.visit(Key<AWSet<String>>(name, bucket: bucket)) { .strings($0) }
        case .rwSet: return try visitor.visit(Key<RWSet<String>>(name, bucket: bucket)) { .strings($0) }
        case .gMap:
            return try visitor.visit(Key<GMap>(name, bucket: bucket)) { view in
                .map(counter: view[MapFields.counter, as: GCounter.self].map { Int64(clamping: $0) }, set: nil)
            }
        case .rrMap:
            return try visitor.visit(Key<RRMap>(name, bucket: bucket)) { view in
                .map(
                    counter: view[MapFields.counter, as: PNCounter.self],
                    set: view[MapFields.set, as: AWSet<String>.self])
            }
        }
    }

    /// A random operation for `object`, drawn from `random`.
    static func randomOperation(
        for object: ObjectName, replicas: [ReplicaID], elements: Int, using random: inout ScheduleRandom
    ) -> ModelOperation {
        func element() -> String { "e\(Int.random(in: 0..<max(1, elements), using: &random))" }
        func amount() -> Int64 { Int64.random(in: 1...9, using: &random) }
        let roll = Int.random(in: 0..<100, using: &random)
        switch object.kind {
        case .gCounter, .gMap:
            return object.kind == .gMap ? .incrementField(amount()) : .increment(amount())
        case .pnCounter:
            return roll < 60 ? .increment(amount()) : .decrement(amount())
        case .resettableCounter:
            return roll < 50 ? .increment(amount()) : roll < 85 ? .decrement(amount()) : .reset
        case .boundedCounter:
            if roll < 45 { return .increment(amount()) }
            if roll < 85 { return .decrement(amount()) }
            return .transfer(amount(), to: replicas.randomElement(using: &random) ?? ReplicaID(1))
        case .lwwRegister:
            return .assignString("v\(Int.random(in: 0..<1000, using: &random))")
        case .mvRegister:
            return roll < 85 ? .assignInteger(Int64.random(in: 0..<1000, using: &random)) : .reset
        case .ewFlag, .dwFlag:
            return roll < 45 ? .enable : roll < 90 ? .disable : .reset
        case .gSet:
            return .add(element())
        case .awSet, .rwSet:
            return roll < 55 ? .add(element()) : roll < 93 ? .remove(element()) : .reset
        case .rrMap:
            if roll < 30 { return .incrementField(amount()) }
            if roll < 60 { return .addToField(element()) }
            if roll < 80 { return .removeFromField(element()) }
            if roll < 88 { return .removeCounterField }
            if roll < 96 { return .removeSetField }
            return .reset
        }
    }
}

/// A value read from a replica, in a form the model can predict.
enum ObservedValue: Hashable, Sendable, CustomStringConvertible {
    case integer(Int64)
    case register(String?)
    case strings(Set<String>)
    case flag(Bool)
    case map(counter: Int64?, set: Set<String>?)

    var description: String {
        switch self {
        case .integer(let n): "\(n)"
        case .register(let s): s.map { "\"\($0)\"" } ?? "nil"
        case .strings(let set): "\(set.sorted())"
        case .flag(let b): "\(b)"
        case .map(let counter, let set):
            "[count: \(counter.map { "\($0)" } ?? "-"), tags: \(set.map { "\($0.sorted())" } ?? "-")]"
        }
    }
}

/// What to do with an object's typed key (see `Objects.visit`).
private protocol ObjectVisitor {
    associatedtype Result
    func visit<T: CRDT>(_ key: Key<T>, rendering render: @escaping @Sendable (T.Value) -> ObservedValue) throws
        -> Result
}

private struct Reading: ObjectVisitor {
    typealias Result = ObservedValue
    let replica: Replica
    func visit<T: CRDT>(_ key: Key<T>, rendering render: @escaping @Sendable (T.Value) -> ObservedValue) throws
        -> ObservedValue
    { render(try replica.read(key)) }
}

private struct StateReading: ObjectVisitor {
    typealias Result = any CRDT
    let replica: Replica
    func visit<T: CRDT>(_ key: Key<T>, rendering render: @escaping @Sendable (T.Value) -> ObservedValue) throws
        -> any CRDT
    { try replica.state(of: key) }
}

private struct Observing: ObjectVisitor {
    typealias Result = ValueChanges<ObservedValue>.Iterator
    let replica: Replica
    func visit<T: CRDT>(_ key: Key<T>, rendering render: @escaping @Sendable (T.Value) -> ObservedValue)
        -> ValueChanges<ObservedValue>.Iterator
    { replica.changes(of: key, render).makeAsyncIterator() }
}
