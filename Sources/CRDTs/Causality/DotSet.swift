/// A set of dots: the dot store of `EWFlag`, and of each element of `AWSet`.
///
/// Joined with `DotStore.join`, a dot survives if both sides hold it or the side that lacks
/// it has not seen it.
public struct DotSet: DotStore, CustomStringConvertible {
    /// The dots.
    public private(set) var elements: Set<Dot>

    /// The empty dot set.
    public init() { elements = [] }

    /// A dot set holding `dots`.
    public init(_ dots: some Sequence<Dot>) { elements = Set(dots) }

    /// Whether the set holds no dot. - Complexity: O(1).
    public var isEmpty: Bool { elements.isEmpty }

    /// The dots. - Complexity: O(1).
    public var dots: Set<Dot> { elements }

    /// Whether the set holds `dot`. - Complexity: O(1).
    public func contains(_ dot: Dot) -> Bool { elements.contains(dot) }

    /// Adds `dot`. - Complexity: O(1).
    public mutating func insert(_ dot: Dot) { elements.insert(dot) }

    /// Removes every dot. - Complexity: O(n).
    public mutating func removeAll() { elements.removeAll() }

    /// The causal join of two dot sets under their contexts.
    /// - Complexity: O(n + m) dots, times O(log k) context lookups.
    public static func join(
        _ left: DotSet, _ leftContext: CausalContext, _ right: DotSet, _ rightContext: CausalContext
    ) -> DotSet {
        var result = DotSet()
        for dot in left.elements where survives(dot, inOther: right.contains(dot), otherContext: rightContext) {
            result.elements.insert(dot)
        }
        for dot in right.elements where survives(dot, inOther: left.contains(dot), otherContext: leftContext) {
            result.elements.insert(dot)
        }
        return result
    }

    /// The dots, sorted.
    public var description: String { "\(elements.sorted())" }

    /// Encodes a count and the dots in increasing order.
    /// - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) {
        writer.writeCount(elements.count)
        for dot in elements.sorted() { dot.encode(to: &writer) }
    }

    /// Decodes a dot set.
    /// - Throws: `CodecError` on truncated input, a zero counter, or dots not in strictly
    ///   increasing order (a repeated dot is out of order).
    /// - Complexity: O(n).
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumElementSize: 2)
        var elements = Set<Dot>()
        elements.reserveCapacity(count)
        var previous: Dot?
        for _ in 0..<count {
            let dot = try Dot(from: &reader)
            if let previous, previous >= dot { throw reader.error(.inconsistent, "dot set out of order at \(dot)") }
            elements.insert(dot)
            previous = dot
        }
        self.elements = elements
    }
}
