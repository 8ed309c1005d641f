import Concord

/// How the commands show a CRDT state: its value and its causal metadata as
/// `InspectedValue` trees (every built-in type is `Inspectable`; a type of an application's
/// own that is not shows its description).
enum Inspection {
    static func value(of state: any CRDT) -> InspectedValue {
        (state as? any Inspectable)?.inspectedValue ?? .string(String(describing: state))
    }

    static func metadata(of state: any CRDT) -> InspectedValue {
        (state as? any Inspectable)?.inspectedMetadata ?? .null
    }
}
