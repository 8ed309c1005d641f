import CRDTs
import Crypto

/// Hides the object keys of an encrypted store made with `Encryption.hidesObjectKeys`.
///
/// The LMDB key of an object is then the HMAC-SHA256 of its key (bucket, name and type)
/// under a secret of the store's own: 32 random bytes drawn when the store is made and kept
/// sealed under the encryption key in the `meta` table (a rekey reseals it; the LMDB keys
/// stay). The object's key travels inside its sealed record, before its state, so that
/// listing the objects (state transfers, dumps, verification) still names them. Someone
/// holding the files sees how many objects there are and their sizes, never their names;
/// equal names hash alike only within one store.
struct ObjectKeyHiding: @unchecked Sendable {
    static let secretBytes = 32

    /// The HMAC with the secret already absorbed (each key starts from a copy).
    private let keyed: HMAC<SHA256>

    init(secret: [UInt8]) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    /// A new random secret.
    static func newSecret() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    /// The LMDB key of the object whose key (encoded) is `objectKey`.
    func storageKey(_ objectKey: [UInt8]) -> [UInt8] {
        var mac = keyed
        objectKey.withUnsafeBytes { mac.update(data: $0) }
        return mac.finalize().withUnsafeBytes { Array($0) }
    }

    /// The plaintext stored for an object: its key, then its state.
    static func wrap(_ state: [UInt8], objectKey: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: objectKey.count + state.count + 4)
        writer.writeBytes(objectKey)
        writer.writeRaw(state)
        return writer.bytes
    }

    /// Splits the plaintext of an object into its key and its state.
    /// - Throws: `.corrupted` naming `what` when it does not decode.
    static func unwrap(_ plaintext: [UInt8], what: @autoclosure () -> String) throws(ConcordError)
        -> (objectKey: [UInt8], state: [UInt8])
    {
        var reader = ByteReader(plaintext)
        do throws(CodecError) {
            let objectKey = try reader.readBytes()
            return (objectKey, try reader.readRaw(count: reader.remaining))
        } catch {
            throw .corrupted(error, what())
        }
    }
}
