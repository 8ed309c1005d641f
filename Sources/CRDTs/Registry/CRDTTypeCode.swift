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
        public static let gCounter = Kind(rawValue: 1)
        /// `PNCounter`.
        public static let pnCounter = Kind(rawValue: 2)
        /// `ResettableCounter`.
        public static let resettableCounter = Kind(rawValue: 3)
        /// `BoundedCounter`.
        public static let boundedCounter = Kind(rawValue: 4)
        /// `LWWRegister`.
        public static let lwwRegister = Kind(rawValue: 5)
        /// `MVRegister`.
        public static let mvRegister = Kind(rawValue: 6)
        /// `EWFlag`.
        public static let ewFlag = Kind(rawValue: 7)
        /// `DWFlag`.
        public static let dwFlag = Kind(rawValue: 8)
        /// `GSet`.
        public static let gSet = Kind(rawValue: 9)
        /// `AWSet`.
        public static let awSet = Kind(rawValue: 10)
        /// `RWSet`.
        public static let rwSet = Kind(rawValue: 11)
        /// `GMap`.
        public static let gMap = Kind(rawValue: 12)
        /// `RRMap`.
        public static let rrMap = Kind(rawValue: 13)

        /// The type's name.
        public var name: String {
            switch self {
            case .gCounter: "GCounter"
            case .pnCounter: "PNCounter"
            case .resettableCounter: "ResettableCounter"
            case .boundedCounter: "BoundedCounter"
            case .lwwRegister: "LWWRegister"
            case .mvRegister: "MVRegister"
            case .ewFlag: "EWFlag"
            case .dwFlag: "DWFlag"
            case .gSet: "GSet"
            case .awSet: "AWSet"
            case .rwSet: "RWSet"
            case .gMap: "GMap"
            case .rrMap: "RRMap"
            default: "kind \(rawValue)"
            }
        }
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

    /// Reads two bytes; a kind this build does not know is an error.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let raw = try reader.readByte()
        guard (1...13).contains(raw) else { throw reader.error(.unknownTag, "unknown CRDT kind \(raw)") }
        kind = Kind(rawValue: raw)
        valueTag = try reader.readByte()
    }
}
