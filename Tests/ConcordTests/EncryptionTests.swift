import Concord
import Crypto
import Foundation
import LMDB
import Testing

/// Encryption at rest, the key check at open, rekeying, and authenticated messages.
@Suite struct EncryptionTests {
    let secret = Key<LWWRegister<String>>("secret", bucket: "vault")
    let marker = "correct-horse-battery-staple-0042"

    static func key(_ byte: UInt8, _ id: String) throws -> Encryption {
        try Encryption(key: SymmetricKey(data: [UInt8](repeating: byte, count: 32)), keyID: id)
    }

    /// Whether any file under `directory` contains `text`.
    static func filesContain(_ text: String, under directory: URL) throws -> Bool {
        let needle = Data(text.utf8)
        let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)!
        for case let file as URL in files where !file.hasDirectoryPath {
            if (try? Data(contentsOf: file))?.range(of: needle) != nil { return true }
        }
        return false
    }

    @Test func theRawFilesHoldNoValueAndTheRightKeyReadsIt() throws {
        let first = try Self.key(1, "first")
        for encrypted in [false, true] {
            try withTemporaryDirectory { url in
                let configuration = Configuration(durability: .noSync, encryption: encrypted ? first : nil)
                do {
                    let cluster = try Cluster(directory: url, replicas: 2, configuration: configuration)
                    try cluster.replicas[0].update(secret, .assign(marker))
                    try cluster.replicas[0].update(Key<AWSet<String>>("tags", bucket: "vault"), .add(marker + "-tag"))
                    try cluster.synchronize()
                    try cluster.forceSync()
                    #expect(try cluster.replicas[1].read(secret) == marker)
                    cluster.close()
                }
                // The control run finds the value in the clear, so the search can find it.
                #expect(try Self.filesContain(marker, under: url) == !encrypted, "encrypted: \(encrypted)")
                if encrypted {
                    #expect(try ClusterDirectory.readManifest(at: url).encryptionKeyID == "first")
                    let reopened = try Cluster(directory: url, replicas: 2, configuration: configuration)
                    #expect(try reopened.replicas[1].read(secret) == marker)
                    #expect(reopened.verify().isIntact)
                    reopened.close()
                    let reader = try ClusterReader(directory: url, encryption: first)
                    #expect(try reader.read(secret, at: 2) == marker)
                }
            }
        }
    }

    @Test func aWrongMissingOrUnneededKeyIsOneErrorAtOpenAndChangesNothing() throws {
        let first = try Self.key(1, "first")
        let other = try Self.key(2, "other")
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("sealed")
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 1, configuration: Configuration(durability: .noSync, encryption: first))
                try cluster.replicas[0].update(secret, .assign(marker))
                cluster.close()
            }
            let file = url.appendingPathComponent("replica-1/data.mdb")
            let before = try Data(contentsOf: file)
            let wrong = try #require(throws: ConcordError.self) {
                _ = try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: other))
            }
            #expect(wrong.code == .keyMismatch)
            #expect(wrong.message.contains("'other'") && wrong.message.contains("'first'"))
            let missing = try #require(throws: ConcordError.self) { _ = try Cluster(directory: url, replicas: 1) }
            #expect(missing.code == .keyMismatch && missing.message.contains("encrypted with key 'first'"))
            #expect(try Data(contentsOf: file) == before)
            let reader = try ClusterReader(directory: url, encryption: other)
            #expect(throws: ConcordError.self) { try reader.read(secret, at: 1) }
            // The right key still reads it.
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: first))
            #expect(try cluster.replicas[0].read(secret) == marker)
            cluster.close()

            let plain = root.appendingPathComponent("plain")
            try Cluster(directory: plain, replicas: 1).close()
            let unneeded = try #require(throws: ConcordError.self) {
                _ = try Cluster(directory: plain, replicas: 1, configuration: Configuration(encryption: first))
            }
            #expect(unneeded.code == .keyMismatch && unneeded.message.contains("not encrypted"))
        }
    }

    @Test func aFlippedOrMovedSealedRecordIsCorruptedNeverAWrongValue() throws {
        let first = try Self.key(1, "first")
        try withTemporaryDirectory { url in
            let configuration = Configuration(durability: .noSync, encryption: first)
            let other = Key<LWWRegister<String>>("other", bucket: "vault")
            do {
                let cluster = try Cluster(directory: url, replicas: 1, configuration: configuration)
                try cluster.replicas[0].update(secret, .assign(marker))
                try cluster.replicas[0].update(other, .assign("something else"))
                cluster.close()
            }
            // Move `secret`'s sealed state under `other`'s key: it must not open there.
            let path = url.appendingPathComponent("replica-1").path
            do {
                let environment = try LMDBTestAccess.open(path)
                let objects = try environment.database("objects")
                var records: [([UInt8], [UInt8])] = []
                try environment.read { txn in
                    try txn.forEach(in: objects) { key, value in
                        records.append((Array(key), Array(value)))
                        return true
                    }
                }
                let secretRecord = try #require(
                    records.first { String(decoding: $0.0, as: UTF8.self).hasSuffix("secret") })
                let otherRecord = try #require(
                    records.first { String(decoding: $0.0, as: UTF8.self).hasSuffix("other") })
                try LMDBTestAccess.putObject(environment, key: otherRecord.0, value: secretRecord.1)
                // And flip one byte of `secret`'s own ciphertext.
                var flipped = secretRecord.1
                flipped[flipped.count - 20] ^= 0x01
                try LMDBTestAccess.putObject(environment, key: secretRecord.0, value: flipped)
                environment.close()
            }
            let cluster = try Cluster(directory: url, replicas: 1, configuration: configuration)
            defer { cluster.close() }
            for key in [secret, other] {
                let error = try #require(throws: ConcordError.self) { try cluster.replicas[0].read(key) }
                #expect(error.code == .corrupted)
                #expect(error.message.contains("vault/"))
            }
            let report = cluster.verify()
            #expect(!report.isIntact)
            #expect(report.allProblems.filter { $0.contains("fails its authentication") }.count == 2)
        }
    }

    @Test func rekeyEncryptsAPlainClusterThenMovesItToAnotherKey() throws {
        let first = try Self.key(1, "first")
        let second = try Self.key(2, "second")
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("cluster")
            do {
                // A plain cluster with data, encrypted by a rekey from no key.
                let cluster = try Cluster(
                    directory: url, replicas: 2, configuration: Configuration(durability: .noSync))
                for i in 0..<300 { try cluster.replicas[i % 2].update(Key<GCounter>("c\(i % 40)"), .increment(1)) }
                try cluster.replicas[0].update(secret, .assign(marker))
                try cluster.synchronize()
                cluster.close()
            }
            let encrypted = try Cluster.rekey(directoryAt: url, from: nil, to: first)
            #expect(encrypted.resealed.values.allSatisfy { $0 > 40 })
            // Not even in free pages: the rekey compacts each store when it is done.
            #expect(try !Self.filesContain(marker, under: url))
            #expect(try ClusterDirectory.readManifest(at: url).encryptionKeyID == "first")
            // A rekey from the wrong old key is refused and changes nothing.
            #expect(throws: ConcordError.self) { try Cluster.rekey(directoryAt: url, from: second, to: first) }
            try Cluster.rekey(directoryAt: url, from: first, to: second)
            let cluster = try Cluster(directory: url, replicas: 2, configuration: Configuration(encryption: second))
            #expect(try cluster.replicas[1].read(secret) == marker)
            #expect(try cluster.replicas[0].read(Key<GCounter>("c7")) == 8)
            #expect(cluster.verify().isIntact)
            try cluster.backup(to: root.appendingPathComponent("backups"), name: "b")
            cluster.close()
            let backup = try #require(try Backups(directory: root.appendingPathComponent("backups")).list().first)
            #expect(backup.manifest?.keyID == "second")
            #expect(
                try Backups(directory: root.appendingPathComponent("backups")).verify("b", encryption: second).isIntact)
            #expect(try !Backups(directory: root.appendingPathComponent("backups")).verify("b").isIntact)
        }
    }

    @Test func messagesWithoutTheClustersMACAreDroppedBeforeDecoding() throws {
        let first = try Self.key(1, "first")
        try withTemporaryDirectory { url in
            let cluster = try Cluster(
                directory: url, replicas: 2, configuration: Configuration(durability: .noSync, encryption: first))
            defer { cluster.close() }
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(secret, .assign(marker))
            try cluster.synchronize()
            var random = SeededRandom(seed: 11)
            for _ in 0..<5 {
                let forged = (0..<Int(random.next() % 200 + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                cluster.network.inject(forged, from: a.id, to: b.id)
            }
            try cluster.synchronize()
            #expect(b.status().messagesUnauthenticated == 5)
            #expect(b.status().messagesUndecodable == 0)
            #expect(try b.read(secret) == marker)
            try a.update(secret, .assign("after"))
            try cluster.synchronize()
            #expect(try b.read(secret) == "after")
        }
    }
}

/// `Encryption.hidesObjectKeys`: object names hashed, never in the files.
@Suite struct HiddenObjectKeyTests {
    let secretName = "payroll-of-kim-2026"
    let marker = "hidden-value-0077"

    @Test func hiddenKeysAreInNoFileAndEveryPathStillNamesTheObjects() throws {
        var hiding = try EncryptionTests.key(1, "first")
        hiding.hidesObjectKeys = true
        let second = try EncryptionTests.key(2, "second")
        let register = Key<LWWRegister<String>>(secretName, bucket: "vault")
        let set = Key<AWSet<String>>(secretName + "-set", bucket: "vault")
        for hidden in [false, true] {
            try withTemporaryDirectory { root in
                let url = root.appendingPathComponent("cluster")
                var encryption = hiding
                encryption.hidesObjectKeys = hidden
                let configuration = Configuration(durability: .noSync, encryption: encryption)
                do {
                    let cluster = try Cluster(directory: url, replicas: 3, configuration: configuration)
                    try cluster.replicas[0].update(register, .assign(marker))
                    try cluster.replicas[1].update(set, .add(marker + "-element"))
                    for i in 0..<50 { try cluster.replicas[i % 3].update(Key<GCounter>("n\(i % 7)"), .increment(1)) }
                    try cluster.synchronize()
                    // A wiped replica gets everything back by a state transfer.
                    try cluster.wipe(2)
                    try cluster.synchronize()
                    #expect(try cluster.replicas[2].read(register) == marker)
                    #expect(try cluster.replicas[2].read(set) == [marker + "-element"])
                    try cluster.forceSync()
                    cluster.close()
                }
                // The control run finds the name, so the search can find it.
                #expect(try EncryptionTests.filesContain(secretName, under: url) == !hidden, "hidden: \(hidden)")
                #expect(try !EncryptionTests.filesContain(marker, under: url))
                guard hidden else {
                    // Asking a store with visible keys to hide them is one clear error.
                    let error = try #require(throws: ConcordError.self) {
                        _ = try Cluster(directory: url, replicas: 3, configuration: Configuration(encryption: hiding))
                    }
                    #expect(error.code == .invalidArgument && error.message.contains("visible"))
                    return
                }
                // Opened with the key alone (the store says its keys are hidden).
                let plainKey = try EncryptionTests.key(1, "first")
                let reader = try ClusterReader(directory: url, encryption: plainKey)
                let listed = try reader.objects(at: 3, bucket: "vault")
                #expect(listed.map(\.name) == [secretName, secretName + "-set"])
                #expect(try reader.read(register, at: 3) == marker)
                #expect(reader.verify().isIntact)
                reader.close()
                // A rekey reseals the store's secret: the LMDB keys stay, and still open.
                try Cluster.rekey(directoryAt: url, from: plainKey, to: second)
                #expect(try !EncryptionTests.filesContain(secretName, under: url))
                #expect(try ClusterDirectory.readManifest(at: url).hidesObjectKeys)
                let cluster = try Cluster(
                    directory: url, replicas: 3, configuration: Configuration(durability: .noSync, encryption: second))
                #expect(try cluster.replicas[0].read(register) == marker)
                #expect(try cluster.replicas[1].read(Key<GCounter>("n3")) == 7)
                #expect(try cluster.replicas[2].read(set) == [marker + "-element"])
                try cluster.replicas[2].update(register, .assign("after the rekey"))
                // A store made later (here a wiped one) hides its keys too: the manifest
                // says the cluster does, whatever the key given says.
                try cluster.wipe(1)
                try cluster.synchronize()
                #expect(try cluster.replicas[0].read(register) == "after the rekey")
                #expect(try cluster.replicas[0].read(set) == [marker + "-element"])
                #expect(cluster.verify().isIntact)
                try cluster.forceSync()
                cluster.close()
                #expect(try !EncryptionTests.filesContain(secretName, under: url))
            }
        }
    }

    @Test func aBackupOfAHiddenKeyClusterRestoresWithItsKeysStillHidden() throws {
        var hiding = try EncryptionTests.key(3, "third")
        hiding.hidesObjectKeys = true
        let register = Key<LWWRegister<String>>(secretName, bucket: "vault")
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("cluster")
            let backups = Backups(directory: root.appendingPathComponent("backups"))
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 2, configuration: Configuration(durability: .noSync, encryption: hiding))
                try cluster.replicas[0].update(register, .assign(marker))
                try cluster.synchronize()
                try cluster.backup(to: backups.directory, name: "hidden")
                cluster.close()
            }
            let plainKey = try EncryptionTests.key(3, "third")
            let restored = root.appendingPathComponent("restored")
            _ = try backups.restore("hidden", to: restored, encryption: plainKey)
            #expect(try ClusterDirectory.readManifest(at: restored).hidesObjectKeys)
            #expect(try !EncryptionTests.filesContain(secretName, under: restored))
            let cluster = try Cluster(
                directory: restored, replicas: 2,
                configuration: Configuration(durability: .noSync, encryption: plainKey))
            #expect(try cluster.replicas[1].read(register) == marker)
            // A replica wiped in the restored cluster (once it has recovered) comes back
            // hiding its keys too.
            try cluster.synchronize()
            try cluster.wipe(2)
            try cluster.synchronize()
            #expect(try cluster.replicas[1].read(register) == marker)
            try cluster.forceSync()
            cluster.close()
            #expect(try !EncryptionTests.filesContain(secretName, under: restored))
        }
    }
}
