/// A grow-only set (AntidoteDB's `set_go`): elements are added, never removed.
///
/// The state is the plain set of elements and the join is the union: with nothing to
/// remove, a grow-only set needs no dots. For the same reason `GSet` is not a
/// `ResettableCRDT`: without dots a reset could not tell the elements it observed from
/// concurrent additions, so a map cannot hold it as a resettable field. Use `AWSet` where
/// elements must also go.
public struct GSet<E: CRDTValue>: CRDT, CustomStringConvertible {
    /// The operations of a grow-only set.
    public enum Operation: Sendable, Hashable {
        /// Adds one element.
        case add(E)
        /// Adds every element of the array.
        case addAll([E])
    }

    /// The elements.
    public private(set) var elements: Set<E>

    /// The empty set.
    public init() { elements = [] }

    init(elements: Set<E>) { self.elements = elements }

    /// `GSet<E.valueTag>`.
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.gSet, valueTag: E.valueTag) }

    /// False: an operation is sound on any state; one made without the whole state counts as
    /// concurrent with what its replica lacks.
    public static var operationsNeedCompleteState: Bool { false }
    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The elements. - Complexity: O(1).
    public var value: Set<E> { elements }

    /// Adds the elements; the delta holds exactly the elements of the operation. Never throws.
    /// - Complexity: O(k) for k elements added.
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> GSet {
        let added: Set<E>
        switch operation {
        case .add(let element): added = [element]
        case .addAll(let newElements): added = Set(newElements)
        }
        elements.formUnion(added)
        return GSet(elements: added)
    }

    /// The union. - Complexity: O(m) for m elements in `other`.
    public mutating func join(_ other: GSet) { elements.formUnion(other.elements) }

    /// `GSet(<elements in canonical order>)`.
    public var description: String { "GSet(\(E.canonicallySorted(elements)))" }

    /// Encodes a count and the elements in canonical order. - Complexity: O(n log n).
    public func encode(to writer: inout ByteWriter) {
        writer.writeCount(elements.count)
        for element in E.canonicallySorted(elements) { element.encode(to: &writer) }
    }

    /// Decodes a set.
    /// - Throws: `CodecError` on malformed input, or elements not in strictly increasing
    ///   canonical order (a repeated element is out of order).
    /// - Complexity: O(n) plus decoding the elements.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumElementSize: 1)
        var elements = Set<E>()
        elements.reserveCapacity(count)
        var previous: [UInt8]?
        for _ in 0..<count {
            let element = try reader.nested { (nested: inout ByteReader) throws(CodecError) in try E(from: &nested) }
            let bytes = element.encodedBytes()
            if let previous, !previous.lexicographicallyPrecedes(bytes) {
                throw reader.error(.inconsistent, "set elements out of order or repeated at \(element)")
            }
            elements.insert(element)
            previous = bytes
        }
        self.elements = elements
    }
}
