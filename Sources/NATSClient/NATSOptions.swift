/// How to reach and authenticate to NATS servers, and how the connection behaves.
public struct NATSOptions: Sendable {
    /// Server URLs (`nats://host:port`, `tls://host:port`, `nats://user:pass@host:port`, or
    /// `host:port`). Connecting and reconnecting try them in order.
    public var servers: [String]
    /// The name the server shows for this client.
    public var name: String?
    /// The user name, when the server requires one (a URL's user wins over it).
    public var user: String?
    /// The password, when the server requires one.
    public var password: String?
    /// TLS settings; `nil` uses TLS only when the server requires it or the URL is `tls://`,
    /// then with the system's trust roots.
    public var tls: NATSTLS?
    /// How often the client pings the server to detect a dead connection.
    public var pingInterval: Duration = .seconds(20)
    /// Unanswered pings after which the connection is considered stale and replaced.
    public var maxPingsOutstanding = 2
    /// The wait before each round of reconnection attempts.
    public var reconnectWait: Duration = .milliseconds(250)
    /// Reconnection rounds over all servers before giving up; -1 is forever.
    public var maxReconnectAttempts = -1
    /// The bound on the TCP connection and the handshake (TLS, `CONNECT`, `PONG`).
    public var connectTimeout: Duration = .seconds(5)
    /// Publishes made while disconnected are kept up to this many bytes and sent after
    /// reconnecting; beyond, ``NATSConnection/publish(_:replyTo:headers:payload:)`` throws
    /// ``NATSError/Kind/bufferFull``.
    public var reconnectBufferBytes = 8 << 20
    /// The bound on bytes waiting to be written while connected (the socket is slower than
    /// the publisher); beyond, publishing throws ``NATSError/Kind/bufferFull``.
    public var maxPendingBytes = 64 << 20
    /// Messages a subscription keeps for a consumer that has not taken them; further ones
    /// are dropped and counted (``NATSSubscription/droppedMessageCount``).
    public var subscriptionBufferLimit = 65_536

    /// Options for `servers` with the defaults above.
    public init(servers: [String] = ["nats://127.0.0.1:4222"]) {
        self.servers = servers
    }
}

/// TLS settings: the CA to trust and, for mutual TLS, the client's certificate and key.
public struct NATSTLS: Sendable {
    /// A PEM file of the certificate authorities to trust; `nil` trusts the system's.
    public var caFile: String?
    /// A PEM file of the client's certificate chain, for mutual TLS.
    public var certificateFile: String?
    /// A PEM file of the client certificate's private key.
    public var privateKeyFile: String?
    /// The name to check the server's certificate against; `nil` uses the URL's host (an
    /// IP address is checked against the certificate's IP entries).
    public var serverName: String?
    /// Whether the server's certificate is verified. Only tests turn this off.
    public var verifyServer = true

    /// TLS settings from PEM files.
    public init(
        caFile: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil,
        serverName: String? = nil
    ) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.serverName = serverName
    }
}

/// One server to connect to, parsed from a URL of ``NATSOptions/servers``.
package struct NATSServerAddress: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var user: String?
    package var password: String?
    package var tls: Bool

    package init(host: String, port: Int, user: String?, password: String?, tls: Bool) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.tls = tls
    }

    /// Parses `[nats|tls]://[user[:pass]@]host[:port]`, `[::1]:4222` included.
    ///
    /// - Throws: ``NATSError/Kind/invalidArgument`` for an unknown scheme, an empty host
    ///   or a port outside 1...65535.
    package init(parsing url: String) throws(NATSError) {
        var rest = Substring(url)
        tls = false
        if let schemeEnd = rest.range(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            switch scheme {
            case "nats": break
            case "tls": tls = true
            default: throw NATSError(.invalidArgument, "unknown scheme \(scheme.debugDescription) in \(url)")
            }
            rest = rest[schemeEnd.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") {
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = Self.percentDecoded(credentials[..<colon])
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                user = Self.percentDecoded(credentials)
            }
        }
        var portText: Substring?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else {
            throw NATSError(.invalidArgument, "no host in \(url)")
        }
        if let portText {
            guard let port = Int(portText), (1...65_535).contains(port) else {
                throw NATSError(.invalidArgument, "port \(portText.debugDescription) of \(url) is not in 1...65535")
            }
            self.port = port
        } else {
            port = 4222
        }
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"),
                let first = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex), first < utf8.endIndex,
                let second = utf8.index(index, offsetBy: 2, limitedBy: utf8.endIndex), second < utf8.endIndex,
                let high = hexValue(utf8[first]), let low = hexValue(utf8[second])
            {
                bytes.append(high << 4 | low)
                index = utf8.index(after: second)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
