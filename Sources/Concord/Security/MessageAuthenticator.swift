import Crypto
import Foundation

/// Authenticates the messages between a cluster's replicas: each carries an HMAC-SHA256
/// under a key derived (HKDF-SHA256) from the cluster's `Encryption` key, so only a holder
/// of the key can put a message on the bus that a replica takes. A message that fails the
/// check is counted (`ReplicaStatus.messagesUnauthenticated`, the metric
/// `concord_messages_unauthenticated_total`), logged and dropped before it is decoded.
///
/// The MAC covers the whole message, its envelope (sender, incarnation, epoch, clock)
/// included. It does not stop a holder of the key, nor the replay of a recorded message:
/// replication is idempotent, so a replayed message changes nothing.
struct MessageAuthenticator: @unchecked Sendable {
    /// The length of the tag appended to each message.
    static let tagBytes = 32

    private let key: SymmetricKey

    init(_ encryption: Encryption) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: encryption.key, salt: Array("concord".utf8),
            info: Array("concord message authentication v1".utf8), outputByteCount: 32)
    }

    /// `message` followed by its tag.
    func signed(_ message: [UInt8]) -> [UInt8] {
        var signed = message
        signed.reserveCapacity(message.count + Self.tagBytes)
        signed.append(contentsOf: HMAC<SHA256>.authenticationCode(for: message, using: key))
        return signed
    }

    /// The message without its tag, or nil when the tag does not authenticate it.
    func verified(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= Self.tagBytes else { return nil }
        let message = bytes[..<(bytes.count - Self.tagBytes)]
        let tag = bytes[(bytes.count - Self.tagBytes)...]
        guard HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: message, using: key) else { return nil }
        return Array(message)
    }
}
