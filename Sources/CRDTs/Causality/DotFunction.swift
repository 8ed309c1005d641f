/// A map from dots to values: the dot store of `MVRegister` and `DWFlag`, and of each
/// element of `RWSet`.
///
/// A dot names one update, so two replicas never bind one dot to different values; the
/// join keeps a dot (with its value) if both sides hold it or the side that lacks it has
/// not seen it.
public struct DotFunction<Value: Hashable & Sendable & BinaryCodable>: DotStore, CustomStringConvertible {
    /// The entries.
    public private(set) var entries: [Dot: Value]

    /// The empty dot function.
    public init() { entries = [:] }

    /// A dot function holding `entries`.
    public init(_ entries: [Dot: Value]) { self.entries = entries }

    /// Whether no dot is bound. - Complexity: O(1).
    public var isEmpty: Bool { entries.isEmpty }

    /// The bound dots. - Complexity: O(n).
    public var dots: Set<Dot> { Set(entries.keys) }

    /// The values (one per dot, in no particular order). - Complexity: O(n).
    public var values: [Value] { Array(entries.values) }

    /// The value bound to `dot`, or `nil`; setting `nil` unbinds it. - Complexity: O(1).
    public subscript(dot: Dot) -> Value? {
        get { entries[dot] }
        set { entries[dot] = newValue }
    }

    /// Unbinds every dot. - Complexity: O(n).
    public mutating func removeAll() { entries.removeAll() }

    /// The causal join of two dot functions under their contexts.
    /// - Complexity: O(n + m) entries, times O(log k) context lookups.
    public static func join(
        _ left: DotFunction, _ leftContext: CausalContext, _ right: DotFunction, _ rightContext: CausalContext
    ) -> DotFunction {
        var result = DotFunction()
        for (dot, value) in left.entries
        where survives(dot, inOther: right.entries[dot] != nil, otherContext: rightContext) {
            result.entries[dot] = value
        }
        for (dot, value) in right.entries
        where survives(dot, inOther: left.entries[dot] != nil, otherContext: leftContext) {
            result.entries[dot] = result.entries[dot] ?? value
        }
        return result
    }

    /// The entries, sorted by dot.
    public var description: String {
        "[" + entries.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// Encodes a count and the (dot, value) pairs in increasing dot order.
    /// - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) {
        writer.writeCount(entries.count)
        for (dot, value) in entries.sorted(by: { $0.key < $1.key }) {
            dot.encode(to: &writer)
            value.encode(to: &writer)
        }
    }

    /// Decodes a dot function.
    /// - Throws: `CodecError` on truncated input, a bad value, or dots not in strictly
    ///   increasing order (a repeated dot is out of order).
    /// - Complexity: O(n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumElementSize: 3)
        var entries: [Dot: Value] = [:]
        entries.reserveCapacity(count)
        var previous: Dot?
        for _ in 0..<count {
            let dot = try Dot(from: &reader)
            if let previous, previous >= dot {
                throw reader.error(.inconsistent, "dot function out of order at \(dot)")
            }
            entries[dot] = try reader.nested { (nested: inout ByteReader) throws(CodecError) in try Value(from: &nested)
            }
            previous = dot
        }
        self.entries = entries
    }
}
