import Locking

/// The plaintexts of an encrypted store's records that it sealed or opened recently, so that
/// reading a record again (a read, or the state a write updates) does not open it again.
///
/// An entry is found by the record's table and LMDB key and used only when the record now
/// stored there carries the same key tag and nonce as the one the entry came from. Nonces
/// are never reused under one key (see `NonceSource`), so tag and nonce name one sealed
/// record, and its plaintext was authenticated when this store sealed it or first opened
/// it: the cache never answers for a record it has not seen, whatever the files hold. A
/// record changed on disk behind the cache's back while keeping its tag and nonce reads as
/// the value it authenticated (never a wrong value); it fails to open once evicted or when
/// the store is reopened, and `verify` always opens every record.
///
/// Bounded by bytes (plaintexts, keys and a fixed cost per entry), in shards with a lock
/// each so that concurrent readers seldom meet; each shard evicts its oldest entries first.
final class PlaintextCache: Sendable {
    /// The identity of a sealed record: bytes 4 to 20 (key tag and nonce).
    struct SealIdentity: Equatable {
        var tagAndNoncePrefix: UInt64
        var nonceSuffix: UInt64

        init(_ record: UnsafeRawBufferPointer) {
            tagAndNoncePrefix = record.loadUnaligned(fromByteOffset: 4, as: UInt64.self)
            nonceSuffix = record.loadUnaligned(fromByteOffset: 12, as: UInt64.self)
        }
    }

    /// A record's place (table and LMDB key) and its 64-bit digest. The dictionaries are
    /// keyed by the digest: probing compares integers in place, where comparing keys would
    /// follow each probed key's pointer (a cache miss apiece); the entry keeps the key and a
    /// hit checks it, so two keys of one digest only ever miss.
    struct Place {
        var table: UInt8
        var bytes: [UInt8]
        var digest: UInt64

        init(_ table: Sealer.Table, _ bytes: [UInt8]) {
            self.table = table.rawValue
            self.bytes = bytes
            var hasher = Hasher()
            hasher.combine(table.rawValue)
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
            digest = UInt64(bitPattern: Int64(hasher.finalize()))
        }
    }

    struct Entry {
        var table: UInt8
        var key: [UInt8]
        var identity: SealIdentity
        var plaintext: [UInt8]

        func holds(_ place: Place) -> Bool { table == place.table && key == place.bytes }
    }

    struct Shard {
        var entries: [UInt64: Entry] = [:]
        /// Digests in the order they were first inserted; `head` is the oldest still counted.
        var order: [UInt64] = []
        var head = 0
        var bytes = 0
    }

    /// What one entry costs besides its plaintext and key (dictionary slot, array headers).
    static let entryOverheadBytes = 96
    static let shardBits = 3
    static let shardCount = 1 << shardBits

    let maximumBytesPerShard: Int
    private let shards: [ShardBox]

    final class ShardBox: Sendable {
        let state = Mutex(Shard())
    }

    /// A cache holding at most about `maximumBytes`.
    init(maximumBytes: Int) {
        maximumBytesPerShard = max(1, maximumBytes / Self.shardCount)
        shards = (0..<Self.shardCount).map { _ in ShardBox() }
    }

    /// The shard of `place`, chosen by the top bits of its digest (each shard's dictionary
    /// hashes the digest again to place it).
    private func shard(for place: Place) -> ShardBox {
        shards[Int(place.digest >> UInt64(UInt64.bitWidth - Self.shardBits))]
    }

    private static func cost(_ key: [UInt8], _ plaintext: [UInt8]) -> Int {
        plaintext.count + key.count + entryOverheadBytes
    }

    /// The plaintext of `record`, stored in `table` under `key`, when this cache holds it.
    func plaintext(_ table: Sealer.Table, key: [UInt8], record: UnsafeRawBufferPointer) -> [UInt8]? {
        let place = Place(table, key)
        let identity = SealIdentity(record)
        return shard(for: place).state.withLock { shard in
            guard let entry = shard.entries[place.digest], entry.identity == identity, entry.holds(place) else {
                return nil
            }
            return entry.plaintext
        }
    }

    /// Remembers `plaintext` as the content of the sealed `record` in `table` under `key`.
    func insert(_ plaintext: [UInt8], _ table: Sealer.Table, key: [UInt8], record: UnsafeRawBufferPointer) {
        let place = Place(table, key)
        let entry = Entry(table: place.table, key: key, identity: SealIdentity(record), plaintext: plaintext)
        let cost = Self.cost(key, plaintext)
        guard cost <= maximumBytesPerShard else { return }
        shard(for: place).state.withLock { shard in
            if let old = shard.entries.updateValue(entry, forKey: place.digest) {
                shard.bytes += cost - Self.cost(old.key, old.plaintext)
            } else {
                shard.bytes += cost
                shard.order.append(place.digest)
            }
            while shard.bytes > maximumBytesPerShard, shard.head < shard.order.count {
                let oldest = shard.order[shard.head]
                shard.head += 1
                if let evicted = shard.entries.removeValue(forKey: oldest) {
                    shard.bytes -= Self.cost(evicted.key, evicted.plaintext)
                }
            }
            // Drop the evicted digests from the front once they are half of the array.
            if shard.head > 64 && shard.head * 2 > shard.order.count {
                shard.order.removeFirst(shard.head)
                shard.head = 0
            }
        }
    }

    /// `insert` for a record held in an array.
    func insert(_ plaintext: [UInt8], _ table: Sealer.Table, key: [UInt8], record: [UInt8]) {
        record.withUnsafeBytes { insert(plaintext, table, key: key, record: $0) }
    }

    /// The number of entries and the bytes they count for (for tests).
    var usage: (entries: Int, bytes: Int) {
        shards.reduce(into: (0, 0)) { total, box in
            box.state.withLock {
                total.0 += $0.entries.count; total.1 += $0.bytes
            }
        }
    }
}
