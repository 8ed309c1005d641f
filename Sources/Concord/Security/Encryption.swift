import Crypto
import Foundation

/// Encryption at rest: every record a replica stores that holds values — object states, log
/// entries, conflict records — sealed with ChaCha20-Poly1305 under `key`.
///
/// ```swift
/// let key = try Encryption(keyFile: URL(fileURLWithPath: "/etc/app/concord.key"), keyID: "2026-12")
/// let cluster = try Cluster(directory: url, replicas: 3, configuration: Configuration(encryption: key))
/// ```
///
/// Each record gets a nonce of its own (see `Sealer`); its associated data is the record's table,
/// its LMDB key, the replica's id and the format version, so a sealed record copied under
/// another key, into another table or into another replica's store fails to open. A record
/// that fails to open is `.corrupted`, naming the object: never a wrong value.
///
/// What stays visible to someone holding the files: object keys (bucket, name and CRDT
/// type, which LMDB keeps sorted in the clear; unless `hidesObjectKeys`), the replication metadata (vector clocks,
/// incarnation, peers' acknowledgements: counts of operations, no values), the number of
/// objects and log entries,
/// each record's size (plus 40 bytes of header, nonce and tag), the replica's id and the
/// store's format version, the key's identifier — and, in the cluster directory, the
/// manifest (members, incarnations, configuration). Set `hidesObjectKeys` when the names
/// are secret. See the README's threat model.
///
/// The same key also authenticates the messages between the cluster's replicas (an
/// HMAC-SHA256 under a key derived from it; see `MessageAuthenticator`).
///
/// (`@unchecked Sendable`: swift-crypto's `SymmetricKey` is an immutable value whose storage
/// is never written after it is made, but it is not marked `Sendable`.)
public struct Encryption: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The key: 256 bits.
    public let key: SymmetricKey
    /// A name for the key (recorded in each store's key check and in backups, never the key).
    public let keyID: String
    /// How many bytes of plaintext each replica keeps of the records it sealed or opened
    /// recently (default 16 MiB; 0: none), so that reading a record again, or the state a
    /// write updates, does not open it again. Each entry is used only while the stored
    /// record still carries the nonce it was authenticated with. The plaintexts live in the
    /// process's memory, as every value read does: encryption at rest protects the files.
    /// Not part of equality.
    public var plaintextCacheBytes: Int = Encryption.defaultPlaintextCacheBytes

    /// Whether a new store hides its object keys (default false): the LMDB key of each object
    /// is then a keyed hash (HMAC-SHA256) of its bucket, name and type, under a secret of
    /// the store's own kept sealed, and the key itself travels inside the sealed record. Chosen
    /// when a store is made; a store made without it keeps its keys visible (asking for it
    /// then is an error), and a store made with it opens with any `Encryption` of its key.
    /// It costs one HMAC per object looked up or stored (a write does both). Not part of
    /// equality.
    public var hidesObjectKeys = false

    /// The default `plaintextCacheBytes`: 16 MiB.
    public static let defaultPlaintextCacheBytes = 16 << 20

    /// Encryption under `key` (256 bits), named `keyID`.
    /// - Throws: `ConcordError.invalidArgument` for a key that is not 32 bytes, or an empty
    ///   or overlong (over 200 bytes) identifier.
    public init(key: SymmetricKey, keyID: String) throws(ConcordError) {
        guard key.bitCount == 256 else {
            throw ConcordError(.invalidArgument, "an encryption key has 256 bits (32 bytes), not \(key.bitCount)")
        }
        guard (1...200).contains(keyID.utf8.count) else {
            throw ConcordError(.invalidArgument, "a key identifier has 1 to 200 bytes, not \(keyID.utf8.count)")
        }
        self.key = key
        self.keyID = keyID
    }

    /// Encryption under the key in the file at `url`: exactly 32 raw bytes. The identifier
    /// defaults to the first 8 bytes of the key's SHA-256, in hexadecimal (it names the key
    /// without revealing it).
    /// - Throws: `.invalidArgument` when the file cannot be read or does not hold 32 bytes.
    public init(keyFile url: URL, keyID: String? = nil) throws(ConcordError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConcordError(.invalidArgument, "cannot read the key file \(url.path)", underlying: "\(error)")
        }
        guard data.count == 32 else {
            throw ConcordError(
                .invalidArgument,
                "the key file \(url.path) holds \(data.count) bytes; a key file holds exactly 32 raw bytes")
        }
        let key = SymmetricKey(data: data)
        try self.init(key: key, keyID: keyID ?? Self.fingerprint(of: key))
    }

    /// The first 8 bytes of the key's SHA-256 in hexadecimal.
    public static func fingerprint(of key: SymmetricKey) -> String {
        key.withUnsafeBytes { SHA256.hash(data: $0) }.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// `Encryption(keyID: …)`, never the key.
    public var description: String { "Encryption(keyID: \(keyID))" }

    /// Equal keys and identifiers (the keys compared in constant time).
    public static func == (lhs: Encryption, rhs: Encryption) -> Bool {
        lhs.keyID == rhs.keyID && lhs.key == rhs.key
    }

    /// Hashes the identifier only (equal values have equal identifiers).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(keyID)
    }
}
