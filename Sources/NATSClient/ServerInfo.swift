import struct Foundation.Data
import class Foundation.JSONDecoder

/// What a server says of itself in `INFO`: limits, features and identity.
public struct ServerInfo: Sendable, Equatable, Decodable {
    /// The server's unique id.
    public var serverID: String
    /// The server's configured name (its id when none was configured).
    public var serverName: String?
    /// The server's version (`2.9.10`).
    public var version: String
    /// The protocol version (1 supports headers and no-responders).
    public var proto: Int
    /// The largest payload, headers included, the server accepts: 1 MiB by default.
    public var maxPayloadBytes: Int
    /// Whether the server supports message headers.
    public var headers: Bool
    /// Whether JetStream is enabled on the server.
    public var jetStream: Bool
    /// Whether the server requires TLS: the client upgrades right after `INFO`.
    public var tlsRequired: Bool
    /// Whether the server verifies client certificates.
    public var tlsVerify: Bool
    /// Whether the server requires credentials.
    public var authRequired: Bool
    /// Other servers of the cluster clients may connect to (`host:port`).
    public var connectURLs: [String]
    /// The id the server gave this client.
    public var clientID: UInt64?

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id"
        case serverName = "server_name"
        case version, proto
        case maxPayloadBytes = "max_payload"
        case headers
        case jetStream = "jetstream"
        case tlsRequired = "tls_required"
        case tlsVerify = "tls_verify"
        case authRequired = "auth_required"
        case connectURLs = "connect_urls"
        case clientID = "client_id"
    }

    /// Decodes `INFO`'s fields, taking the protocol's defaults for those left out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        serverID = try container.decode(String.self, forKey: .serverID)
        serverName = try container.decodeIfPresent(String.self, forKey: .serverName)
        version = try container.decodeIfPresent(String.self, forKey: .version) ?? ""
        proto = try container.decodeIfPresent(Int.self, forKey: .proto) ?? 0
        maxPayloadBytes = try container.decodeIfPresent(Int.self, forKey: .maxPayloadBytes) ?? 1_048_576
        headers = try container.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        jetStream = try container.decodeIfPresent(Bool.self, forKey: .jetStream) ?? false
        tlsRequired = try container.decodeIfPresent(Bool.self, forKey: .tlsRequired) ?? false
        tlsVerify = try container.decodeIfPresent(Bool.self, forKey: .tlsVerify) ?? false
        authRequired = try container.decodeIfPresent(Bool.self, forKey: .authRequired) ?? false
        connectURLs = try container.decodeIfPresent([String].self, forKey: .connectURLs) ?? []
        clientID = try container.decodeIfPresent(UInt64.self, forKey: .clientID)
    }

    /// Parses the JSON argument of `INFO`.
    ///
    /// - Throws: ``NATSError/Kind/protocolViolation`` when it is not JSON of that shape.
    public init(json: String) throws(NATSError) {
        do {
            self = try JSONDecoder().decode(ServerInfo.self, from: Data(json.utf8))
        } catch {
            throw NATSError(.protocolViolation, "INFO is not valid: \(error)")
        }
    }
}
