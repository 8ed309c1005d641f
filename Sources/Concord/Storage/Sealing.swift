import CRDTs
import Crypto
import Foundation
import Locking

/// Seals and opens the records of an encrypted store (see `Encryption`).
///
/// A sealed record is `C5 EA 1D 01`, the sealing key's 4-byte tag, a 12-byte nonce, the
/// ChaCha20-Poly1305 ciphertext and its 16-byte tag: 40 bytes over the plaintext.
/// (ChaCha20-Poly1305 rather than AES-GCM: swift-crypto sets up an AES key schedule for
/// every call, which made a sealed write cost 2.6 times a plain one; see BENCHMARKS.md. Its
/// context is now set up once per key, see `ChaChaPolyCipher`.)
/// Nonces are unique per key: 8 random bytes drawn when the store opens (and again every
/// 2^32 records) and a 4-byte counter. Its associated data
/// binds it to its place: `concord-record`, the format version, the replica's id, the table
/// and the record's LMDB key. The key tag lets a store being rekeyed hold records of two
/// keys, each opened with its own.
///
/// A class: every read and write of an encrypted store reaches it, and a copy of a struct this
/// size retains each of its references.
final class Sealer: Sendable {
    /// The tables a record can live in (the associated data names it).
    enum Table: UInt8, Sendable {
        case objects = 0, log = 1, meta = 2, conflicts = 3

        init(_ table: StorageBatch.Table) {
            switch table {
            case .objects: self = .objects
            case .log: self = .log
            case .meta: self = .meta
            }
        }
    }

    /// A key, its cipher and its tag (the first 4 bytes of the SHA-256 of its bytes).
    /// `@unchecked`: `SymmetricKey` is immutable (see `Encryption`).
    struct SealingKey: @unchecked Sendable {
        let key: SymmetricKey
        let keyID: String
        let tag: [UInt8]
        let cipher: ChaChaPolyCipher

        init(_ encryption: Encryption) {
            key = encryption.key
            keyID = encryption.keyID
            tag = Array(encryption.key.withUnsafeBytes { SHA256.hash(data: $0) }.prefix(4))
            cipher = ChaChaPolyCipher(key: encryption.key)
        }
    }

    static let magic: [UInt8] = [0xC5, 0xEA, 0x1D, 0x01]
    static let overheadBytes = 4 + 4 + 12 + 16
    /// Records in the clear: the `meta` table (but for the object key secret) — the store's
    /// identity and key check, and the replication metadata (clocks, incarnation, peers'
    /// acknowledgements, flags). They hold no value, only counts of operations; sealing the
    /// clock too made every write seal three records instead of two (see BENCHMARKS.md).
    static let plainTables: Set<Table> = [.meta]

    let replica: ReplicaID
    /// The key new records are sealed with.
    let current: SealingKey
    /// Another key records may still be sealed with (a rekey in progress).
    let previous: SealingKey?
    /// Whether records may still be in the clear (a rekey from a plain store in progress).
    let acceptsPlain: Bool
    /// Whether a new store hides its object keys (`Encryption.hidesObjectKeys`).
    let hidesObjectKeys: Bool
    /// Where nonces come from.
    private let nonces: NonceSource
    /// The plaintexts of object states recently sealed or opened (nil: no cache). Only
    /// objects: they are what reads and writes read again, while log entries, written once
    /// each, would push them out.
    let cache: PlaintextCache?
    /// How object keys are hidden, in a store made with `Encryption.hidesObjectKeys` (nil:
    /// object keys are the LMDB keys).
    let objectKeys: ObjectKeyHiding?
    /// The fixed start of the associated data for each table: `concord-record`, the format
    /// version, the replica's id and the table (the record's LMDB key follows).
    private let associatedDataPrefixes: [[UInt8]]

    init(
        replica: ReplicaID, current: Encryption, previous: Encryption? = nil, acceptsPlain: Bool = false,
        objectKeys: ObjectKeyHiding? = nil
    ) {
        self.objectKeys = objectKeys
        self.replica = replica
        self.current = SealingKey(current)
        self.previous = previous.map(SealingKey.init)
        self.acceptsPlain = acceptsPlain
        self.hidesObjectKeys = current.hidesObjectKeys
        self.nonces = NonceSource()
        self.cache = current.plaintextCacheBytes > 0 ? PlaintextCache(maximumBytes: current.plaintextCacheBytes) : nil
        associatedDataPrefixes = (0...Table.conflicts.rawValue).map { table in
            var bytes = Array("concord-record".utf8)
            bytes.append(Storage.sealedRecordFormat)
            withUnsafeBytes(of: replica.rawValue.bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(table)
            return bytes
        }
    }

    /// This sealer, hiding object keys with `objectKeys` (its keys, nonces and cache shared).
    func hidingObjectKeys(_ objectKeys: ObjectKeyHiding) -> Sealer {
        Sealer(copying: self, objectKeys: objectKeys)
    }

    private init(copying other: Sealer, objectKeys: ObjectKeyHiding) {
        self.objectKeys = objectKeys
        replica = other.replica
        current = other.current
        previous = other.previous
        acceptsPlain = other.acceptsPlain
        hidesObjectKeys = other.hidesObjectKeys
        nonces = other.nonces
        cache = other.cache
        associatedDataPrefixes = other.associatedDataPrefixes
    }

    /// Calls `body` with the associated data of a record of `table` under `key`, built on
    /// the stack.
    private func withAssociatedData<R>(
        _ table: Table, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        let prefix = associatedDataPrefixes[Int(table.rawValue)]
        return try withUnsafeTemporaryAllocation(byteCount: prefix.count + key.count, alignment: 1) { buffer in
            prefix.withUnsafeBytes { buffer.copyMemory(from: $0) }
            key.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[prefix.count...]).copyMemory(from: $0)
            }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }

    /// Whether the record stays in the clear: every record of the `meta` table but the
    /// secret object keys are hashed with.
    func isPlain(_ table: Table, _ key: [UInt8]) -> Bool {
        Self.plainTables.contains(table) && key != Storage.MetaKey.objectKeySecret
    }

    /// `plaintext`, sealed for `key` in `table`.
    func seal(_ plaintext: [UInt8], _ table: Table, key: [UInt8]) -> [UInt8] {
        if isPlain(table, key) { return plaintext }
        var record = [UInt8]()
        record.reserveCapacity(plaintext.count + Self.overheadBytes)
        record += Self.magic
        record += current.tag
        withAssociatedData(table, key) { associatedData in
            nonces.withNext { nonce in
                plaintext.withUnsafeBytes { message in
                    current.cipher.seal(message, nonce: nonce, authenticating: associatedData, appendingTo: &record)
                }
            }
        }
        if table == .objects { cache?.insert(plaintext, table, key: key, record: record) }
        return record
    }

    /// The key tag of a sealed record, or nil when the record is not sealed.
    static func tag(of record: [UInt8]) -> [UInt8]? {
        guard record.count >= overheadBytes, record.starts(with: magic) else { return nil }
        return Array(record[4..<8])
    }

    /// Opens a record of `table` under `key`.
    /// - Throws: `.corrupted` naming `what` when the record is not sealed (and plain records
    ///   are not accepted), sealed with an unknown key, or fails its authentication.
    func open(_ record: [UInt8], _ table: Table, key: [UInt8], what: @autoclosure () -> String) throws(ConcordError)
        -> [UInt8]
    {
        if isPlain(table, key) { return record }
        return try record.withUnsafeBytes { bytes in
            Result { () throws(ConcordError) in try open(recordAt: bytes, table, key: key, what: what()) }
        }.get()
    }

    /// Opens the record of `table` under `key` in `record` (typically LMDB's own memory, read
    /// in place).
    ///
    /// A record sealed or opened by this store before, still holding the same key tag and
    /// nonce, is answered from the cache: nonces are never reused under one key, so the tag
    /// and nonce name one sealed record, whose plaintext was authenticated when it was
    /// sealed or first opened. `cached: false` opens the record whatever the cache holds,
    /// and leaves the cache as it is (verification).
    /// - Throws: as `open(_:_:key:what:)`.
    func open(
        recordAt record: UnsafeRawBufferPointer, _ table: Table, key: [UInt8], cached: Bool = true,
        what: @autoclosure () -> String
    ) throws(ConcordError) -> [UInt8] {
        let cache = cached && table == .objects ? cache : nil
        if isPlain(table, key) { return Array(record) }
        guard record.count >= Self.overheadBytes, record.starts(with: Self.magic) else {
            if acceptsPlain { return Array(record) }
            throw ConcordError(
                .corrupted, "\(what()) is not sealed, in an encrypted store: the store is damaged or was tampered with")
        }
        if let cached = cache?.plaintext(table, key: key, record: record) { return cached }
        let sealing: SealingKey
        let tag = UnsafeRawBufferPointer(rebasing: record[4..<8])
        if tag.elementsEqual(current.tag) {
            sealing = current
        } else if let previous, tag.elementsEqual(previous.tag) {
            sealing = previous
        } else {
            if acceptsPlain { return Array(record) }
            throw ConcordError(
                .corrupted,
                "\(what()) is sealed with a key other than '\(current.keyID)' (tag \(Self.hex(Array(tag))))")
        }
        let opened = withAssociatedData(table, key) { associatedData in
            sealing.cipher.open(UnsafeRawBufferPointer(rebasing: record[8...]), authenticating: associatedData)
        }
        guard let plaintext = opened else {
            if acceptsPlain && sealing.tag != current.tag { return Array(record) }
            throw ConcordError(
                .corrupted,
                "\(what()) fails its authentication: it was changed, damaged, or moved from another place or replica")
        }
        cache?.insert(plaintext, table, key: key, record: record)
        return plaintext
    }

    // MARK: Objects

    /// The LMDB key of the object whose encoded key is `objectKey`.
    func storageKey(forObject objectKey: [UInt8]) -> [UInt8] {
        objectKeys?.storageKey(objectKey) ?? objectKey
    }

    /// The record to store under `storageKey` for the state of object `objectKey`.
    func sealObject(_ state: [UInt8], objectKey: [UInt8], storageKey: [UInt8]) -> [UInt8] {
        guard objectKeys != nil else { return seal(state, .objects, key: storageKey) }
        return seal(ObjectKeyHiding.wrap(state, objectKey: objectKey), .objects, key: storageKey)
    }

    /// The key and state of the object whose record is stored under `storageKey`.
    /// - Throws: `.corrupted` naming `what` when the record does not open or decode.
    func openObject(
        recordAt record: UnsafeRawBufferPointer, storageKey: [UInt8], cached: Bool = true,
        what: @autoclosure () -> String
    ) throws(ConcordError) -> (objectKey: [UInt8], state: [UInt8]) {
        let plaintext = try open(recordAt: record, .objects, key: storageKey, cached: cached, what: what())
        guard objectKeys != nil else { return (storageKey, plaintext) }
        return try ObjectKeyHiding.unwrap(plaintext, what: what())
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// Unique nonces: a random 8-byte prefix and a 4-byte counter; a new prefix when the counter
/// wraps. Two sources (two openings, two replicas under one key) repeat a nonce only if they
/// draw the same 64-bit prefix.
final class NonceSource: Sendable {
    private let state = Mutex<(prefix: UInt64, counter: UInt32)>((UInt64.random(in: .min ... .max), 0))

    /// Calls `body` with the next nonce's 12 bytes.
    func withNext<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let (prefix, counter) = state.withLock { state -> (UInt64, UInt32) in
            if state.counter == .max { state = (UInt64.random(in: .min ... .max), 0) }
            state.counter += 1
            return (state.prefix, state.counter)
        }
        let bytes: (UInt64, UInt32) = (prefix.bigEndian, counter.bigEndian)
        return try withUnsafeBytes(of: bytes) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<12])) }
    }
}

// MARK: The key check

/// The record (`meta`/`encryption`, in the clear) that says a store is encrypted and with
/// which key: the key's identifier and tag, and a known text sealed under it. Opening
/// checks it first, so a wrong key, a missing key or a key for a plain store is one clear
/// error at open, not a failure at the first read.
struct KeyCheck: Equatable {
    static let knownText = Array("concord key check".utf8)
    static let version: UInt8 = 1

    /// The key's identifier and tag.
    var keyID: String
    var tag: [UInt8]
    /// `knownText` sealed under the key (as a meta record under `MetaKey.encryption`).
    var sealed: [UInt8]
    /// During a rekey: the key records may still be sealed with ("" for plain records).
    var rekeyingFrom: String?

    static func make(for sealer: Sealer, rekeyingFrom: String? = nil) -> KeyCheck {
        KeyCheck(
            keyID: sealer.current.keyID, tag: sealer.current.tag,
            sealed: sealer.seal(knownText, .objects, key: Storage.MetaKey.encryption), rekeyingFrom: rekeyingFrom)
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.writeByte(Self.version)
        writer.writeString(keyID)
        writer.writeBytes(tag)
        writer.writeBytes(sealed)
        writer.writeBool(rekeyingFrom != nil)
        if let rekeyingFrom { writer.writeString(rekeyingFrom) }
        return writer.bytes
    }

    init(keyID: String, tag: [UInt8], sealed: [UInt8], rekeyingFrom: String?) {
        self.keyID = keyID
        self.tag = tag
        self.sealed = sealed
        self.rekeyingFrom = rekeyingFrom
    }

    init(decoding bytes: [UInt8]) throws(ConcordError) {
        self = try Storage.decode("the key check", bytes) { (reader: inout ByteReader) throws(CodecError) in
            guard try reader.readByte() == Self.version else {
                throw reader.error(.inconsistent, "unknown key check version")
            }
            let keyID = try reader.readString()
            let tag = try reader.readBytes()
            let sealed = try reader.readBytes()
            let rekeying = try reader.readBool() ? try reader.readString() : nil
            return KeyCheck(keyID: keyID, tag: tag, sealed: sealed, rekeyingFrom: rekeying)
        }
    }

    /// Whether `sealer`'s current key opens the check.
    func opens(with sealer: Sealer) -> Bool {
        guard tag == sealer.current.tag else { return false }
        let probe = Sealer(replica: sealer.replica, current: Encryption.unchecked(sealer.current))
        // A failure to open is the answer (another key), not an error to pass on.
        return (try? probe.open(sealed, .objects, key: Storage.MetaKey.encryption, what: "")) == Self.knownText
    }
}

extension Encryption {
    /// The encryption of a sealing key (already checked when it was made).
    /// (No plaintext cache: the probes and backup checks that use it read each record once.)
    static func unchecked(_ key: Sealer.SealingKey) -> Encryption {
        var encryption = try! Encryption(key: key.key, keyID: key.keyID)
        encryption.plaintextCacheBytes = 0
        return encryption
    }
}
