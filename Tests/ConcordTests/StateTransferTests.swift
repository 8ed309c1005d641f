import CRDTs
import Crypto
import Foundation
import Testing

@testable import Concord

/// A state transfer sends the objects as the store holds them, without decoding them.
@Suite struct StateTransferTests {
    @Test(
        "The encoded objects of a state transfer are what decoding and encoding every object gives",
        arguments: [0, 1, 2])
    func encodedStateMatchesTheDecodedOne(sealing: Int) throws {
        var encryption: Encryption?
        if sealing > 0 {
            encryption = try Encryption(key: SymmetricKey(data: [UInt8](repeating: 9, count: 32)), keyID: "k")
            encryption?.hidesObjectKeys = sealing == 2
        }
        try withTemporaryDirectory { url in
            let cluster = try Cluster(
                directory: url, replicas: 1, configuration: Configuration(durability: .noSync, encryption: encryption))
            defer { cluster.close() }
            let replica = cluster.replicas[0]
            for i in 0..<40 {
                try replica.update(Key<LWWRegister<String>>("r\(i)", bucket: "b\(i % 3)"), .assign("value \(i)"))
                try replica.update(Key<AWSet<Int64>>("s\(i % 5)", bucket: "sets"), .add(Int64(i)))
                try replica.update(Key<GCounter>("çà\(i % 4)", bucket: "ünï"), .increment(UInt64(i)))
            }
            let storage = try #require(replica.readableStorage.withLock { $0 })
            let decoded = try storage.allObjects()
            #expect(decoded.count == 40 + 5 + 4)
            #expect(decoded.map(\.key) == decoded.map(\.key).sorted(), "in key order")
            let encoded = try storage.allObjectsEncoded()
            #expect(encoded == DeltaInterval.EncodedObjects(decoded), "sealing \(sealing)")
            // And it decodes as a receiver decodes a state message.
            let message = Message(sender: 1, incarnation: 1, clock: try replica.clock, payload: .encodedState(encoded))
            let received = try Message(decoding: message.encoded())
            #expect(received.payload == .state(objects: decoded))
        }
    }

    @Test("Stored states read in one cursor pass equal those read one by one, missing keys included")
    func storedStatesByScanEqualThoseByGet() throws {
        try withTemporaryDirectory { url in
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            let replica = cluster.replicas[0]
            // Every third key stored; asked for: all of them, and keys past the last stored.
            let keys = (0..<300).map { Key<GCounter>(String(format: "k%03d", $0), bucket: "b") }
            for (i, key) in keys.enumerated() where i % 3 == 0 { try replica.update(key, .increment(UInt64(i + 1))) }
            let asked = (keys + (300..<320).map { Key<GCounter>("z\($0)", bucket: "b") }).map(\.object).sorted()
            let storage = try #require(replica.readableStorage.withLock { $0 })
            let scanned = try storage.storedStates(asked)  // sorted and many: one pass
            let fetched = try storage.storedStates(asked.reversed()).reversed()  // unsorted: one get each
            #expect(scanned == Array(fetched))
            #expect(scanned.compactMap { $0 }.count == 100)
            #expect(try storage.storedStates(Array(asked.prefix(10))) == Array(scanned.prefix(10)))
            #expect(try storage.storedStates([]) == [])
        }
    }

    @Test("A stored state of an unknown format version is reported, not sent")
    func unknownFormatVersionIsCorrupted() throws {
        try withTemporaryDirectory { url in
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            let replica = cluster.replicas[0]
            let key = Key<GCounter>("n")
            try replica.update(key, .increment(1))
            let storage = try #require(replica.readableStorage.withLock { $0 })
            var stored = try #require(try storage.read("read") { txn in try storage.objectState(key.object, txn) })
            stored[0] = 99
            var batch = StorageBatch()
            batch.put(stored, forKey: key.object.bytes, in: .objects)
            try storage.commit(batch, "damage the version")
            let error = try #require(throws: ConcordError.self) { try storage.allObjectsEncoded() }
            #expect(error.code == .corrupted && "\(error)".contains("format version 99"), "\(error)")
        }
    }

    @Test("Object keys parse back, non-ASCII names included, and invalid UTF-8 is refused")
    func objectKeysParse() throws {
        let long = String(repeating: "b", count: 200)  // a two-byte length
        for (bucket, name) in [("b", "n"), ("", ""), ("ünï", "çà-名前"), ("bucket with spaces", "x\u{0}y"), (long, "n")] {
            let key = ObjectKey(bucket: bucket, name: name, type: AWSet<Int64>.typeCode)
            let parsed = try ObjectKey(bytes: key.bytes)
            #expect(parsed == key && parsed.bucket == bucket && parsed.name == name && parsed.type == key.type)
            #expect(key.bytes.withUnsafeBytes { ObjectKey.typeCode(ofEncoded: $0) } == key.type)
            #expect(
                key.bytes.dropLast(name.utf8.count + 1).withUnsafeBytes { ObjectKey.typeCode(ofEncoded: $0) } == nil)
        }
        let good = ObjectKey(bucket: "b", name: "n", type: GCounter.typeCode).bytes
        var badName = good
        badName[badName.count - 1] = 0xFF
        var badBucket = good
        badBucket[1] = 0xC3
        for bytes in [badName, badBucket] {
            let error = try #require(throws: CodecError.self) { try ObjectKey(bytes: bytes) }
            #expect(error.code == .invalidUTF8)
        }
        #expect(throws: CodecError.self) { try ObjectKey(bytes: [5, 0x61]) }
    }
}
