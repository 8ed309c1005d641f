// The `Inspectable` conformances of the built-in CRDT types.

extension GCounter: Inspectable {
    /// The count.
    public var inspectedValue: InspectedValue { .unsigned(value) }
    /// Per replica, its increments and reset baseline.
    public var inspectedMetadata: InspectedValue { counts.inspected }
}

extension PNCounter: Inspectable {
    /// The count.
    public var inspectedValue: InspectedValue { .integer(value) }
    /// Per replica, its increments and decrements with their reset baselines.
    public var inspectedMetadata: InspectedValue { counts.inspected }
}

extension ResettableCounter: Inspectable {
    /// The count.
    public var inspectedValue: InspectedValue { .integer(value) }
    /// Per replica, its increments and decrements with their reset baselines.
    public var inspectedMetadata: InspectedValue { counts.inspected }
}

extension BoundedCounter: Inspectable {
    /// The count.
    public var inspectedValue: InspectedValue { .integer(value) }
    /// The increments and decrements per replica, the transfers of rights, and the rights
    /// each replica named in them holds in this state.
    public var inspectedMetadata: InspectedValue {
        let links = transfers.sorted { $0.key < $1.key }
        var replicas = Set(increments.replicas).union(decrements.replicas)
        for (link, _) in links {
            replicas.insert(link.source)
            replicas.insert(link.destination)
        }
        return .object([
            ("increments", .of(increments)), ("decrements", .of(decrements)),
            (
                "transfers",
                .array(
                    links.map {
                        .object([
                            ("from", .of($0.key.source)), ("to", .of($0.key.destination)),
                            ("amount", .unsigned($0.value)),
                        ])
                    })
            ),
            ("rights", .object(replicas.sorted().map { ($0.description, .integer(rights(of: $0))) })),
        ])
    }
}

extension LWWRegister: Inspectable where V: InspectableValue {
    /// The value, or `null`.
    public var inspectedValue: InspectedValue { value.map(\.inspectedValue) ?? .null }
    /// The winning assignment's timestamp and writer, and the timestamp a reset cleared at.
    public var inspectedMetadata: InspectedValue {
        .object([
            ("timestamp", entry.map { .of($0.timestamp) } ?? .null),
            ("writer", entry.map { .of($0.timestamp.replica) } ?? .null),
            ("cleared", cleared.map { .of($0) } ?? .null),
        ])
    }
}

extension MVRegister: Inspectable where V: InspectableValue {
    /// The distinct surviving values, in reading order.
    public var inspectedValue: InspectedValue { .array(value.map(\.inspectedValue)) }
    /// The causal context and each surviving assignment's dot and value, by dot.
    public var inspectedMetadata: InspectedValue {
        .object([
            ("context", .of(state.context)),
            (
                "assignments",
                .array(
                    state.store.entries.sorted { $0.key < $1.key }.map {
                        .object([("dot", .of($0.key)), ("value", $0.value.inspectedValue)])
                    })
            ),
        ])
    }
}

extension EWFlag: Inspectable {
    /// Whether the flag is set.
    public var inspectedValue: InspectedValue { .bool(value) }
    /// The causal context and the surviving enable dots.
    public var inspectedMetadata: InspectedValue {
        .object([("context", .of(state.context)), ("enables", .array(state.store.dots.sorted().map { .of($0) }))])
    }
}

extension DWFlag: Inspectable {
    /// Whether the flag is set.
    public var inspectedValue: InspectedValue { .bool(value) }
    /// The causal context and each surviving operation's dot and kind, by dot.
    public var inspectedMetadata: InspectedValue {
        .object([
            ("context", .of(state.context)),
            (
                "operations",
                .array(
                    state.store.entries.sorted { $0.key < $1.key }.map {
                        .object([("dot", .of($0.key)), ("enable", .bool($0.value))])
                    })
            ),
        ])
    }
}

extension GSet: Inspectable where E: InspectableValue {
    /// The elements in reading order.
    public var inspectedValue: InspectedValue { .sorted(elements) }
    /// The element count (a grow-only set keeps no causal metadata).
    public var inspectedMetadata: InspectedValue { .object([("count", .unsigned(UInt64(elements.count)))]) }
}

extension AWSet: Inspectable where E: InspectableValue {
    /// The elements in reading order.
    public var inspectedValue: InspectedValue { .sorted(value) }
    /// The causal context and each element's surviving add dots.
    public var inspectedMetadata: InspectedValue {
        .object([
            ("context", .of(state.context)),
            (
                "elements",
                .array(
                    E.sortedForReading(state.store.keys).map { element in
                        .object([
                            ("element", element.inspectedValue),
                            ("dots", .array(state.store[element].dots.sorted().map { .of($0) })),
                        ])
                    })
            ),
        ])
    }
}

extension RWSet: Inspectable where E: InspectableValue {
    /// The present elements in reading order.
    public var inspectedValue: InspectedValue { .sorted(value) }
    /// The causal context, the compaction frontier, each element's surviving operations
    /// (dot, add or remove), and the supersession clocks.
    public var inspectedMetadata: InspectedValue {
        .object([
            ("context", .of(state.context)),
            ("compacted", .of(compacted)),
            (
                "elements",
                .array(
                    E.sortedForReading(state.store.keys).map { element in
                        .object([
                            ("element", element.inspectedValue),
                            ("present", .bool(contains(element))),
                            (
                                "operations",
                                .array(
                                    state.store[element].entries.sorted { $0.key < $1.key }.map {
                                        .object([("dot", .of($0.key)), ("add", .bool($0.value))])
                                    })
                            ),
                        ])
                    })
            ),
            (
                "superseded",
                .array(
                    E.sortedForReading(superseded.keys).map {
                        .object([("element", $0.inspectedValue), ("clock", .of(superseded[$0]!))])
                    })
            ),
        ])
    }
}

extension GMap: Inspectable {
    /// The fields, by name (see `FieldKey.inspectedNames(_:)`), each with its nested value.
    public var inspectedValue: InspectedValue { FieldKey.inspectedFields(keys, state: fieldState(_:)) { $0.value } }
    /// The fields, each with its nested metadata.
    public var inspectedMetadata: InspectedValue {
        FieldKey.inspectedFields(keys, state: fieldState(_:)) { $0.metadata }
    }
}

extension RRMap: Inspectable {
    /// The visible fields (those not removed), by name (see `FieldKey.inspectedNames(_:)`),
    /// each with its nested value.
    public var inspectedValue: InspectedValue {
        let visible = keys.filter { !((fieldState($0) as? any ResettableCRDT)?.isNeutral ?? false) }
        return FieldKey.inspectedFields(visible, state: fieldState(_:)) { $0.value }
    }
    /// Every stored field, removed ones included, each with its nested metadata.
    public var inspectedMetadata: InspectedValue {
        FieldKey.inspectedFields(keys, state: fieldState(_:)) { $0.metadata }
    }
}

extension FieldKey {
    /// The names maps show their fields under: the field's name when no other listed field
    /// shares it; otherwise `name:<type>` with the type's case name (`visits:pnCounter`),
    /// and the value type too when the kinds also tie (`name:lwwRegister<string>`).
    /// A name that itself contains `:` may still read like another field's: the order of
    /// the fields (by name, then type code) tells them apart.
    public static func inspectedNames(_ keys: [FieldKey]) -> [String] {
        var byName: [String: [FieldKey]] = [:]
        for key in keys { byName[key.name, default: []].append(key) }
        return keys.map { key in
            let sharing = byName[key.name] ?? []
            guard sharing.count > 1 else { return key.name }
            let kindTies = sharing.filter { $0.type.kind == key.type.kind }.count > 1
            return "\(key.name):\(key.type.inspectedName(withValueType: kindTies))"
        }
    }

    static func inspectedFields(
        _ keys: [FieldKey], state: (FieldKey) -> (any CRDT)?,
        _ part: ((value: InspectedValue, metadata: InspectedValue)) -> InspectedValue
    ) -> InspectedValue {
        let names = inspectedNames(keys)
        return .object(
            zip(names, keys).map { name, key in
                guard let nested = state(key) else { return (name, .null) }
                return (name, part(inspect(nested)))
            })
    }
}

/// The value and metadata of any state: its own when it is `Inspectable`, otherwise its
/// encoded bytes as the value (a user type not made inspectable).
func inspect(_ state: any CRDT) -> (value: InspectedValue, metadata: InspectedValue) {
    if let inspectable = state as? any Inspectable {
        return (inspectable.inspectedValue, inspectable.inspectedMetadata)
    }
    return (.bytes(state.encodedBytes()), .null)
}

extension CRDTTypeCode {
    /// `lwwRegister`, or with the value type `lwwRegister<string>` (tags Concord does not
    /// define show as `tag<n>`).
    public func inspectedName(withValueType: Bool = true) -> String {
        let kindName = BuiltInType(rawValue: kind.rawValue).map { "\($0)" } ?? "kind\(kind.rawValue)"
        guard withValueType, valueTag != 0 else { return kindName }
        let valueName =
            switch valueTag {
            case String.valueTag: "string"
            case [UInt8].valueTag: "bytes"
            case Int64.valueTag: "int64"
            case Bool.valueTag: "bool"
            case UInt64.valueTag: "uint64"
            default: "tag\(valueTag)"
            }
        return "\(kindName)<\(valueName)>"
    }
}
