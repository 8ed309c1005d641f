/// The name of a CRDT type in storage and on the wire: the kind of type and, for generic
/// types, the tag of its value type.
public struct CRDTTypeCode: Hashable, Sendable, CustomStringConvertible, BinaryCodable {
    /// The kind of CRDT (`GCounter`, `AWSet`, …).
    public struct Kind: Hashable, Sendable {
        /// The raw number.
        public let rawValue: UInt8
        /// Creates a kind from its raw number.
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// `GCounter`.
        public static let gCounter = Kind(BuiltInType.gCounter)
        /// `PNCounter`.
        public static let pnCounter = Kind(BuiltInType.pnCounter)
        /// `ResettableCounter`.
        public static let resettableCounter = Kind(BuiltInType.resettableCounter)
        /// `BoundedCounter`.
        public static let boundedCounter = Kind(BuiltInType.boundedCounter)
        /// `LWWRegister`.
        public static let lwwRegister = Kind(BuiltInType.lwwRegister)
        /// `MVRegister`.
        public static let mvRegister = Kind(BuiltInType.mvRegister)
        /// `EWFlag`.
        public static let ewFlag = Kind(BuiltInType.ewFlag)
        /// `DWFlag`.
        public static let dwFlag = Kind(BuiltInType.dwFlag)
        /// `GSet`.
        public static let gSet = Kind(BuiltInType.gSet)
        /// `AWSet`.
        public static let awSet = Kind(BuiltInType.awSet)
        /// `RWSet`.
        public static let rwSet = Kind(BuiltInType.rwSet)
        /// `GMap`.
        public static let gMap = Kind(BuiltInType.gMap)
        /// `RRMap`.
        public static let rrMap = Kind(BuiltInType.rrMap)

        /// The type's name (`"AWSet"`), or `"kind 200"` for a number no built-in type has.
        public var name: String { BuiltInType(rawValue: rawValue)?.name ?? "kind \(rawValue)" }

        /// The kind of a built-in type.
        init(_ builtIn: BuiltInType) { self.init(rawValue: builtIn.rawValue) }
    }

    /// The kind.
    public var kind: Kind
    /// The value type's `CRDTValue.valueTag`, or 0 for types with no value type.
    public var valueTag: UInt8

    /// Creates a type code.
    public init(_ kind: Kind, valueTag: UInt8 = 0) {
        self.kind = kind
        self.valueTag = valueTag
    }

    /// `AWSet<tag 1>`, or just the kind's name.
    public var description: String { valueTag == 0 ? kind.name : "\(kind.name)<tag \(valueTag)>" }

    /// Two bytes: kind, value tag.
    public func encode(to writer: inout ByteWriter) {
        writer.writeByte(kind.rawValue)
        writer.writeByte(valueTag)
    }

    /// Reads two bytes; a kind that is not a `BuiltInType` is an error.
    @inline(__always)
    public init(from reader: inout ByteReader) throws(CodecError) {
        // Inlined: every stored state begins with one (with `readByte` inlined too, a read
        // ran 44 fewer instructions).
        let raw = try reader.readByte()
        guard BuiltInType(rawValue: raw) != nil else { throw reader.error(.unknownTag, "unknown CRDT kind \(raw)") }
        kind = Kind(rawValue: raw)
        valueTag = try reader.readByte()
    }
}
