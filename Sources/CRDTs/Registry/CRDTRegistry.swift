import Locking

/// Maps a `CRDTTypeCode` to its concrete Swift type, so storage and the wire can decode a
/// state whose type is known only at run time (a map field, a stored object, a delta).
///
/// Every built-in type is registered from the start (see `BuiltInType`), including each
/// generic type instantiated with each built-in value type (`String`, `[UInt8]`, `Int64`,
/// `UInt64`, `Bool`). Register instantiations with your own `CRDTValue` types before
/// decoding or storing them in a map. All members are thread-safe.
public enum CRDTRegistry {
    private static let table = Mutex<[CRDTTypeCode: any CRDT.Type]>(BuiltInType.registryTable())

    /// The type registered for `code`, or `nil` when none is.
    /// - Complexity: O(1) (a lock and a hash lookup).
    public static func type(for code: CRDTTypeCode) -> (any CRDT.Type)? {
        table.withLock { $0[code] }
    }

    /// Registers `type` under its `typeCode`, e.g. `CRDTRegistry.register(AWSet<MyID>.self)`.
    ///
    /// Registering a type again does nothing. Registering a *different* type under a code
    /// that is taken is a programmer error and traps: the two types would decode each
    /// other's bytes. Pick a `valueTag` in 128...255 for your value types to avoid that.
    public static func register(_ type: any CRDT.Type) {
        table.withLock { table in
            if let existing = table[type.typeCode] {
                precondition(
                    ObjectIdentifier(existing) == ObjectIdentifier(type),
                    "CRDTRegistry: \(type) and \(existing) share the type code \(type.typeCode); give the value type another valueTag"
                )
                return
            }
            table[type.typeCode] = type
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
        guard let type = type(for: code) else {
            throw reader.error(.unknownTag, "no CRDT type is registered for \(code)")
        }
        return try type.init(from: &reader)
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
        guard let type = type(for: code) else {
            throw CodecError(.unknownTag, offset: 1, "no CRDT type is registered for \(code)")
        }
        guard version == type.formatVersion else {
            throw CodecError(
                .unsupportedVersion, offset: 0,
                "format version \(version); this build reads \(type.formatVersion) for \(code)")
        }
        let state = try type.init(from: &reader)
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
