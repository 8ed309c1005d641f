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

    /// The HMAC with the key already absorbed: each message starts from a copy of it
    /// (copy on write), so the key's two pad blocks are hashed once, not per message.
    private let keyed: HMAC<SHA256>

    init(_ encryption: Encryption) {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: encryption.key, salt: Array("concord".utf8),
            info: Array("concord message authentication v1".utf8), outputByteCount: 32)
        keyed = HMAC<SHA256>(key: key)
    }

    private func code(_ message: UnsafeRawBufferPointer) -> HMAC<SHA256>.MAC {
        var mac = keyed
        mac.update(data: message)
        return mac.finalize()
    }

    /// `message` followed by its tag.
    func signed(_ message: [UInt8]) -> [UInt8] {
        var signed = message
        signed.reserveCapacity(message.count + Self.tagBytes)
        let tag = message.withUnsafeBytes { code($0) }
        tag.withUnsafeBytes { signed.append(contentsOf: $0) }
        return signed
    }

    /// The message without its tag, or nil when the tag does not authenticate it.
    func verified(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= Self.tagBytes else { return nil }
        let length = bytes.count - Self.tagBytes
        let valid = bytes.withUnsafeBytes { bytes in
            // `MAC ==` compares in constant time.
            code(UnsafeRawBufferPointer(rebasing: bytes[..<length]))
                == UnsafeRawBufferPointer(rebasing: bytes[length...])
        }
        return valid ? Array(bytes[..<length]) : nil
    }
}
