/// A map from keys to nested dot stores: the dot store of `AWSet` (element → `DotSet`),
/// `RWSet` (element → `DotFunction<Bool>`) and of maps of CRDTs (field → nested store).
///
/// The map never holds an empty nested store: a key whose store becomes empty is gone.
/// All nested stores share the one causal context of the enclosing state, and no dot
/// appears under two keys.
public struct DotMap<Key: Hashable & Sendable & BinaryCodable, Store: DotStore>: DotStore, CustomStringConvertible {
    /// The non-empty nested stores by key.
    public private(set) var entries: [Key: Store]

    /// The empty dot map.
    public init() { entries = [:] }

    /// Whether no key is bound. - Complexity: O(1).
    public var isEmpty: Bool { entries.isEmpty }

    /// The keys. - Complexity: O(1).
    public var keys: Dictionary<Key, Store>.Keys { entries.keys }

    /// Every dot of every nested store. - Complexity: O(n) in the number of dots.
    public var dots: Set<Dot> {
        var result = Set<Dot>()
        for store in entries.values { result.formUnion(store.dots) }
        return result
    }

    /// The nested store of `key` (empty when absent); setting an empty store removes the key.
    /// - Complexity: O(1) plus the store's copy.
    public subscript(key: Key) -> Store {
        get { entries[key] ?? Store() }
        set { entries[key] = newValue.isEmpty ? nil : newValue }
    }

    /// Removes `key` and its nested store, returning the store (empty when absent).
    /// - Complexity: O(1).
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Store {
        entries.removeValue(forKey: key) ?? Store()
    }

    /// Removes every key. - Complexity: O(n).
    public mutating func removeAll() { entries.removeAll() }

    /// The causal join of two dot maps: key by key, the causal join of the nested stores
    /// under the enclosing contexts; keys whose joined store is empty are dropped.
    /// - Complexity: O(n + m) dots, times O(log k) context lookups.
    public static func join(
        _ left: DotMap, _ leftContext: CausalContext, _ right: DotMap, _ rightContext: CausalContext
    ) -> DotMap {
        var result = DotMap()
        for (key, store) in left.entries {
            result[key] = Store.join(store, leftContext, right[key], rightContext)
        }
        for (key, store) in right.entries where left.entries[key] == nil {
            result[key] = Store.join(Store(), leftContext, store, rightContext)
        }
        return result
    }

    /// The entries in canonical key order.
    public var description: String {
        "[" + canonicalEntries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// The entries sorted by the encoded bytes of their keys (the canonical order).
    /// - Complexity: O(n log n).
    public var canonicalEntries: [(key: Key, value: Store)] {
        entries.map { (bytes: $0.key.encodedBytes(), entry: $0) }
            .sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
            .map(\.entry)
    }

    /// Encodes a count and the (key, nested store) pairs in canonical key order.
    /// - Complexity: O(n log n) plus the nested stores.
    public func encode(to writer: inout ByteWriter) {
        writer.writeCount(entries.count)
        for (key, store) in canonicalEntries {
            key.encode(to: &writer)
            store.encode(to: &writer)
        }
    }

    /// Decodes a dot map, each nested store one nesting level deeper.
    /// - Throws: `CodecError` on truncated input, keys not in strictly increasing canonical
    ///   order (a repeated key is out of order), an empty nested store, or a dot that
    ///   appears under two keys.
    /// - Complexity: O(n) plus the nested stores.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumElementSize: 2)
        var entries: [Key: Store] = [:]
        entries.reserveCapacity(count)
        var previous: [UInt8]?
        var seen = Set<Dot>()
        for _ in 0..<count {
            let key = try reader.nested { (nested: inout ByteReader) throws(CodecError) in try Key(from: &nested) }
            let bytes = key.encodedBytes()
            if let previous, !previous.lexicographicallyPrecedes(bytes) {
                throw reader.error(.inconsistent, "dot map keys out of order or repeated at \(key)")
            }
            let store = try reader.nested { (nested: inout ByteReader) throws(CodecError) in try Store(from: &nested) }
            if store.isEmpty { throw reader.error(.inconsistent, "dot map holds an empty store under \(key)") }
            for dot in store.dots where !seen.insert(dot).inserted {
                throw reader.error(.inconsistent, "dot \(dot) appears under two keys")
            }
            entries[key] = store
            previous = bytes
        }
        self.entries = entries
    }
}
