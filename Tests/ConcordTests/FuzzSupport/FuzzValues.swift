import CRDTs

/// A CRDT value type the fuzzers can generate: a handful of values, so that replicas
/// collide on the same elements, plus the awkward ones (the empty value, a string whose
/// two spellings are canonically equivalent, the numeric edges).
public protocol FuzzValue: CRDTValue {
    /// A value chosen by the input.
    static func fuzzed(_ input: inout FuzzInput) -> Self
}

extension String: FuzzValue {
    /// One of a few strings, including two spellings of one character ("é" and
    /// "e\u{301}", equal as Swift strings): states must encode alike whichever each holds.
    public static func fuzzed(_ input: inout FuzzInput) -> String {
        input.pick(["", "a", "b", "é", "ab", "\u{0}", "🙂", "ba", "e\u{301}"])
    }
}

extension Array: FuzzValue where Element == UInt8 {
    /// One of a few short byte strings.
    public static func fuzzed(_ input: inout FuzzInput) -> [UInt8] {
        input.pick([[], [0], [1], [0, 0], [0xFF], [0xC3, 0xA9]])
    }
}

extension Int64: FuzzValue {
    /// Small numbers or an edge.
    public static func fuzzed(_ input: inout FuzzInput) -> Int64 {
        input.pick([0, 1, -1, 2, Int64.min, Int64.max])
    }
}

extension UInt64: FuzzValue {
    /// Small numbers or an edge.
    public static func fuzzed(_ input: inout FuzzInput) -> UInt64 {
        input.pick([0, 1, 2, UInt64.max, 1 << 63])
    }
}

extension Bool: FuzzValue {
    /// Either.
    public static func fuzzed(_ input: inout FuzzInput) -> Bool { input.flag() }
}

/// A value type that is never registered with `CRDTRegistry`: a map must refuse a field of
/// a CRDT over it (with an error, leaving the map unchanged).
public struct UnregisteredFuzzValue: CRDTValue, FuzzValue {
    /// 250, a user tag that nothing registers.
    public static var valueTag: UInt8 { 250 }
    /// The value.
    public var raw: UInt8
    /// Writes one byte.
    public func encode(to writer: inout ByteWriter) { writer.writeByte(raw) }
    /// Reads one byte.
    public init(from reader: inout ByteReader) throws(CodecError) { raw = try reader.readByte() }
    init(raw: UInt8) { self.raw = raw }
    /// 0 or 1.
    public static func fuzzed(_ input: inout FuzzInput) -> UnregisteredFuzzValue {
        UnregisteredFuzzValue(raw: input.byte() & 1)
    }
}
