extension CRDTValue {
    /// Sorts values in the order reads return them: the natural order for `Comparable`
    /// value types (`String`, `Int64`, `UInt64`, `Bool`, your own), lexicographic byte
    /// order for `[UInt8]`, and the canonical encoded-bytes order
    /// (`canonicallySorted(_:)`) for every other value type.
    ///
    /// The canonical order is not the natural one for every type (zigzag-encoded `Int64`
    /// puts -1 after 0, length-prefixed byte strings put short ones first), hence this hook.
    /// - Complexity: O(n log n).
    public static func sortedForReading(_ values: some Sequence<Self>) -> [Self] {
        let array = Array(values)
        if Self.self == [UInt8].self, let bytes = array as? [[UInt8]] {
            return bytes.sorted { $0.lexicographicallyPrecedes($1) } as? [Self] ?? canonicallySorted(array)
        }
        if let comparable = Self.self as? any Comparable.Type {
            return naturallySorted(array, as: comparable) ?? canonicallySorted(array)
        }
        return canonicallySorted(array)
    }
}

/// Sorts `values` as the `Comparable` type `C` they are known to be.
private func naturallySorted<V, C: Comparable>(_ values: [V], as type: C.Type) -> [V]? {
    guard let comparable = values as? [C] else { return nil }
    return comparable.sorted() as? [V]
}
