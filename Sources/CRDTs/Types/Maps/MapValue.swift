/// What reading a `GMap` or an `RRMap` returns: a typed view of its visible fields.
///
/// Ask for a field by name and type: `value["visits", as: PNCounter.self]` is the nested
/// counter's value, or `nil` when the map has no such field (an `RRMap` hides fields that
/// were removed and not updated since). `state(of:as:)` gives the nested state itself, for
/// nested maps or for anything the value alone does not show.
///
/// Two views are equal when they show the same fields with equal values (values compared
/// with `==` where the nested value type is `Equatable`, by canonical encoding otherwise).
public struct MapValue: Sendable, Equatable, CustomStringConvertible {
    private let states: [FieldKey: any CRDT]
    /// The visible fields, sorted by name and then type code.
    public let fields: [FieldKey]

    /// Creates the view of `states` (every entry is shown).
    init(_ states: [FieldKey: any CRDT]) {
        self.states = states
        fields = states.keys.sorted()
    }

    /// The empty view.
    public init() { self.init([:]) }

    /// How many fields are visible.
    public var count: Int { fields.count }

    /// Whether no field is visible.
    public var isEmpty: Bool { fields.isEmpty }

    /// Whether the field `key` is visible.
    public func contains(_ key: FieldKey) -> Bool { states[key] != nil }

    /// The value of the field `name` holding a `T`, or `nil` when there is no such visible
    /// field. - Complexity: O(1) plus the cost of the nested `value`.
    public subscript<T: CRDT>(name: String, as type: T.Type) -> T.Value? {
        state(of: name, as: type)?.value
    }

    /// The nested state of the field `name` holding a `T`, or `nil` when there is no such
    /// visible field. - Complexity: O(1).
    public func state<T: CRDT>(of name: String, as type: T.Type) -> T? {
        states[FieldKey(name, type)] as? T
    }

    /// The same fields with the same values.
    public static func == (lhs: MapValue, rhs: MapValue) -> Bool {
        guard lhs.fields == rhs.fields else { return false }
        for key in lhs.fields {
            guard let left = lhs.states[key], let right = rhs.states[key],
                Self.sameValue(left, right)
            else { return false }
        }
        return true
    }

    /// `["name": Type = value, …]`.
    public var description: String {
        "[" + fields.map { key in "\(key) = \(states[key].map { describeValue($0) } ?? "?")" }.joined(separator: ", ")
            + "]"
    }

    private func describeValue<T: CRDT>(_ state: T) -> String { "\(state.value)" }

    /// Whether two erased states read the same: equal values when the value type is
    /// `Equatable`, otherwise equal canonical encodings.
    private static func sameValue<T: CRDT>(_ lhs: T, _ rhs: any CRDT) -> Bool {
        guard let rhs = rhs as? T else { return false }
        if let value = lhs.value as? any Equatable {
            return value.isEqual(to: rhs.value)
        }
        return lhs.encodedBytes() == rhs.encodedBytes()
    }
}

extension Equatable {
    /// Whether `other` is a `Self` equal to this value.
    fileprivate func isEqual(to other: Any) -> Bool {
        guard let other = other as? Self else { return false }
        return self == other
    }
}
