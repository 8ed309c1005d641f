#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The untyped storage name of an object — bucket, type and name, like AntidoteDB's bound
/// object — with its encoded key bytes cached. The type is part of the name, so two
/// replicas that use one name with two types make two objects, never a conflict.
struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    let bucket: String
    let name: String
    let type: CRDTTypeCode
    /// Length-prefixed bucket, the type code, then the name: unambiguous for any strings.
    let bytes: [UInt8]

    init(bucket: String, name: String, type: CRDTTypeCode) {
        self.bucket = bucket
        self.name = name
        self.type = type
        var writer = ByteWriter(capacity: bucket.utf8.count + name.utf8.count + 4)
        writer.writeString(bucket)
        type.encode(to: &writer)
        writer.writeRaw(name.utf8)
        bytes = writer.bytes
    }

    init(bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        bucket = try reader.readString()
        type = try CRDTTypeCode(from: &reader)
        let rest = try reader.readRaw(count: reader.remaining)
        guard let name = String(validating: rest, as: UTF8.self) else {
            throw CodecError(.invalidUTF8, offset: 0, "object name is not valid UTF-8")
        }
        self.name = name
        self.bytes = bytes
    }

    static func == (lhs: ObjectKey, rhs: ObjectKey) -> Bool { lhs.bytes == rhs.bytes }
    /// Hashes the encoded bytes in one call: `hasher.combine(bytes)` on a `[UInt8]` feeds
    /// the hasher byte by byte, which showed in every transaction's profile (working-set
    /// and commit lookups).
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    /// Bytewise order (LMDB's key order), compared with `memcmp`: the generic
    /// `lexicographicallyPrecedes`, and then a byte loop, showed in the profile of every
    /// commit, which sorts its keys.
    static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in
                let common = min(left.count, right.count)
                if common > 0 {
                    let order = memcmp(left.baseAddress!, right.baseAddress!, common)
                    if order != 0 { return order < 0 }
                }
                return left.count < right.count
            }
        }
    }
    var description: String { "\(bucket)/\(name): \(type)" }
}
