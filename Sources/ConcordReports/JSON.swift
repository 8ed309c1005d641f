import Concord

/// A JSON document, as the reading commands print with `--json` and `concord serve` serves:
/// built as a tree, printed compact on one line with keys in the order given (so output is
/// stable and diffable).
public indirect enum JSON: Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A signed integer.
    case int(Int64)
    /// An unsigned integer.
    case uint(UInt64)
    /// A number (`null` when not finite).
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSON])
    /// An object, its fields in this order.
    case object([(String, JSON)])
    /// A CRDT value or its metadata, as `InspectedValue.jsonText` renders it.
    case inspected(InspectedValue)

    /// The document as compact JSON text.
    public var text: String {
        var output = ""
        write(to: &output)
        return output
    }

    /// Appends the document as compact JSON text to `output`.
    public func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .int(let value): output += String(value)
        case .uint(let value): output += String(value)
        case .double(let value): output += value.isFinite ? String(value) : "null"
        case .string(let value): InspectedValue.appendQuoted(value, to: &output)
        case .inspected(let value): output += value.jsonText
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                item.write(to: &output)
            }
            output += "]"
        case .object(let fields):
            output += "{"
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { output += "," }
                InspectedValue.appendQuoted(key, to: &output)
                output += ":"
                value.write(to: &output)
            }
            output += "}"
        }
    }

    /// A vector clock as an object from replica id to counter (`"2"`, or `"2.7"` for the
    /// writer of replica 2's 7th incarnation while it caught up: see `ReplicaID`).
    public static func clock(_ clock: VectorClock) -> JSON {
        .object(clock.entries.map { ($0.replica.label, .uint($0.counter)) })
    }
}
