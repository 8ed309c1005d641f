/// One unit of what a NATS server sends to a client.
public enum NATSFrame: Sendable, Equatable {
    /// `INFO {json}`: the server's description of itself, as the JSON text.
    case info(String)
    /// `MSG` or `HMSG`: a message for subscription `sid` (`HMSG` when `headers` is not `nil`).
    case message(sid: UInt64, NATSMessage)
    /// `PING`: the server wants a `PONG`.
    case ping
    /// `PONG`: the answer to a `PING` the client sent.
    case pong
    /// `+OK`: an acknowledgement in verbose mode.
    case ok
    /// `-ERR 'reason'`: the reason without its quotes.
    case error(String)

    /// The frame as the server would send it (`MSG`/`HMSG` with single spaces, `-ERR`
    /// quoted), which ``NATSFrameParser`` parses back to an equal frame.
    ///
    /// - Complexity: O(n) in the size of the frame.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        switch self {
        case .info(let json):
            bytes.append(contentsOf: "INFO \(json)\r\n".utf8)
        case .ping:
            bytes.append(contentsOf: "PING\r\n".utf8)
        case .pong:
            bytes.append(contentsOf: "PONG\r\n".utf8)
        case .ok:
            bytes.append(contentsOf: "+OK\r\n".utf8)
        case .error(let reason):
            bytes.append(contentsOf: "-ERR '\(reason)'\r\n".utf8)
        case .message(let sid, let message):
            let reply = message.replyTo.map { " \($0)" } ?? ""
            if let headers = message.headers {
                let block = headers.encoded()
                let total = block.count + message.payload.count
                bytes.append(contentsOf: "HMSG \(message.subject) \(sid)\(reply) \(block.count) \(total)\r\n".utf8)
                bytes.append(contentsOf: block)
            } else {
                bytes.append(contentsOf: "MSG \(message.subject) \(sid)\(reply) \(message.payload.count)\r\n".utf8)
            }
            bytes.append(contentsOf: message.payload)
            bytes.append(contentsOf: [0x0D, 0x0A])
        }
        return bytes
    }
}
