/// An incremental parser of what a NATS server sends: bytes in, ``NATSFrame``s out.
///
/// Pure and deterministic: the frames (and the error, if any) do not depend on how the
/// input is split across ``append(_:)`` calls. Every limit is checked before memory is
/// committed to it: a control line longer than ``maxControlLineBytes`` and a size above
/// ``maxSizeBytes`` are protocol errors, as are unknown operations, wrong argument counts,
/// numbers that are not decimal, a payload not followed by CRLF and a malformed header
/// block. After an error the parser stays failed and throws the same error again.
///
/// Control lines end in LF with an optional CR before it, as the server's own parser
/// accepts; operation names are matched without regard to case.
public struct NATSFrameParser: Sendable {
    /// The default bound on a control line (`INFO` can be long in a large cluster).
    public static let defaultMaxControlLineBytes = 1 << 20
    /// The bound on a `MSG`/`HMSG` size field: 64 MiB, far above any server's
    /// `max_payload` (1 MiB by default, 64 MiB at most).
    public static let maxSizeBytes = 64 << 20

    /// The longest control line accepted, without its line ending.
    public let maxControlLineBytes: Int

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the current control line's LF resumes.
    private var scanIndex = 0
    private var pendingMessage: PendingMessage?
    private var failure: NATSError?

    private struct PendingMessage: Sendable {
        var subject: String
        var sid: UInt64
        var replyTo: String?
        var headerBytes: Int?
        var totalBytes: Int
    }

    /// A parser with nothing buffered.
    public init(maxControlLineBytes: Int = NATSFrameParser.defaultMaxControlLineBytes) {
        self.maxControlLineBytes = max(16, maxControlLineBytes)
    }

    /// The number of bytes received and not yet returned as part of a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes; ``next()`` returns the frames they complete.
    ///
    /// - Complexity: amortized O(n) in the number of bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if readIndex > 0 && (readIndex == buffer.count || readIndex >= 65_536 && readIndex * 2 > buffer.count) {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``NATSError/Kind/protocolViolation`` naming what is malformed; every later
    ///   call throws it again.
    public mutating func next() throws(NATSError) -> NATSFrame? {
        if let failure {
            throw failure
        }
        do {
            return try parseNext()
        } catch {
            failure = error
            throw error
        }
    }

    /// Every frame of `bytes`, in order.
    ///
    /// - Throws: the first ``NATSError/Kind/protocolViolation``; a trailing incomplete frame
    ///   is not an error.
    public static func frames(
        of bytes: some Sequence<UInt8>,
        maxControlLineBytes: Int = defaultMaxControlLineBytes
    ) throws(NATSError) -> [NATSFrame] {
        var parser = NATSFrameParser(maxControlLineBytes: maxControlLineBytes)
        parser.append(bytes)
        var frames: [NATSFrame] = []
        while let frame = try parser.next() {
            frames.append(frame)
        }
        return frames
    }

    private mutating func parseNext() throws(NATSError) -> NATSFrame? {
        if let pending = pendingMessage {
            return try completeMessage(pending)
        }
        var lineFeed: Int?
        var index = max(scanIndex, readIndex)
        while index < buffer.count {
            if buffer[index] == 0x0A {
                lineFeed = index
                break
            }
            index += 1
        }
        guard let lineFeed else {
            scanIndex = buffer.count
            if buffer.count - readIndex > maxControlLineBytes {
                throw NATSError(
                    .protocolViolation, "control line longer than \(maxControlLineBytes) bytes")
            }
            return nil
        }
        if lineFeed - readIndex > maxControlLineBytes {
            throw NATSError(.protocolViolation, "control line longer than \(maxControlLineBytes) bytes")
        }
        var lineEnd = lineFeed
        while lineEnd > readIndex && Self.isTrailingBlank(buffer[lineEnd - 1]) {
            lineEnd -= 1
        }
        let line = buffer[readIndex..<lineEnd]
        readIndex = lineFeed + 1
        scanIndex = readIndex
        return try parseControlLine(line)
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
    private static func isTrailingBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }

    private mutating func parseControlLine(_ line: ArraySlice<UInt8>) throws(NATSError) -> NATSFrame? {
        let opEnd = line.firstIndex(where: Self.isBlank) ?? line.endIndex
        let op = line[line.startIndex..<opEnd]
        let rest = line[opEnd...].drop(while: Self.isBlank)
        if Self.matches(op, "MSG") || Self.matches(op, "HMSG") {
            let withHeaders = op.count == 4
            let arguments = rest.split(whereSeparator: Self.isBlank)
            let expected = withHeaders ? 4...5 : 3...4
            guard expected.contains(arguments.count) else {
                throw NATSError(
                    .protocolViolation,
                    "\(withHeaders ? "HMSG" : "MSG") with \(arguments.count) arguments, not \(expected)")
            }
            let subject = try Self.text(arguments[0], "subject")
            let sid = try Self.sid(arguments[1])
            let sizeCount = withHeaders ? 2 : 1
            let replyTo = arguments.count == expected.upperBound ? try Self.text(arguments[2], "reply subject") : nil
            let total = try Self.size(arguments[arguments.count - 1])
            var headerBytes: Int?
            if withHeaders {
                let header = try Self.size(arguments[arguments.count - sizeCount])
                guard header <= total else {
                    throw NATSError(.protocolViolation, "HMSG header size \(header) exceeds total size \(total)")
                }
                headerBytes = header
            }
            let pending = PendingMessage(
                subject: subject, sid: sid, replyTo: replyTo, headerBytes: headerBytes, totalBytes: total)
            pendingMessage = pending
            return try completeMessage(pending)
        }
        if Self.matches(op, "PING") || Self.matches(op, "PONG") || Self.matches(op, "+OK") {
            guard rest.isEmpty else {
                throw NATSError(.protocolViolation, "\(String(decoding: op, as: UTF8.self)) with arguments")
            }
            return Self.matches(op, "PING") ? .ping : Self.matches(op, "PONG") ? .pong : .ok
        }
        if Self.matches(op, "INFO") {
            guard !rest.isEmpty else {
                throw NATSError(.protocolViolation, "INFO without a JSON argument")
            }
            return .info(try Self.text(rest, "INFO argument"))
        }
        if Self.matches(op, "-ERR") {
            var reason = rest
            if reason.count >= 2 && reason.first == UInt8(ascii: "'") && reason.last == UInt8(ascii: "'") {
                reason = reason.dropFirst().dropLast()
            }
            return .error(try Self.text(reason, "-ERR reason"))
        }
        if op.isEmpty {
            throw NATSError(.protocolViolation, "empty control line")
        }
        let shown = String(decoding: op.prefix(16), as: UTF8.self)
        throw NATSError(.protocolViolation, "unknown operation \(shown.debugDescription)")
    }

    private mutating func completeMessage(_ pending: PendingMessage) throws(NATSError) -> NATSFrame? {
        guard buffer.count - readIndex >= pending.totalBytes + 2 else {
            return nil
        }
        let end = readIndex + pending.totalBytes
        guard buffer[end] == 0x0D && buffer[end + 1] == 0x0A else {
            throw NATSError(.protocolViolation, "message payload of \(pending.totalBytes) bytes not followed by CRLF")
        }
        var headers: NATSHeaders?
        var payloadStart = readIndex
        if let headerBytes = pending.headerBytes {
            headers = try NATSHeaders.parse(buffer[readIndex..<(readIndex + headerBytes)])
            payloadStart += headerBytes
        }
        let message = NATSMessage(
            subject: pending.subject, replyTo: pending.replyTo, headers: headers,
            payload: Array(buffer[payloadStart..<end]))
        readIndex = end + 2
        scanIndex = readIndex
        pendingMessage = nil
        return .message(sid: pending.sid, message)
    }

    private static func matches(_ op: ArraySlice<UInt8>, _ name: StaticString) -> Bool {
        guard op.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return zip(op, expected).allSatisfy { byte, wanted in
            let lower = byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
            return lower == wanted
        }
    }

    private static func text(_ bytes: ArraySlice<UInt8>, _ what: String) throws(NATSError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw NATSError(.protocolViolation, "\(what) is not UTF-8")
        }
        return text
    }

    private static func sid(_ bytes: ArraySlice<UInt8>) throws(NATSError) -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else {
                throw NATSError(.protocolViolation, "subscription id is not a decimal number")
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - 0x30))
            guard !overflow1 && !overflow2 else {
                throw NATSError(.protocolViolation, "subscription id exceeds UInt64")
            }
            value = sum
        }
        return value
    }

    private static func size(_ bytes: ArraySlice<UInt8>) throws(NATSError) -> Int {
        var value = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else {
                throw NATSError(.protocolViolation, "message size is not a decimal number")
            }
            value = value * 10 + Int(byte - 0x30)
            guard value <= maxSizeBytes else {
                throw NATSError(.protocolViolation, "message size exceeds \(maxSizeBytes) bytes")
            }
        }
        return value
    }
}
