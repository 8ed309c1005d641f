/// A type that can be a set element or a register value in a CRDT.
///
/// Concord ships conformances for `String`, `[UInt8]`, `Int64`, `UInt64` and `Bool`. The
/// tag goes into the CRDT's type code, so an `AWSet<String>` stored on disk is never
/// read back as an `AWSet<Int64>`.
public protocol CRDTValue: Hashable, Sendable, BinaryCodable {
    /// A tag unique among value types (1...127 are Concord's; use 128...255 for your own).
    static var valueTag: UInt8 { get }
}

extension CRDTValue {
    /// Sorts values by their encoded bytes: the canonical order Concord encodes sets in,
    /// defined for every value type (even those that are not `Comparable`).
    public static func canonicallySorted(_ values: some Sequence<Self>) -> [Self] {
        values.map { ($0.encodedBytes(), $0) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }.map(\.1)
    }
}

extension String: CRDTValue {
    /// 1.
    public static var valueTag: UInt8 { 1 }

    /// A length-prefixed UTF-8 string in Unicode normalization form C.
    ///
    /// Swift's `==` treats canonically equivalent strings ("é" and "e\u{301}") as one, so a
    /// set holds whichever spelling it saw first; encoding the normal form makes equal
    /// states encode to equal bytes whatever the spelling each replica holds.
    /// - Complexity: O(n); ASCII strings take the standard library's fast path.
    public func encode(to writer: inout ByteWriter) { writer.writeBytes(Array(_nfcCodeUnits)) }

    /// Rejects invalid UTF-8, and strings not in normalization form C (an encoder never
    /// writes them, so they can only come from damaged or hostile input).
    public init(from reader: inout ByteReader) throws(CodecError) {
        let start = reader.offset
        let string = try reader.readString()
        guard string.utf8.elementsEqual(string._nfcCodeUnits) else {
            throw CodecError(.inconsistent, offset: start, "string is not in Unicode normalization form C")
        }
        self = string
    }
}

extension Array: BinaryCodable where Element == UInt8 {
    /// A length-prefixed byte string.
    public func encode(to writer: inout ByteWriter) { writer.writeBytes(self) }
    /// Reads a length-prefixed byte string.
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readBytes() }
}

extension Array: CRDTValue where Element == UInt8 {
    /// 2.
    public static var valueTag: UInt8 { 2 }
}

extension Int64: CRDTValue {
    /// 3.
    public static var valueTag: UInt8 { 3 }
    /// Zigzag LEB128.
    public func encode(to writer: inout ByteWriter) { writer.writeVarInt(self) }
    /// Zigzag LEB128.
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readVarInt() }
}

extension Bool: CRDTValue {
    /// 4.
    public static var valueTag: UInt8 { 4 }
    /// One byte, 0 or 1.
    public func encode(to writer: inout ByteWriter) { writer.writeBool(self) }
    /// Rejects bytes other than 0 and 1.
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readBool() }
}

extension UInt64: CRDTValue {
    /// 5.
    public static var valueTag: UInt8 { 5 }
    /// LEB128.
    public func encode(to writer: inout ByteWriter) { writer.writeVarUInt(self) }
    /// LEB128.
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readVarUInt() }
}
