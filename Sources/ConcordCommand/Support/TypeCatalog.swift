import Concord
import Foundation

/// A CRDT type as the command line names it (`pncounter`, `awset`, …), with `String`
/// elements and register values, and how its operations are spelled: the case name and
/// its arguments (`increment 5`, `add swift`, `transfer 3 2`, `update visits gcounter
/// increment 1`).
protocol CommandLineType: CRDT {
    /// The lowercase name on the command line.
    static var commandName: String { get }
    /// The operations, for help and errors.
    static var operationUsage: String { get }
    /// Parses an operation from its words.
    static func operation(from words: [String]) throws(UsageError) -> Operation
    /// How an RRMap field of this type is updated (nil: an RRMap cannot hold it).
    static var rrmapField: (@Sendable (String, [String]) throws(UsageError) -> RRMap.Operation)? { get }
}

/// What the command line can do with one type, with the type erased.
struct CatalogEntry: Sendable {
    let name: String
    let usage: String
    /// Applies an operation spelled in words to `bucket/key` at `replica`.
    let update: @Sendable (Replica, _ key: String, _ bucket: String, _ words: [String]) throws -> VectorClock
    /// The state of `bucket/key` at a replica of a directory read from another process.
    let state: @Sendable (ClusterReader, _ key: String, _ bucket: String, ReplicaID) throws -> any CRDT
    /// The state of `bucket/key` at a replica and the replica's clock, from one snapshot.
    let snapshot:
        @Sendable (ClusterReader, _ key: String, _ bucket: String, ReplicaID) throws -> (
            state: any CRDT, clock: VectorClock
        )
    /// The GMap operation updating field `name` of this type.
    let gmapField: @Sendable (_ name: String, _ words: [String]) throws(UsageError) -> GMap.Operation
    /// The RRMap operation updating field `name` of this type (nil: a field of this type
    /// cannot be removed, so an RRMap cannot hold it).
    let rrmapField: (@Sendable (_ name: String, _ words: [String]) throws(UsageError) -> RRMap.Operation)?
    /// The key of field `name` of this type.
    let fieldKey: @Sendable (_ name: String) -> FieldKey
}

enum TypeCatalog {
    static let entries: [CatalogEntry] = [
        entry(GCounter.self), entry(PNCounter.self), entry(ResettableCounter.self), entry(BoundedCounter.self),
        entry(LWWRegister<String>.self), entry(MVRegister<String>.self), entry(EWFlag.self), entry(DWFlag.self),
        entry(GSet<String>.self), entry(AWSet<String>.self), entry(RWSet<String>.self), entry(GMap.self),
        entry(RRMap.self),
    ]

    static var names: [String] { entries.map(\.name) }

    /// The entry named `name` (case-insensitive).
    static func entry(named name: String) throws(UsageError) -> CatalogEntry {
        guard let entry = entries.first(where: { $0.name == name.lowercased() }) else {
            throw UsageError("unknown type \"\(name)\"; the types are \(names.joined(separator: ", "))")
        }
        return entry
    }

    private static func entry<T: CommandLineType>(_ type: T.Type) -> CatalogEntry {
        CatalogEntry(
            name: T.commandName, usage: T.operationUsage,
            update: { replica, key, bucket, words in
                try replica.update(Key<T>(key, bucket: bucket), try T.operation(from: words))
            },
            state: { reader, key, bucket, id in try reader.state(of: Key<T>(key, bucket: bucket), at: id) },
            snapshot: { reader, key, bucket, id in
                let (state, clock) = try reader.snapshot(of: Key<T>(key, bucket: bucket), at: id)
                return (state, clock)
            },
            gmapField: { (name, words) throws(UsageError) in .update(name, T.self, try T.operation(from: words)) },
            rrmapField: T.rrmapField, fieldKey: { FieldKey($0, T.self) })
    }
}

extension CommandLineType {
    /// A field of a type that cannot be reset cannot be removed, so an RRMap cannot hold it.
    static var rrmapField: (@Sendable (String, [String]) throws(UsageError) -> RRMap.Operation)? { nil }
}

extension CommandLineType where Self: ResettableCRDT {
    static var rrmapField: (@Sendable (String, [String]) throws(UsageError) -> RRMap.Operation)? {
        { (name, words) throws(UsageError) in .update(name, Self.self, try Self.operation(from: words)) }
    }
}

// MARK: Parsing words

enum Words {
    static func expect(_ words: [String], count: Int, _ usage: String) throws(UsageError) {
        guard words.count - 1 == count else {
            throw UsageError("\"\(words.joined(separator: " "))\" takes \(count) argument(s): \(usage)")
        }
    }

    static func integer(_ word: String) throws(UsageError) -> Int64 {
        guard let value = Int64(word) else { throw UsageError("\"\(word)\" is not an integer") }
        return value
    }

    static func unsigned(_ word: String) throws(UsageError) -> UInt64 {
        guard let value = UInt64(word) else { throw UsageError("\"\(word)\" is not a non-negative integer") }
        return value
    }

    static func unknown(_ words: [String], _ type: String, _ usage: String) -> UsageError {
        UsageError(
            words.isEmpty
                ? "no operation given for \(type); its operations: \(usage)"
                : "\(type) has no operation \"\(words[0])\"; its operations: \(usage)")
    }
}

/// The counters spell `increment N` and `decrement N` alike.
private func counterOperation<Operation>(
    _ words: [String], _ name: String, _ usage: String, increment: (Int64) -> Operation,
    decrement: (Int64) -> Operation
) throws(UsageError) -> Operation {
    switch words.first {
    case "increment":
        try Words.expect(words, count: 1, usage)
        return increment(try Words.integer(words[1]))
    case "decrement":
        try Words.expect(words, count: 1, usage)
        return decrement(try Words.integer(words[1]))
    default: throw Words.unknown(words, name, usage)
    }
}

/// EWFlag and DWFlag spell their operations alike.
private func flagOperation<Operation>(
    _ words: [String], _ name: String, enable: Operation, disable: Operation, reset: Operation
) throws(UsageError) -> Operation {
    let usage = "enable | disable | reset"
    let operation: Operation
    switch words.first {
    case "enable": operation = enable
    case "disable": operation = disable
    case "reset": operation = reset
    default: throw Words.unknown(words, name, usage)
    }
    try Words.expect(words, count: 0, usage)
    return operation
}

extension GCounter: CommandLineType {
    static var commandName: String { "gcounter" }
    static var operationUsage: String { "increment N" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        guard words.first == "increment" else { throw Words.unknown(words, commandName, operationUsage) }
        try Words.expect(words, count: 1, operationUsage)
        return .increment(try Words.unsigned(words[1]))
    }
}

extension PNCounter: CommandLineType {
    static var commandName: String { "pncounter" }
    static var operationUsage: String { "increment N | decrement N" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        try counterOperation(
            words, commandName, operationUsage, increment: { .increment($0) }, decrement: { .decrement($0) })
    }
}

extension ResettableCounter: CommandLineType {
    static var commandName: String { "resettablecounter" }
    static var operationUsage: String { "increment N | decrement N | reset" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        if words.first == "reset" {
            try Words.expect(words, count: 0, operationUsage)
            return .reset
        }
        return try counterOperation(
            words, commandName, operationUsage, increment: { .increment($0) }, decrement: { .decrement($0) })
    }
}

extension BoundedCounter: CommandLineType {
    static var commandName: String { "boundedcounter" }
    static var operationUsage: String { "increment N | decrement N | transfer N REPLICA" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        if words.first == "transfer" {
            try Words.expect(words, count: 2, operationUsage)
            return .transfer(try Words.integer(words[1]), to: ReplicaID(try Words.unsigned(words[2])))
        }
        return try counterOperation(
            words, commandName, operationUsage, increment: { .increment($0) }, decrement: { .decrement($0) })
    }
}

extension LWWRegister: CommandLineType where V == String {
    static var commandName: String { "lwwregister" }
    static var operationUsage: String { "assign VALUE" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        guard words.first == "assign" else { throw Words.unknown(words, commandName, operationUsage) }
        try Words.expect(words, count: 1, operationUsage)
        return .assign(words[1])
    }
}

extension MVRegister: CommandLineType where V == String {
    static var commandName: String { "mvregister" }
    static var operationUsage: String { "assign VALUE | reset" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        switch words.first {
        case "assign":
            try Words.expect(words, count: 1, operationUsage)
            return .assign(words[1])
        case "reset":
            try Words.expect(words, count: 0, operationUsage)
            return .reset
        default: throw Words.unknown(words, commandName, operationUsage)
        }
    }
}

extension EWFlag: CommandLineType {
    static var commandName: String { "ewflag" }
    static var operationUsage: String { "enable | disable | reset" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        try flagOperation(words, commandName, enable: .enable, disable: .disable, reset: .reset)
    }
}

extension DWFlag: CommandLineType {
    static var commandName: String { "dwflag" }
    static var operationUsage: String { "enable | disable | reset" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        try flagOperation(words, commandName, enable: .enable, disable: .disable, reset: .reset)
    }
}

extension GSet: CommandLineType where E == String {
    static var commandName: String { "gset" }
    static var operationUsage: String { "add ELEMENT | addAll ELEMENT..." }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        switch words.first {
        case "add":
            try Words.expect(words, count: 1, operationUsage)
            return .add(words[1])
        case "addAll": return .addAll(Array(words.dropFirst()))
        default: throw Words.unknown(words, commandName, operationUsage)
        }
    }
}

/// AWSet and RWSet share their operations' spelling.
private func setOperation<Operation>(
    _ words: [String], _ name: String, add: (String) -> Operation, addAll: ([String]) -> Operation,
    remove: (String) -> Operation, removeAll: ([String]) -> Operation, reset: Operation
) throws(UsageError) -> Operation {
    let usage = "add ELEMENT | addAll ELEMENT... | remove ELEMENT | removeAll ELEMENT... | reset"
    switch words.first {
    case "add":
        try Words.expect(words, count: 1, usage)
        return add(words[1])
    case "addAll": return addAll(Array(words.dropFirst()))
    case "remove":
        try Words.expect(words, count: 1, usage)
        return remove(words[1])
    case "removeAll": return removeAll(Array(words.dropFirst()))
    case "reset":
        try Words.expect(words, count: 0, usage)
        return reset
    default: throw Words.unknown(words, name, usage)
    }
}

extension AWSet: CommandLineType where E == String {
    static var commandName: String { "awset" }
    static var operationUsage: String {
        "add ELEMENT | addAll ELEMENT... | remove ELEMENT | removeAll ELEMENT... | reset"
    }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        try setOperation(
            words, commandName, add: { .add($0) }, addAll: { .addAll($0) }, remove: { .remove($0) },
            removeAll: { .removeAll($0) }, reset: .reset)
    }
}

extension RWSet: CommandLineType where E == String {
    static var commandName: String { "rwset" }
    static var operationUsage: String {
        "add ELEMENT | addAll ELEMENT... | remove ELEMENT | removeAll ELEMENT... | reset"
    }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        try setOperation(
            words, commandName, add: { .add($0) }, addAll: { .addAll($0) }, remove: { .remove($0) },
            removeAll: { .removeAll($0) }, reset: .reset)
    }
}

extension GMap: CommandLineType {
    static var commandName: String { "gmap" }
    static var operationUsage: String { "update FIELD TYPE OPERATION..." }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        guard words.first == "update" else { throw Words.unknown(words, commandName, operationUsage) }
        guard words.count >= 4 else {
            throw UsageError("gmap's update takes a field, its type and the field's operation: \(operationUsage)")
        }
        return try TypeCatalog.entry(named: words[2]).gmapField(words[1], Array(words.dropFirst(3)))
    }
}

extension RRMap: CommandLineType {
    static var commandName: String { "rrmap" }
    static var operationUsage: String { "update FIELD TYPE OPERATION... | remove FIELD TYPE | reset" }
    static func operation(from words: [String]) throws(UsageError) -> Operation {
        switch words.first {
        case "update":
            guard words.count >= 4 else {
                throw UsageError("rrmap's update takes a field, its type and the field's operation: \(operationUsage)")
            }
            let field = try TypeCatalog.entry(named: words[2])
            guard let update = field.rrmapField else {
                throw UsageError("an rrmap cannot hold a \(field.name): its fields must be resettable")
            }
            return try update(words[1], Array(words.dropFirst(3)))
        case "remove":
            try Words.expect(words, count: 2, operationUsage)
            return .remove(try TypeCatalog.entry(named: words[2]).fieldKey(words[1]))
        case "reset":
            try Words.expect(words, count: 0, operationUsage)
            return .reset
        default: throw Words.unknown(words, commandName, operationUsage)
        }
    }
}
