import Locking

/// Maps a `CRDTTypeCode` to its concrete Swift type, so storage and the wire can decode a
/// state whose type is known only at run time (a map field, a stored object, a delta).
///
/// Every built-in type is registered from the start (see `BuiltInType`), including each
/// generic type instantiated with each built-in value type (`String`, `[UInt8]`, `Int64`,
/// `UInt64`, `Bool`). Register instantiations with your own `CRDTValue` types before
/// decoding or storing them in a map. All members are thread-safe.
public enum CRDTRegistry {
    private static let table = Mutex<[CRDTTypeCode: Entry]>(BuiltInType.registryTable())

    /// A registered type and its decoder.
    struct Entry: Sendable {
        let type: any CRDT.Type
        /// `type.init(from:)`, made where the type is known: for the built-in types it runs
        /// code specialized for each (through `any CRDT.Type` the generic code runs, which
        /// looked type metadata up on every decoded state).
        let decode: @Sendable (inout ByteReader) throws(CodecError) -> any CRDT

        init<T: CRDT>(_ type: T.Type) {
            self.type = type
            decode = { (reader: inout ByteReader) throws(CodecError) -> any CRDT in try T(from: &reader) }
        }

        init(erased type: any CRDT.Type) {
            self.type = type
            decode = { (reader: inout ByteReader) throws(CodecError) -> any CRDT in try type.init(from: &reader) }
        }
    }

    /// The type registered for `code`, or `nil` when none is.
    /// - Complexity: O(1) (a lock and a hash lookup).
    public static func type(for code: CRDTTypeCode) -> (any CRDT.Type)? {
        table.withLock { $0[code]?.type }
    }

    private static func entry(for code: CRDTTypeCode) -> Entry? {
        table.withLock { $0[code] }
    }

    /// Registers `type` under its `typeCode`, e.g. `CRDTRegistry.register(AWSet<MyID>.self)`.
    ///
    /// Registering a type again does nothing. Registering a *different* type under a code
    /// that is taken is a programmer error and traps: the two types would decode each
    /// other's bytes. Pick a `valueTag` in 128...255 for your value types to avoid that.
    public static func register(_ type: any CRDT.Type) {
        table.withLock { table in
            if let existing = table[type.typeCode]?.type {
                precondition(
                    ObjectIdentifier(existing) == ObjectIdentifier(type),
                    "CRDTRegistry: \(type) and \(existing) share the type code \(type.typeCode); give the value type another valueTag"
                )
                return
            }
            table[type.typeCode] = Entry(erased: type)
        }
    }

    /// Whether `type` is the type registered for its own code.
    static func isRegistered(_ type: any CRDT.Type) -> Bool {
        guard let registered = Self.type(for: type.typeCode) else { return false }
        return ObjectIdentifier(registered) == ObjectIdentifier(type)
    }

    /// Decodes a state of the type registered for `code` (the bare state encoding, as
    /// `BinaryCodable.encode(to:)` writes it).
    ///
    /// - Throws: `CodecError` with code `.unknownTag` when no type is registered for `code`,
    ///   or whatever the type's decoder throws.
    public static func decode(_ code: CRDTTypeCode, from reader: inout ByteReader) throws(CodecError) -> any CRDT {
        guard let entry = entry(for: code) else {
            throw reader.error(.unknownTag, "no CRDT type is registered for \(code)")
        }
        return try entry.decode(&reader)
    }

    /// Decodes states of registered types one after another, taking the registry's lock
    /// only when the type code changes (a list of objects comes in runs of one type).
    public struct Decoder {
        private var last: (code: CRDTTypeCode, entry: Entry)?

        /// A decoder that has looked nothing up yet.
        public init() {}

        /// `CRDTRegistry.decode(code, from: &reader)`.
        public mutating func decode(_ code: CRDTTypeCode, from reader: inout ByteReader) throws(CodecError) -> any CRDT
        {
            if let last, last.code == code { return try last.entry.decode(&reader) }
            guard let entry = CRDTRegistry.entry(for: code) else {
                throw reader.error(.unknownTag, "no CRDT type is registered for \(code)")
            }
            last = (code, entry)
            return try entry.decode(&reader)
        }
    }

    /// Decodes a `CRDT.serialized()` state of any registered type: format version, type
    /// code, state, and nothing after it.
    ///
    /// - Throws: `CodecError`: `.unknownTag` for an unregistered type code,
    ///   `.unsupportedVersion`, `.trailingBytes`, or whatever the type's decoder throws.
    public static func decode(serialized bytes: [UInt8]) throws(CodecError) -> any CRDT {
        var reader = ByteReader(bytes)
        let version = try reader.readByte()
        let code = try CRDTTypeCode(from: &reader)
        guard let entry = entry(for: code) else {
            throw CodecError(.unknownTag, offset: 1, "no CRDT type is registered for \(code)")
        }
        guard version == entry.type.formatVersion else {
            throw CodecError(
                .unsupportedVersion, offset: 0,
                "format version \(version); this build reads \(entry.type.formatVersion) for \(code)")
        }
        let state = try entry.decode(&reader)
        try reader.finish()
        return state
    }

    /// The initial state of the type registered for `code`, or `nil` when none is.
    public static func empty(_ code: CRDTTypeCode) -> (any CRDT)? {
        type(for: code).map { $0.init() }
    }
}

extension CRDT {
    /// Joins a type-erased state of the same type.
    ///
    /// - Throws: `CRDTError` with code `.typeMismatch` when `other` is not a `Self`; this
    ///   state is then unchanged.
    public mutating func join(erased other: any CRDT) throws(CRDTError) {
        guard let other = other as? Self else {
            throw CRDTError(
                .typeMismatch,
                "cannot join a \(type(of: other).typeCode) into a \(Self.typeCode); the states are of different types")
        }
        join(other)
    }
}
