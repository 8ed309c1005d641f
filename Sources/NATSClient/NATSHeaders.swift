/// The headers of a NATS message: an ordered multi-map of names to values, and for a
/// status message (`NATS/1.0 404 No Messages`) its status code and description.
///
/// Names are case-sensitive, as the server keeps them. The encoded block is
/// `NATS/1.0[ status[ description]]\r\n` then `Name: value\r\n` per entry and `\r\n`.
public struct NATSHeaders: Sendable, Equatable, Sequence {
    /// The entries in the order they were added or received.
    public private(set) var entries: [(name: String, value: String)] = []
    /// The status code of a status message (100...999: 100, 404, 408, 409, 503), or `nil`.
    public var status: Int?
    /// The text after the status code (`No Messages`), or `nil` when there was none.
    public var statusDescription: String?

    /// Empty headers, or those of a status message when `status` is given.
    public init(status: Int? = nil, statusDescription: String? = nil) {
        self.status = status
        self.statusDescription = statusDescription
    }

    /// Headers holding `entries` in order.
    ///
    /// - Throws: ``NATSError/Kind/invalidHeader`` when a name or value is not valid.
    public init(_ entries: [(String, String)]) throws(NATSError) {
        for (name, value) in entries {
            try append(name, value)
        }
    }

    /// Whether there are no entries and no status.
    public var isEmpty: Bool { entries.isEmpty && status == nil }

    /// The first value of `name`, or `nil`.
    ///
    /// - Complexity: O(n) in the number of entries.
    public subscript(name: String) -> String? {
        entries.first { $0.name == name }?.value
    }

    /// Every value of `name`, in order.
    ///
    /// - Complexity: O(n) in the number of entries.
    public func values(for name: String) -> [String] {
        entries.filter { $0.name == name }.map(\.value)
    }

    /// Adds an entry after the others (a name may repeat).
    ///
    /// - Throws: ``NATSError/Kind/invalidHeader`` when the name is empty or holds a byte
    ///   outside printable ASCII or a `:`, or the value holds CR or LF.
    public mutating func append(_ name: String, _ value: String) throws(NATSError) {
        try Self.validate(name: name, value: value)
        entries.append((name, value))
    }

    /// Replaces every entry of `name` with one holding `value`.
    ///
    /// - Throws: ``NATSError/Kind/invalidHeader`` as ``append(_:_:)``.
    public mutating func set(_ name: String, _ value: String) throws(NATSError) {
        try Self.validate(name: name, value: value)
        entries.removeAll { $0.name == name }
        entries.append((name, value))
    }

    /// Removes every entry of `name`.
    public mutating func remove(_ name: String) {
        entries.removeAll { $0.name == name }
    }

    /// An iterator over the entries in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        entries.makeIterator()
    }

    /// Equal entries in the same order, and the same status and description.
    public static func == (lhs: NATSHeaders, rhs: NATSHeaders) -> Bool {
        lhs.status == rhs.status && lhs.statusDescription == rhs.statusDescription
            && lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    static func validate(name: String, value: String) throws(NATSError) {
        if name.isEmpty {
            throw NATSError(.invalidHeader, "empty header name")
        }
        for byte in name.utf8 where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: ":") {
            throw NATSError(.invalidHeader, "header name \(name.debugDescription) holds byte \(byte)")
        }
        for byte in value.utf8 where byte == 0x0D || byte == 0x0A {
            throw NATSError(.invalidHeader, "header value of \(name) holds CR or LF")
        }
        if value.utf8.first == 0x20 || value.utf8.first == 0x09 || value.utf8.last == 0x20
            || value.utf8.last == 0x09
        {
            throw NATSError(.invalidHeader, "header value of \(name) starts or ends with blank space")
        }
    }

    /// The encoded header block, ending with the empty line.
    ///
    /// - Complexity: O(n) in the size of the block.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    func encode(into bytes: inout [UInt8]) {
        bytes.append(contentsOf: "NATS/1.0".utf8)
        if let status {
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: String(status).utf8)
            if let statusDescription, !statusDescription.isEmpty {
                bytes.append(UInt8(ascii: " "))
                bytes.append(contentsOf: statusDescription.utf8)
            }
        }
        bytes.append(contentsOf: [0x0D, 0x0A])
        for (name, value) in entries {
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
            bytes.append(contentsOf: value.utf8)
            bytes.append(contentsOf: [0x0D, 0x0A])
        }
        bytes.append(contentsOf: [0x0D, 0x0A])
    }

    /// Parses a header block (`NATS/1.0…\r\n`, entries, `\r\n`) that spans all of `block`.
    ///
    /// - Throws: ``NATSError/Kind/protocolViolation`` naming what is wrong: a missing
    ///   `NATS/1.0`, a status that is not three digits, a line without `:`, an invalid
    ///   name, bytes after the empty line or a missing one.
    /// - Complexity: O(n) in the size of the block.
    public static func parse(_ block: some Collection<UInt8>) throws(NATSError) -> NATSHeaders {
        let bytes = Array(block)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == 0x0D && bytes[index + 1] == 0x0A {
                lines.append(bytes[start..<index])
                index += 2
                start = index
                if lines.count > 1 && lines.last!.isEmpty {
                    break
                }
            } else {
                index += 1
            }
        }
        guard let first = lines.first else {
            throw NATSError(.protocolViolation, "header block has no line ending in CRLF")
        }
        guard lines.count >= 2, lines.last!.isEmpty else {
            throw NATSError(.protocolViolation, "header block does not end with an empty line")
        }
        guard start == bytes.count else {
            throw NATSError(.protocolViolation, "\(bytes.count - start) bytes after the header block's end")
        }
        var headers = try parseStatusLine(first)
        for line in lines.dropFirst().dropLast() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw NATSError(.protocolViolation, "header line without ':'")
            }
            guard let name = String(validating: line[line.startIndex..<colon], as: UTF8.self),
                let rawValue = String(validating: line[(colon + 1)...], as: UTF8.self)
            else {
                throw NATSError(.protocolViolation, "header line is not UTF-8")
            }
            let value = trimmingBlanks(rawValue)
            do {
                try headers.append(name, value)
            } catch {
                throw NATSError(.protocolViolation, "received \(error.message)")
            }
        }
        return headers
    }

    private static func parseStatusLine(_ line: ArraySlice<UInt8>) throws(NATSError) -> NATSHeaders {
        let version = Array("NATS/1.0".utf8)
        guard line.starts(with: version) else {
            throw NATSError(.protocolViolation, "header block does not start with NATS/1.0")
        }
        var rest = line.dropFirst(version.count)
        if rest.isEmpty {
            return NATSHeaders()
        }
        guard rest.first == 0x20 || rest.first == 0x09 else {
            throw NATSError(.protocolViolation, "header version is followed by no blank")
        }
        rest = rest.drop { $0 == 0x20 || $0 == 0x09 }
        if rest.isEmpty {
            return NATSHeaders()
        }
        let digits = rest.prefix { $0 >= 0x30 && $0 <= 0x39 }
        let afterDigits = rest.dropFirst(digits.count)
        // 100...999 only: a leading zero ("044") would re-encode as "44", which is not a status.
        guard digits.count == 3, digits.first != 0x30,
            afterDigits.isEmpty || afterDigits.first == 0x20 || afterDigits.first == 0x09
        else {
            throw NATSError(.protocolViolation, "header status is not three digits from 100 to 999")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard let text = String(validating: afterDigits, as: UTF8.self) else {
            throw NATSError(.protocolViolation, "header status description is not UTF-8")
        }
        let description = trimmingBlanks(text)
        return NATSHeaders(status: status, statusDescription: description.isEmpty ? nil : description)
    }

    static func trimmingBlanks(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars
        while let first = scalars.first, first == " " || first == "\t" {
            scalars.removeFirst()
        }
        while let last = scalars.last, last == " " || last == "\t" {
            scalars.removeLast()
        }
        return String(scalars)
    }
}
