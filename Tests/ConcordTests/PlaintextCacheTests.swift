import Crypto
import Testing

@testable import Concord

/// The plaintext cache of encrypted stores answers only for the very record it saw.
@Suite struct PlaintextCacheTests {
    static func sealer(cacheBytes: Int = Encryption.defaultPlaintextCacheBytes) throws -> Sealer {
        var encryption = try Encryption(key: SymmetricKey(data: [UInt8](repeating: 7, count: 32)), keyID: "cache")
        encryption.plaintextCacheBytes = cacheBytes
        return Sealer(replica: 1, current: encryption)
    }

    let keyA = Array("bucket/a".utf8)
    let keyB = Array("bucket/b".utf8)

    @Test func aCachedRecordOpensOnlyUnderItsOwnKeyAndNonce() throws {
        let sealer = try Self.sealer()
        let plaintext = Array("the value".utf8)
        let record = sealer.seal(plaintext, .objects, key: keyA)
        #expect(sealer.cache?.usage.entries == 1)
        #expect(try sealer.open(record, .objects, key: keyA, what: "a") == plaintext)

        // Moved under another key or into another table: not answered from the cache.
        #expect(throws: ConcordError.self) { try sealer.open(record, .objects, key: keyB, what: "b") }
        #expect(throws: ConcordError.self) { try sealer.open(record, .log, key: keyA, what: "a in the log") }

        // A changed nonce (or key tag) misses the cache and fails its authentication.
        for index in 4..<20 {
            var changed = record
            changed[index] ^= 0x40
            #expect(throws: ConcordError.self, "byte \(index)") {
                try sealer.open(changed, .objects, key: keyA, what: "a")
            }
        }

        // A changed ciphertext under the same nonce reads as the value the cache
        // authenticated (never another one); opening without the cache finds the change.
        var tampered = record
        tampered[tampered.count - 20] ^= 0x01
        #expect(try sealer.open(tampered, .objects, key: keyA, what: "a") == plaintext)
        let error = try #require(throws: ConcordError.self) {
            try tampered.withUnsafeBytes {
                try sealer.open(recordAt: $0, .objects, key: keyA, cached: false, what: "a")
            }
        }
        #expect(error.code == .corrupted && error.message.contains("fails its authentication"))
    }

    @Test func aNewRecordUnderTheSameKeyIsNeverAnsweredWithTheOldPlaintext() throws {
        let writer = try Self.sealer()
        let first = writer.seal(Array("first".utf8), .objects, key: keyA)
        #expect(try writer.open(first, .objects, key: keyA, what: "a") == Array("first".utf8))
        // Another opening of the store (another nonce source) seals a new value there.
        let other = try Self.sealer()
        let second = other.seal(Array("second".utf8), .objects, key: keyA)
        #expect(try writer.open(second, .objects, key: keyA, what: "a") == Array("second".utf8))
        // And the old record again: opened afresh, still its own value.
        #expect(try writer.open(first, .objects, key: keyA, what: "a") == Array("first".utf8))
    }

    @Test func aSmallCacheStaysWithinItsBoundAndEveryRecordStillOpens() throws {
        let bound = 8 * 1024
        let sealer = try Self.sealer(cacheBytes: bound)
        var records: [([UInt8], [UInt8], [UInt8])] = []
        for index in 0..<2_000 {
            let key = Array("bucket/key-\(index)".utf8)
            let plaintext = Array("value \(index) ".utf8) + [UInt8](repeating: UInt8(index & 0xFF), count: index % 97)
            records.append((key, plaintext, sealer.seal(plaintext, .objects, key: key)))
            let usage = try #require(sealer.cache?.usage)
            #expect(usage.bytes <= bound, "after \(index) records")
        }
        for pass in 1...3 {
            // Each pass in another order (a stride through the records).
            for step in 0..<records.count {
                let (key, plaintext, record) = records[(step * (pass * 613 + 1)) % records.count]
                #expect(try sealer.open(record, .objects, key: key, what: "a record") == plaintext)
            }
            let usage = try #require(sealer.cache?.usage)
            #expect(usage.bytes <= bound && usage.entries > 0)
        }
        // No cache at all when its size is 0.
        #expect(try Self.sealer(cacheBytes: 0).cache == nil)
    }
}
