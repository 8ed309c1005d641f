/// A decoding failure: what was wrong with the bytes and where.
///
/// Every decoder in Concord throws this (never traps) on truncated, oversized, mistyped
/// or internally inconsistent input.
public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem the decoder found.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The raw code.
        public let rawValue: UInt8
        /// Creates a code from its raw value.
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The input ended before the value did.
        public static let truncated = Code(rawValue: 1)
        /// A variable-length integer does not fit its type.
        public static let overflow = Code(rawValue: 2)
        /// A type, case or element tag that this version does not know.
        public static let unknownTag = Code(rawValue: 3)
        /// A format version that this version cannot read.
        public static let unsupportedVersion = Code(rawValue: 4)
        /// A count larger than the remaining input could possibly hold.
        public static let countTooLarge = Code(rawValue: 5)
        /// Well-formed pieces that contradict each other (a dot above its own context,
        /// entries out of order, a duplicate key, a zero where zero is impossible).
        public static let inconsistent = Code(rawValue: 6)
        /// Bytes left over after the value.
        public static let trailingBytes = Code(rawValue: 7)
        /// A string that is not valid UTF-8.
        public static let invalidUTF8 = Code(rawValue: 8)
        /// The value is of another CRDT type than the one asked for.
        public static let typeMismatch = Code(rawValue: 9)

        /// The code's name.
        public var description: String {
            switch self {
            case .truncated: "truncated"
            case .overflow: "overflow"
            case .unknownTag: "unknown tag"
            case .unsupportedVersion: "unsupported version"
            case .countTooLarge: "count too large"
            case .inconsistent: "inconsistent"
            case .trailingBytes: "trailing bytes"
            case .invalidUTF8: "invalid UTF-8"
            case .typeMismatch: "type mismatch"
            default: "code \(rawValue)"
            }
        }
    }

    /// The kind of problem.
    public var code: Code
    /// The byte offset where the decoder noticed it.
    public var offset: Int
    /// A sentence that says what was wrong.
    public var detail: String

    /// Creates an error.
    public init(_ code: Code, offset: Int, _ detail: String) {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    /// `<code> at byte <offset>: <detail>`.
    public var description: String { "\(code) at byte \(offset): \(detail)" }
}

/// Appends Concord's binary encoding to a byte buffer.
///
/// Integers are LEB128 variable-length (signed ones zigzag-encoded), strings and byte
/// strings are length-prefixed, collections are count-prefixed.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer that reserves `capacity` bytes.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends one byte.
    public mutating func writeByte(_ value: UInt8) { bytes.append(value) }

    /// Appends raw bytes with no length prefix.
    public mutating func writeRaw(_ value: some Sequence<UInt8>) { bytes.append(contentsOf: value) }

    /// Appends an unsigned LEB128 integer (1 to 10 bytes).
    public mutating func writeVarUInt(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a zigzag-encoded signed LEB128 integer.
    public mutating func writeVarInt(_ value: Int64) {
        writeVarUInt(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Appends a collection count.
    public mutating func writeCount(_ count: Int) { writeVarUInt(UInt64(count)) }

    /// Appends a boolean as one byte, 0 or 1.
    public mutating func writeBool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends a fixed 8-byte little-endian integer.
    public mutating func writeFixedUInt64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a length-prefixed byte string.
    public mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeCount(value.count)
        bytes.append(contentsOf: value)
    }

    /// Appends a length-prefixed UTF-8 string.
    public mutating func writeString(_ value: String) {
        var copy = value
        copy.withUTF8 { writeBytes($0) }
    }

    /// Appends a value's encoding.
    public mutating func write(_ value: some BinaryCodable) { value.encode(to: &self) }
}

/// Reads Concord's binary encoding, checking every step.
///
/// Every read throws `CodecError` on bad input; no read traps, and no count is trusted
/// before the remaining input is known to be large enough to hold it.
///
/// A reader holds its input one of two ways: an array it keeps (`init(_:)`), or memory it
/// borrows for the length of one call (`withUnsafeReader(over:_:)`), which decodes a record
/// in place — straight from an LMDB map — without copying it first. A value's
/// `init(from:)` must not keep the reader it is given past its return.
public struct ByteReader: @unchecked Sendable {
    // @unchecked: a reader over borrowed memory holds a pointer, which is not Sendable; it
    // exists only inside `withUnsafeReader(over:_:)`, on the caller's thread, and a reader
    // over an array holds only the array.

    /// Where the bytes are.
    private enum Input {
        /// An array the reader keeps alive.
        case array([UInt8])
        /// Memory borrowed for the length of a `withUnsafeReader(over:_:)` call.
        case borrowed(UnsafeRawBufferPointer)
    }

    private let input: Input
    /// How many bytes the input has.
    private let count: Int
    /// The offset of the next byte to read.
    public private(set) var offset: Int
    /// How deep nested values go at the most (maps within maps), so a hostile input
    /// cannot exhaust the stack.
    public static let maximumDepth = 32
    /// The current nesting depth (maintained by `nested(_:)`).
    public private(set) var depth = 0

    /// Creates a reader over `bytes`.
    public init(_ bytes: [UInt8]) {
        self.input = .array(bytes)
        self.count = bytes.count
        self.offset = 0
    }

    /// Creates a reader over a copy of raw memory.
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.init(Array(buffer))
    }

    private init(borrowing buffer: UnsafeRawBufferPointer) {
        self.input = .borrowed(buffer)
        self.count = buffer.count
        self.offset = 0
    }

    /// Runs `body` with a reader over `buffer` itself, not a copy of it: for decoding a
    /// record where it lies. The reader, and anything that holds it, must not outlive
    /// `body`, and `buffer` must not change while `body` runs.
    /// - Complexity: O(1) besides `body`; no allocation.
    public static func withUnsafeReader<R, E: Error>(
        over buffer: UnsafeRawBufferPointer, _ body: (inout ByteReader) throws(E) -> R
    ) throws(E) -> R {
        var reader = ByteReader(borrowing: buffer)
        return try body(&reader)
    }

    /// How many bytes are left.
    public var remaining: Int { count - offset }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset == count }

    /// An error at the current offset.
    public func error(_ code: CodecError.Code, _ detail: String) -> CodecError {
        CodecError(code, offset: offset, detail)
    }

    /// The byte at `index`, which the caller has checked is below `count`.
    @inline(__always)
    private func byte(at index: Int) -> UInt8 {
        switch input {
        case .array(let bytes): bytes[index]
        case .borrowed(let buffer): buffer[index]
        }
    }

    /// Reads one byte.
    @inline(__always)
    public mutating func readByte() throws(CodecError) -> UInt8 {
        guard offset < count else { throw error(.truncated, "expected 1 more byte") }
        defer { offset += 1 }
        return byte(at: offset)
    }

    /// Reads an unsigned LEB128 integer; rejects encodings longer than 10 bytes or that
    /// overflow 64 bits.
    public mutating func readVarUInt() throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
            if shift == 63 && byte > 1 { throw error(.overflow, "variable-length integer overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error(.overflow, "variable-length integer longer than 10 bytes") }
        }
    }

    /// Reads a zigzag-encoded signed LEB128 integer.
    public mutating func readVarInt() throws(CodecError) -> Int64 {
        let raw = try readVarUInt()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a fixed 8-byte little-endian integer.
    public mutating func readFixedUInt64() throws(CodecError) -> UInt64 {
        guard remaining >= 8 else { throw error(.truncated, "expected 8 bytes, \(remaining) left") }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(byte(at: offset + i)) << (8 * UInt64(i)) }
        offset += 8
        return value
    }

    /// Reads a boolean byte; anything but 0 or 1 is an error.
    public mutating func readBool() throws(CodecError) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        case let other: throw error(.unknownTag, "boolean byte is \(other), not 0 or 1")
        }
    }

    /// Reads a collection count, checking that the rest of the input can hold `count`
    /// elements of at least `minimumElementSize` bytes each — so a corrupted count can
    /// never cause a large allocation.
    public mutating func readCount(minimumElementSize: Int = 1) throws(CodecError) -> Int {
        let start = offset
        let raw = try readVarUInt()
        let limit = UInt64(remaining / Swift.max(minimumElementSize, 1))
        guard raw <= limit else {
            throw CodecError(.countTooLarge, offset: start, "count \(raw) exceeds what \(remaining) bytes can hold")
        }
        return Int(raw)
    }

    /// Reads `count` raw bytes.
    public mutating func readRaw(count: Int) throws(CodecError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw error(.truncated, "expected \(count) bytes, \(remaining) left")
        }
        defer { offset += count }
        switch input {
        case .array(let bytes): return Array(bytes[offset..<offset + count])
        case .borrowed(let buffer): return Array(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count]))
        }
    }

    /// The bytes in `range` of the input (a range of offsets this reader has passed): a
    /// slice of a reader's array, or a copy of borrowed memory.
    public func bytes(in range: Range<Int>) -> ArraySlice<UInt8> {
        let range = range.clamped(to: 0..<count)
        switch input {
        case .array(let bytes): return bytes[range]
        case .borrowed(let buffer): return ArraySlice(UnsafeRawBufferPointer(rebasing: buffer[range]))
        }
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int) throws(CodecError) {
        guard count >= 0, count <= remaining else {
            throw error(.truncated, "expected \(count) bytes, \(remaining) left")
        }
        offset += count
    }

    /// Reads a length-prefixed byte string.
    public mutating func readBytes() throws(CodecError) -> [UInt8] {
        let count = try readCount()
        return try readRaw(count: count)
    }

    /// Reads a length-prefixed UTF-8 string, rejecting invalid UTF-8.
    public mutating func readString() throws(CodecError) -> String {
        let start = offset
        let raw = try readBytes()
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw CodecError(.invalidUTF8, offset: start, "string is not valid UTF-8")
        }
        return string
    }

    /// Reads a value.
    public mutating func read<T: BinaryCodable>(_ type: T.Type = T.self) throws(CodecError) -> T {
        try T(from: &self)
    }

    /// Runs `body` one nesting level deeper; throws past `maximumDepth`.
    public mutating func nested<R>(_ body: (inout ByteReader) throws(CodecError) -> R) throws(CodecError) -> R {
        guard depth < Self.maximumDepth else {
            throw error(.inconsistent, "values nested deeper than \(Self.maximumDepth) levels")
        }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    /// Throws unless every byte has been read.
    public func finish() throws(CodecError) {
        guard isAtEnd else { throw error(.trailingBytes, "\(remaining) bytes after the end of the value") }
    }
}

/// A value with Concord's binary encoding.
public protocol BinaryCodable {
    /// Appends the value's encoding.
    func encode(to writer: inout ByteWriter)
    /// Decodes a value, validating it; throws `CodecError` on any malformed input.
    init(from reader: inout ByteReader) throws(CodecError)
}

extension BinaryCodable {
    /// The value's encoding as a byte array.
    public func encodedBytes() -> [UInt8] {
        var writer = ByteWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes a value that must span all of `bytes`.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        self = try Self(from: &reader)
        try reader.finish()
    }

    /// Decodes a value that must span all of `buffer`, reading the memory in place (no copy
    /// of it is made; the value copies what it keeps).
    public init(decoding buffer: UnsafeRawBufferPointer) throws(CodecError) {
        self = try ByteReader.withUnsafeReader(over: buffer) { (reader) throws(CodecError) in
            let value = try Self(from: &reader)
            try reader.finish()
            return value
        }
    }
}
