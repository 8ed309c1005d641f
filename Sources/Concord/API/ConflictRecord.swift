/// One conflict a replica saw: what AntidoteDB's operators count as `crdt_conflicts_total`
/// and list with `show-conflicts`.
///
/// A replica records a conflict when it joins a peer's interval or state into an object
/// and the join shows one (see `ConflictKind` and each type's `ConflictDetecting` rule), or
/// when it refuses a `BoundedCounter` operation for lack of rights. `Replica.conflicts()`
/// returns the records, plus the `MVRegister`s that hold several values right now.
public struct ConflictRecord: Sendable, Hashable, CustomStringConvertible {
    /// Where a record comes from.
    public enum Origin: Sendable, Hashable {
        /// Recorded as it happened, under this sequence number (1, 2, … per replica, never
        /// reused, so it orders the records and counts every conflict ever recorded).
        case recorded(sequenceNumber: UInt64)
        /// Found by scanning the current states (an `MVRegister` with several values).
        case scan
    }

    /// Where the record comes from.
    public var origin: Origin
    /// When the replica recorded it (microseconds since the Unix epoch, or simulated time);
    /// nil for a record found by scan.
    public var timeMicroseconds: UInt64?
    /// The replica that saw the conflict.
    public var replica: ReplicaID
    /// The object's bucket.
    public var bucket: String
    /// The object's name within its bucket.
    public var name: String
    /// The object's CRDT type, as in Swift (`LWWRegister<String>`).
    public var typeName: String
    /// What kind of conflict.
    public var kind: ConflictKind
    /// The map fields leading to the nested object (empty: the object itself).
    public var fieldPath: [String]
    /// What conflicted (see `DetectedConflict.detail`).
    public var detail: InspectedValue
    /// The replicas whose operations were involved, the losing or refused one first when
    /// there is one.
    public var replicas: [ReplicaID]

    /// One line for a terminal:
    /// `#3 r1 lwwAssignmentLost posts/title: LWWRegister<String> replicas r1,r2 {"lost":…}`.
    public var description: String {
        let number: String
        switch origin {
        case .recorded(let sequenceNumber): number = "#\(sequenceNumber)"
        case .scan: number = "scan"
        }
        let path = fieldPath.isEmpty ? "" : "." + fieldPath.joined(separator: ".")
        return "\(number) \(replica) \(kind) \(bucket)/\(name)\(path): \(typeName) replicas "
            + replicas.map(\.description).joined(separator: ",") + " " + detail.jsonText
    }

    /// The record as a tree, for JSON output.
    public var inspected: InspectedValue {
        var fields: [(String, InspectedValue)] = []
        switch origin {
        case .recorded(let sequenceNumber): fields.append(("sequenceNumber", .unsigned(sequenceNumber)))
        case .scan: fields.append(("foundByScan", .bool(true)))
        }
        fields += [
            ("timeMicroseconds", timeMicroseconds.map { .unsigned($0) } ?? .null),
            ("replica", .string(replica.description)),
            ("bucket", .string(bucket)), ("name", .string(name)), ("type", .string(typeName)),
            ("kind", .string(kind.description)), ("fieldPath", .array(fieldPath.map { .string($0) })),
            ("detail", detail), ("replicas", .array(replicas.map { .string($0.description) })),
        ]
        return .object(fields)
    }

    init(origin: Origin, timeMicroseconds: UInt64?, replica: ReplicaID, key: ObjectKey, conflict: DetectedConflict) {
        self.origin = origin
        self.timeMicroseconds = timeMicroseconds
        self.replica = replica
        bucket = key.bucket
        name = key.name
        typeName = Self.typeName(key.type)
        kind = conflict.kind
        fieldPath = conflict.fieldPath
        detail = conflict.detail
        replicas = conflict.replicas
    }

    /// `LWWRegister<String>`; value types Concord does not define show their tag.
    static func typeName(_ code: CRDTTypeCode) -> String {
        guard code.valueTag != 0 else { return code.kind.name }
        let value =
            switch code.valueTag {
            case String.valueTag: "String"
            case [UInt8].valueTag: "[UInt8]"
            case Int64.valueTag: "Int64"
            case Bool.valueTag: "Bool"
            case UInt64.valueTag: "UInt64"
            default: "tag \(code.valueTag)"
            }
        return "\(code.kind.name)<\(value)>"
    }
}
