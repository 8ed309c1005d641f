#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The untyped storage name of an object — bucket, type and name, like AntidoteDB's bound
/// object — with its encoded key bytes cached. The type is part of the name, so two
/// replicas that use one name with two types make two objects, never a conflict.
struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    let type: CRDTTypeCode
    /// Length-prefixed bucket, the type code, then the name: unambiguous for any strings.
    let bytes: [UInt8]
    /// Where the bucket's and the name's UTF-8 lie in `bytes` (read from the bytes on
    /// demand: a state transfer makes a key per object and seldom asks for its strings).
    private let bucketBytes: Range<Int>
    private let nameStart: Int

    /// The bucket.
    var bucket: String { String(decoding: bytes[bucketBytes], as: UTF8.self) }
    /// The name within the bucket.
    var name: String { String(decoding: bytes[nameStart...], as: UTF8.self) }

    init(bucket: String, name: String, type: CRDTTypeCode) {
        self.type = type
        var writer = ByteWriter(capacity: bucket.utf8.count + name.utf8.count + 4)
        writer.writeString(bucket)
        let bucketEnd = writer.bytes.count
        type.encode(to: &writer)
        nameStart = writer.bytes.count
        writer.writeRaw(name.utf8)
        bytes = writer.bytes
        bucketBytes = (bucketEnd - bucket.utf8.count)..<bucketEnd
    }

    /// Parses encoded key bytes, checking that the bucket and name are UTF-8.
    init(bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        let bucketCount = try reader.readCount()
        let bucketStart = reader.offset
        try reader.skip(bucketCount)
        guard Self.isUTF8(bytes[bucketStart..<reader.offset]) else {
            throw CodecError(.invalidUTF8, offset: bucketStart, "string is not valid UTF-8")
        }
        bucketBytes = bucketStart..<reader.offset
        type = try CRDTTypeCode(from: &reader)
        nameStart = reader.offset
        guard Self.isUTF8(bytes[nameStart...]) else {
            throw CodecError(.invalidUTF8, offset: 0, "object name is not valid UTF-8")
        }
        self.bytes = bytes
    }

    /// The type code inside encoded key bytes, read in place without checking the strings
    /// (a key the store holds was checked when it was written); nil when the bytes are too
    /// short to hold one.
    static func typeCode(ofEncoded bytes: UnsafeRawBufferPointer) -> CRDTTypeCode? {
        // The bucket's length (LEB128, at most five bytes for an `Int`) and bytes, then the code.
        var offset = 0
        var bucketCount = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            guard offset < bytes.count else { return nil }
            let byte = bytes[offset]
            offset += 1
            bucketCount |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
        }
        offset += bucketCount
        guard offset >= 0, offset + 2 <= bytes.count else { return nil }
        return CRDTTypeCode(CRDTTypeCode.Kind(rawValue: bytes[offset]), valueTag: bytes[offset + 1])
    }

    /// Whether `bytes` is valid UTF-8 (ASCII, the common case, without building a string).
    private static func isUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy { $0 < 0x80 } || String(validating: bytes, as: UTF8.self) != nil
    }

    /// Equal bytes, compared with `memcmp` after the counts: `Array ==` compares byte by
    /// byte unless both share one buffer, which showed in a batch's profile (every object's
    /// key is compared with the first's).
    static func == (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count && rhs.bytes.withUnsafeBytes { compare(lhs.bytes, $0) == 0 }
    }
    /// Hashes the encoded bytes in one call: `hasher.combine(bytes)` on a `[UInt8]` feeds
    /// the hasher byte by byte, which showed in every transaction's profile (working-set
    /// and commit lookups).
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    /// Bytewise order (LMDB's key order), compared with `memcmp`: the generic
    /// `lexicographicallyPrecedes`, and then a byte loop, showed in the profile of every
    /// commit, which sorts its keys.
    static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        rhs.bytes.withUnsafeBytes { compare(lhs.bytes, $0) < 0 }
    }

    /// The bytewise order of encoded keys `left` and `right` (LMDB's): negative, zero or
    /// positive.
    static func compare(_ left: [UInt8], _ right: UnsafeRawBufferPointer) -> Int {
        left.withUnsafeBytes { left in
            let common = min(left.count, right.count)
            if common > 0 {
                let order = memcmp(left.baseAddress!, right.baseAddress!, common)
                if order != 0 { return Int(order) }
            }
            return left.count - right.count
        }
    }

    var description: String { "\(bucket)/\(name): \(type)" }
}
