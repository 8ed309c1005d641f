/// The name of a map field: a field name together with the CRDT type it holds, as in
/// AntidoteDB's `{Field, Type}` map keys.
///
/// `("visits", PNCounter)` and `("visits", GCounter)` are two different fields of one map.
///
/// Names are compared, hashed and ordered by their UTF-8 bytes, not by Unicode canonical
/// equivalence (which Swift's `String ==` uses). Otherwise `"é"` and `"e\u{301}"` would be
/// one field stored under whichever spelling a replica saw first, and two replicas holding
/// equal maps could encode them differently.
public struct FieldKey: Hashable, Comparable, Sendable, CustomStringConvertible, BinaryCodable {
    /// The field's name.
    public var name: String
    /// The type code of the CRDT the field holds.
    public var type: CRDTTypeCode

    /// Creates the key of field `name` holding a CRDT of type code `type`.
    public init(name: String, type: CRDTTypeCode) {
        self.name = name
        self.type = type
    }

    /// Creates the key of field `name` holding a `T`.
    public init<T: CRDT>(_ name: String, _ type: T.Type) {
        self.init(name: name, type: T.typeCode)
    }

    /// Equal names (byte for byte) and equal types.
    public static func == (lhs: FieldKey, rhs: FieldKey) -> Bool {
        guard lhs.type == rhs.type, lhs.name.utf8.count == rhs.name.utf8.count else { return false }
        var left = lhs.name, right = rhs.name
        return left.withUTF8 { leftBytes in
            right.withUTF8 { rightBytes in
                for index in 0..<leftBytes.count where leftBytes[index] != rightBytes[index] { return false }
                return true
            }
        }
    }

    /// Hashes the name's UTF-8 bytes and the type code.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(type)
        var copy = name
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Orders by name (UTF-8 bytes), then by type code (kind, value tag): the order maps
    /// encode their fields in.
    public static func < (lhs: FieldKey, rhs: FieldKey) -> Bool {
        if !lhs.name.utf8.elementsEqual(rhs.name.utf8) {
            return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
        }
        return (lhs.type.kind.rawValue, lhs.type.valueTag) < (rhs.type.kind.rawValue, rhs.type.valueTag)
    }

    /// `"name": Type`.
    public var description: String { "\"\(name)\": \(type)" }

    /// The name (length-prefixed UTF-8), then the type code.
    public func encode(to writer: inout ByteWriter) {
        writer.writeString(name)
        type.encode(to: &writer)
    }

    /// Decodes a name and a type code; invalid UTF-8 and unknown kinds are errors.
    public init(from reader: inout ByteReader) throws(CodecError) {
        name = try reader.readString()
        type = try CRDTTypeCode(from: &reader)
    }
}
