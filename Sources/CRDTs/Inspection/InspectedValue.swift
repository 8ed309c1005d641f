/// A JSON-like tree that shows a CRDT's value or metadata to an operator: what `dumpState`
/// prints, and what conflict records carry as their detail.
///
/// Objects keep their fields in order, so a rendering is deterministic: equal trees give
/// equal text. Byte strings render as lowercase hexadecimal strings in JSON.
public enum InspectedValue: Sendable, Hashable {
    /// No value (an `LWWRegister` never assigned).
    case null
    /// A boolean.
    case bool(Bool)
    /// A signed integer.
    case integer(Int64)
    /// An unsigned integer.
    case unsigned(UInt64)
    /// A string.
    case string(String)
    /// A byte string (lowercase hexadecimal in JSON).
    case bytes([UInt8])
    /// An ordered list.
    case array([InspectedValue])
    /// Named fields, in order.
    case object([(String, InspectedValue)])

    /// Whether two trees are equal: same case, same contents, fields in the same order.
    public static func == (lhs: InspectedValue, rhs: InspectedValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let l), .bool(let r)): l == r
        case (.integer(let l), .integer(let r)): l == r
        case (.unsigned(let l), .unsigned(let r)): l == r
        case (.string(let l), .string(let r)): l == r
        case (.bytes(let l), .bytes(let r)): l == r
        case (.array(let l), .array(let r)): l == r
        case (.object(let l), .object(let r)):
            l.count == r.count && zip(l, r).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// Hashes the case and its contents.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(1); hasher.combine(value)
        case .integer(let value): hasher.combine(2); hasher.combine(value)
        case .unsigned(let value): hasher.combine(3); hasher.combine(value)
        case .string(let value): hasher.combine(4); hasher.combine(value)
        case .bytes(let value): hasher.combine(5); hasher.combine(value)
        case .array(let value): hasher.combine(6); hasher.combine(value)
        case .object(let fields):
            hasher.combine(7)
            hasher.combine(fields.count)
            for (name, value) in fields {
                hasher.combine(name)
                hasher.combine(value)
            }
        }
    }

    /// Compact JSON: no whitespace, fields in order, strings escaped (`"`, `\`, and every
    /// control character; other characters as UTF-8), bytes as a lowercase hex string.
    /// - Complexity: O(n) in the size of the tree.
    public var jsonText: String {
        var text = ""
        appendJSON(to: &text)
        return text
    }

    private func appendJSON(to text: inout String) {
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .integer(let value): text += String(value)
        case .unsigned(let value): text += String(value)
        case .string(let value): Self.appendQuoted(value, to: &text)
        case .bytes(let value): text += "\"" + Self.hex(value) + "\""
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += "," }
                element.appendJSON(to: &text)
            }
            text += "]"
        case .object(let fields):
            text += "{"
            for (index, (name, value)) in fields.enumerated() {
                if index > 0 { text += "," }
                Self.appendQuoted(name, to: &text)
                text += ":"
                value.appendJSON(to: &text)
            }
            text += "}"
        }
    }

    /// Appends `string` as a JSON string literal (quotes, backslashes and control characters
    /// escaped).
    public static func appendQuoted(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\u{2028}": text += "\\u2028"
            case "\u{2029}": text += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    text += "\\u00" + hex([UInt8(scalar.value)])
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        text += "\""
    }

    /// Lowercase hexadecimal, two digits per byte.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// How an operator reads the value on a terminal, one line each: a scalar is one line;
    /// an array is one line per element; an object is one `field: value` line per field. A
    /// nested array or object within a line is compact JSON. A string is shown as is,
    /// unless it holds a control character (which would break the line) or is empty: then
    /// it is shown as a JSON string. An empty array or object has no lines.
    public var plainLines: [String] {
        switch self {
        case .array(let elements): elements.map(\.plainText)
        case .object(let fields): fields.map { "\($0.0): \($0.1.plainText)" }
        default: [plainText]
        }
    }

    /// One line: a scalar as text, anything else as compact JSON.
    var plainText: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .integer(let value): String(value)
        case .unsigned(let value): String(value)
        case .bytes(let value): Self.hex(value)
        case .string(let value):
            if value.isEmpty || value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                jsonText
            } else {
                value
            }
        case .array, .object: jsonText
        }
    }
}

extension InspectedValue: BinaryCodable {
    /// A tag byte (0 null … 7 object), then the contents; arrays and objects count-prefixed.
    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .null: writer.writeByte(0)
        case .bool(let value):
            writer.writeByte(1)
            writer.writeBool(value)
        case .integer(let value):
            writer.writeByte(2)
            writer.writeVarInt(value)
        case .unsigned(let value):
            writer.writeByte(3)
            writer.writeVarUInt(value)
        case .string(let value):
            writer.writeByte(4)
            writer.writeString(value)
        case .bytes(let value):
            writer.writeByte(5)
            writer.writeBytes(value)
        case .array(let elements):
            writer.writeByte(6)
            writer.writeCount(elements.count)
            for element in elements { element.encode(to: &writer) }
        case .object(let fields):
            writer.writeByte(7)
            writer.writeCount(fields.count)
            for (name, value) in fields {
                writer.writeString(name)
                value.encode(to: &writer)
            }
        }
    }

    /// Decodes a tree; an unknown tag, invalid UTF-8 or nesting deeper than
    /// `ByteReader.maximumDepth` is an error.
    public init(from reader: inout ByteReader) throws(CodecError) {
        switch try reader.readByte() {
        case 0: self = .null
        case 1: self = .bool(try reader.readBool())
        case 2: self = .integer(try reader.readVarInt())
        case 3: self = .unsigned(try reader.readVarUInt())
        case 4: self = .string(try reader.readString())
        case 5: self = .bytes(try reader.readBytes())
        case 6:
            let count = try reader.readCount(minimumElementSize: 1)
            var elements: [InspectedValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(
                    try reader.nested { (nested: inout ByteReader) throws(CodecError) in
                        try InspectedValue(from: &nested)
                    })
            }
            self = .array(elements)
        case 7:
            let count = try reader.readCount(minimumElementSize: 2)
            var fields: [(String, InspectedValue)] = []
            fields.reserveCapacity(count)
            for _ in 0..<count {
                let name = try reader.readString()
                let value = try reader.nested { (nested: inout ByteReader) throws(CodecError) in
                    try InspectedValue(from: &nested)
                }
                fields.append((name, value))
            }
            self = .object(fields)
        case let tag:
            throw reader.error(.unknownTag, "inspected value tag \(tag) is unknown")
        }
    }
}
