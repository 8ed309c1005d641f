/// What kind of conflict a replica saw, in the terms of AntidoteDB's `crdt_conflicts_total`.
///
/// An open struct, like `CRDTError.Code`, so that a store written by a later version with
/// more kinds still reads (as `kind <n>`).
public struct ConflictKind: Hashable, Sendable, CustomStringConvertible {
    /// The raw code, as stored.
    public let rawValue: UInt8
    /// Creates a kind from its raw code.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// An `MVRegister` holds more than one value after a join.
    public static let mvRegisterConcurrentValues = ConflictKind(rawValue: 1)
    /// An `LWWRegister` assignment lost to a concurrent one.
    public static let lwwAssignmentLost = ConflictKind(rawValue: 2)
    /// An add and a remove of one element of an `AWSet` or `RWSet` were concurrent.
    public static let concurrentAddRemove = ConflictKind(rawValue: 3)
    /// An enable and a disable of an `EWFlag` or `DWFlag` were concurrent.
    public static let concurrentEnableDisable = ConflictKind(rawValue: 4)
    /// A `BoundedCounter` decrement or transfer was refused for lack of rights.
    public static let boundedCounterRefused = ConflictKind(rawValue: 5)

    /// The kind's name, as the cases are spelled (`lwwAssignmentLost`).
    public var description: String {
        switch self {
        case .mvRegisterConcurrentValues: "mvRegisterConcurrentValues"
        case .lwwAssignmentLost: "lwwAssignmentLost"
        case .concurrentAddRemove: "concurrentAddRemove"
        case .concurrentEnableDisable: "concurrentEnableDisable"
        case .boundedCounterRefused: "boundedCounterRefused"
        default: "kind \(rawValue)"
        }
    }
}

/// One conflict found in a CRDT: by `ConflictDetecting` when a state joins another, or by
/// `DetectedConflict.refusal(of:error:at:)` when an operation is refused.
public struct DetectedConflict: Sendable, Hashable {
    /// What kind of conflict.
    public var kind: ConflictKind
    /// Where in the object: the names of the map fields leading to the nested object
    /// (empty for the object itself), as `FieldKey.inspectedNames(_:)` shows them.
    public var fieldPath: [String]
    /// What conflicted: the values, the element, the lost assignment (see each type's rule).
    public var detail: InspectedValue
    /// The replicas whose operations were involved, the losing or refused one first when
    /// there is one.
    public var replicas: [ReplicaID]

    /// Creates a conflict.
    public init(kind: ConflictKind, fieldPath: [String] = [], detail: InspectedValue, replicas: [ReplicaID]) {
        self.kind = kind
        self.fieldPath = fieldPath
        self.detail = detail
        self.replicas = replicas
    }
}

/// What a replica knows about the two sides of a join, beyond the states: the only causal
/// information an `LWWRegister` (which keeps timestamps, not dots) can be judged by.
public struct JoinKnowledge: Sendable, Hashable {
    /// The joining replica's clock before the join.
    public var localClock: VectorClock
    /// The clock of the incoming side: an interval's `to`, a state transfer's clock.
    public var incomingClock: VectorClock

    /// Creates the knowledge of a join.
    public init(localClock: VectorClock, incomingClock: VectorClock) {
        self.localClock = localClock
        self.incomingClock = incomingClock
    }
}

/// A CRDT that can say which conflicts joining another state into it makes, without joining.
///
/// `conflicts(joining:knowledge:)` is called on the local state *before* it joins an
/// incoming delta or state, and changes nothing. It reports only what is new: a delta the
/// state already holds (a duplicate delivery), or one whose operations causally follow the
/// local ones, reports nothing. Each conforming type documents its rule.
public protocol ConflictDetecting: CRDT {
    /// The conflicts that joining `other` into this state shows.
    /// - Complexity: at most that of the join.
    func conflicts(joining other: Self, knowledge: JoinKnowledge) -> [DetectedConflict]

    /// The conflicts the state shows by itself, whatever history led to it (an
    /// `MVRegister` with several values). The default is none.
    var standingConflicts: [DetectedConflict] { get }
}

extension ConflictDetecting {
    /// None: most conflicts are events of a join, not properties of a state.
    public var standingConflicts: [DetectedConflict] { [] }

    /// `conflicts(joining:knowledge:)` when `other` is of this type, else none.
    public func conflicts(joiningErased other: any CRDT, knowledge: JoinKnowledge) -> [DetectedConflict] {
        guard let other = other as? Self else { return [] }
        return conflicts(joining: other, knowledge: knowledge)
    }
}

extension DetectedConflict {
    /// The conflicts that joining `other` into `state` shows; none when the type does not
    /// detect conflicts or the states are of different types.
    /// - Complexity: at most that of the join.
    public static func conflicts(
        in state: any CRDT, joining other: any CRDT, knowledge: JoinKnowledge
    ) -> [DetectedConflict] {
        state.conflicts(joiningErased: other, knowledge: knowledge)
    }

    /// The conflicts `state` shows by itself (see `ConflictDetecting.standingConflicts`).
    public static func standing(in state: any CRDT) -> [DetectedConflict] {
        (state as? any ConflictDetecting)?.standingConflicts ?? []
    }

    /// The conflict that refusing `operation` at `replica` with `error` is: a
    /// `.boundedCounterRefused` for a refusal for lack of rights (at any depth of nested
    /// maps), `nil` for any other error.
    public static func refusal(of operation: any Sendable, error: CRDTError, at replica: ReplicaID) -> DetectedConflict?
    {
        guard error.code == .insufficientRights else { return nil }
        var path: [String] = []
        var current: any Sendable = operation
        while true {
            let update: (FieldKey, any NestedOperation)?
            switch current {
            case let map as GMap.Operation:
                if case .update(let nested) = map { update = (nested.field, nested.body) } else { update = nil }
            case let map as RRMap.Operation:
                if case .update(let nested) = map { update = (nested.field, nested.body) } else { update = nil }
            default:
                update = nil
            }
            guard let (field, body) = update else { break }
            path.append(field.name)
            current = body.operationValue
        }
        return DetectedConflict(
            kind: .boundedCounterRefused, fieldPath: path,
            detail: .object([("operation", .string("\(current)")), ("reason", .string(error.message))]),
            replicas: [replica])
    }

    /// The same conflict one map field deeper.
    func nested(under field: String) -> DetectedConflict {
        var copy = self
        copy.fieldPath.insert(field, at: 0)
        return copy
    }
}
