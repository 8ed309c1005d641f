import NIOCore

/// Writes the client's side of the protocol (`CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`,
/// `PING`, `PONG`) into a `ByteBuffer`, validating subjects first.
package enum NATSProtocolEncoder {
    private static let crlf: StaticString = "\r\n"

    /// Checks a subject to publish or subscribe to: not empty, no blank or control byte, no
    /// empty token (`a..b`, `.a`, `a.`); with `wildcards`, `*` and `>` only as whole tokens
    /// and `>` only last.
    ///
    /// - Throws: ``NATSError/Kind/invalidSubject`` naming the fault.
    package static func validateSubject(_ subject: String, wildcards: Bool) throws(NATSError) {
        if subject.isEmpty {
            throw NATSError(.invalidSubject, "empty subject")
        }
        let tokens = subject.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for (position, token) in tokens.enumerated() {
            if token.isEmpty {
                throw NATSError(.invalidSubject, "subject \(subject.debugDescription) has an empty token")
            }
            for byte in token where byte <= 0x20 || byte == 0x7F {
                throw NATSError(.invalidSubject, "subject \(subject.debugDescription) holds a blank or control byte")
            }
            let hasWildcard = token.contains(UInt8(ascii: "*")) || token.contains(UInt8(ascii: ">"))
            guard hasWildcard else { continue }
            guard wildcards else {
                throw NATSError(.invalidSubject, "subject \(subject.debugDescription) holds a wildcard")
            }
            let isWhole = token.count == 1
            let isFullLast = token.first == UInt8(ascii: ">") && position == tokens.count - 1
            guard isWhole, token.first == UInt8(ascii: "*") || isFullLast else {
                throw NATSError(.invalidSubject, "subject \(subject.debugDescription) misplaces a wildcard")
            }
        }
    }

    /// Checks a queue group name: not empty, no blank or control byte.
    package static func validateQueue(_ queue: String) throws(NATSError) {
        if queue.isEmpty || queue.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw NATSError(.invalidSubject, "queue group \(queue.debugDescription) is empty or holds a blank")
        }
    }

    /// `CONNECT {json}\r\n`.
    package static func writeConnect(_ json: String, into buffer: inout ByteBuffer) {
        buffer.writeString("CONNECT ")
        buffer.writeString(json)
        buffer.writeStaticString(crlf)
    }

    /// `PUB subject [reply] size\r\npayload\r\n`, or `HPUB subject [reply] hdrsize totalsize`
    /// with the header block when `headers` is not `nil`. The subjects must be valid already.
    package static func writePublish(
        subject: String, replyTo: String?, headerBlock: [UInt8]?, payload: some Collection<UInt8>,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeString(headerBlock == nil ? "PUB " : "HPUB ")
        buffer.writeString(subject)
        if let replyTo {
            buffer.writeInteger(UInt8(ascii: " "))
            buffer.writeString(replyTo)
        }
        if let headerBlock {
            buffer.writeString(" \(headerBlock.count) \(headerBlock.count + payload.count)")
            buffer.writeStaticString(crlf)
            buffer.writeBytes(headerBlock)
        } else {
            buffer.writeString(" \(payload.count)")
            buffer.writeStaticString(crlf)
        }
        buffer.writeBytes(payload)
        buffer.writeStaticString(crlf)
    }

    /// `SUB subject [queue] sid\r\n`.
    package static func writeSubscribe(subject: String, queue: String?, sid: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeString("SUB ")
        buffer.writeString(subject)
        if let queue {
            buffer.writeInteger(UInt8(ascii: " "))
            buffer.writeString(queue)
        }
        buffer.writeString(" \(sid)")
        buffer.writeStaticString(crlf)
    }

    /// `UNSUB sid [max]\r\n`.
    package static func writeUnsubscribe(sid: UInt64, maxMessages: Int? = nil, into buffer: inout ByteBuffer) {
        buffer.writeString("UNSUB \(sid)")
        if let maxMessages {
            buffer.writeString(" \(maxMessages)")
        }
        buffer.writeStaticString(crlf)
    }

    /// `PING\r\n`.
    package static func writePing(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("PING\r\n")
    }

    /// `PONG\r\n`.
    package static func writePong(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("PONG\r\n")
    }
}
