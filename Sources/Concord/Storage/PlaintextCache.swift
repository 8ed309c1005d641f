import Synchronization

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

    struct Key: Hashable {
        var table: UInt8
        var bytes: [UInt8]

        // Hashes the bytes as one block: hashing an array element by element costs more
        // than opening a small record.
        func hash(into hasher: inout Hasher) {
            hasher.combine(table)
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    struct Entry {
        var identity: SealIdentity
        var plaintext: [UInt8]
    }

    struct Shard {
        var entries: [Key: Entry] = [:]
        /// Keys in the order they were first inserted; `head` is the oldest still counted.
        var order: [Key] = []
        var head = 0
        var bytes = 0
    }

    /// What one entry costs besides its plaintext and key (dictionary slot, array headers).
    static let entryOverheadBytes = 96
    static let shardCount = 8

    let maximumBytesPerShard: Int
    /// The bound it was made with.
    let maximumBytes: Int
    private let shards: [ShardBox]

    final class ShardBox: Sendable {
        let state = Mutex(Shard())
    }

    /// A cache holding at most about `maximumBytes`.
    init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
        maximumBytesPerShard = max(1, maximumBytes / Self.shardCount)
        shards = (0..<Self.shardCount).map { _ in ShardBox() }
    }

    private func shard(for key: Key) -> ShardBox {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
    }

    private static func cost(_ key: Key, _ plaintext: [UInt8]) -> Int {
        plaintext.count + key.bytes.count + entryOverheadBytes
    }

    /// The plaintext of `record`, stored in `table` under `key`, when this cache holds it.
    func plaintext(_ table: Sealer.Table, key: [UInt8], record: UnsafeRawBufferPointer) -> [UInt8]? {
        let key = Key(table: table.rawValue, bytes: key)
        let identity = SealIdentity(record)
        return shard(for: key).state.withLock { shard in
            guard let entry = shard.entries[key], entry.identity == identity else { return nil }
            return entry.plaintext
        }
    }

    /// Remembers `plaintext` as the content of the sealed `record` in `table` under `key`.
    func insert(_ plaintext: [UInt8], _ table: Sealer.Table, key: [UInt8], record: UnsafeRawBufferPointer) {
        let key = Key(table: table.rawValue, bytes: key)
        let entry = Entry(identity: SealIdentity(record), plaintext: plaintext)
        let cost = Self.cost(key, plaintext)
        guard cost <= maximumBytesPerShard else { return }
        shard(for: key).state.withLock { shard in
            if let old = shard.entries.updateValue(entry, forKey: key) {
                shard.bytes += cost - Self.cost(key, old.plaintext)
            } else {
                shard.bytes += cost
                shard.order.append(key)
            }
            while shard.bytes > maximumBytesPerShard, shard.head < shard.order.count {
                let oldest = shard.order[shard.head]
                shard.head += 1
                if let evicted = shard.entries.removeValue(forKey: oldest) {
                    shard.bytes -= Self.cost(oldest, evicted.plaintext)
                }
            }
            // Drop the evicted keys from the front once they are half of the array.
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
