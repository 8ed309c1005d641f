/// A CRDT state that shows its value and its causal metadata to an operator (`dumpState`).
///
/// Every built-in type conforms for every built-in value type, so a state of unknown type
/// can be shown with `(state as? any Inspectable)?.inspectedValue`.
///
/// Conventions: a dot renders as `"r<replica>:<counter>"`; a vector clock as an object
/// `{"r<replica>": counter}` in replica order; a causal context as
/// `{"vector": clock, "cloud": [dots]}`; sets as arrays in reading order (natural order for
/// comparable values, encoded-bytes order otherwise).
public protocol Inspectable {
    /// The value a read returns, as a tree.
    var inspectedValue: InspectedValue { get }
    /// The causal metadata behind the value: dots, contexts, per-replica counts,
    /// timestamps, rights.
    var inspectedMetadata: InspectedValue { get }
}

/// A set element or register value that can be shown as an `InspectedValue`.
public protocol InspectableValue {
    /// The value as a tree (a scalar for the built-in value types).
    var inspectedValue: InspectedValue { get }
}

extension String: InspectableValue {
    /// `.string(self)`.
    public var inspectedValue: InspectedValue { .string(self) }
}

extension Array: InspectableValue where Element == UInt8 {
    /// `.bytes(self)`.
    public var inspectedValue: InspectedValue { .bytes(self) }
}

extension Int64: InspectableValue {
    /// `.integer(self)`.
    public var inspectedValue: InspectedValue { .integer(self) }
}

extension UInt64: InspectableValue {
    /// `.unsigned(self)`.
    public var inspectedValue: InspectedValue { .unsigned(self) }
}

extension Bool: InspectableValue {
    /// `.bool(self)`.
    public var inspectedValue: InspectedValue { .bool(self) }
}

extension InspectedValue {
    /// A value as a tree: its own rendering when it is `InspectableValue`, otherwise its
    /// encoded bytes (so that values of any `CRDTValue` type can be shown).
    static func of<V: CRDTValue>(_ value: V) -> InspectedValue {
        (value as? any InspectableValue)?.inspectedValue ?? .bytes(value.encodedBytes())
    }

    /// `"r<replica>:<counter>"`.
    static func of(_ dot: Dot) -> InspectedValue { .string("r\(dot.replica.rawValue):\(dot.counter)") }

    /// `"r<replica>"`.
    static func of(_ replica: ReplicaID) -> InspectedValue { .string(replica.description) }

    /// `{"r<replica>": counter}` in replica order.
    static func of(_ clock: VectorClock) -> InspectedValue {
        .object(clock.entries.map { ($0.replica.description, .unsigned($0.counter)) })
    }

    /// `{"vector": clock, "cloud": [dots]}`.
    static func of(_ context: CausalContext) -> InspectedValue {
        .object([("vector", of(context.vector)), ("cloud", .array(context.cloud.sorted().map { of($0) }))])
    }

    /// `{"physicalMicroseconds": p, "logical": l, "replica": "r<n>"}`.
    static func of(_ timestamp: HybridTimestamp) -> InspectedValue {
        .object([
            ("physicalMicroseconds", .unsigned(timestamp.physicalMicroseconds)),
            ("logical", .unsigned(timestamp.logical)), ("replica", of(timestamp.replica)),
        ])
    }

    /// Values in reading order (see `CRDTValue.sortedForReading(_:)`).
    static func sorted<V: CRDTValue>(_ values: some Sequence<V>) -> InspectedValue {
        .array(V.sortedForReading(values).map { of($0) })
    }
}

extension ObservedResetCounts {
    /// `{"counts": clock, "baselines": clock}`.
    var inspected: InspectedValue { .object([("counts", .of(counts)), ("baselines", .of(baselines))]) }
}

extension SignedObservedResetCounts {
    /// `{"increments": …, "decrements": …}`.
    var inspected: InspectedValue {
        .object([("increments", increments.inspected), ("decrements", decrements.inspected)])
    }
}
