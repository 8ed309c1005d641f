import Foundation
import Testing

@testable import LMDB

private struct Rollback: Error {}

@Suite struct TransactionTests {
    @Test func putGetDeleteCount() throws {
        try withEnvironment { environment throws in
            let db = try environment.database("d")
            let empty = try environment.read { try $0.count(in: db) }
            #expect(empty == 0)
            try environment.write { transaction throws in
                try transaction.put(bytes("one"), forKey: bytes("a"), in: db)
                try transaction.put([], forKey: bytes("empty value"), in: db)
                #expect(try transaction.get(bytes("a"), in: db) == bytes("one"))  // own writes
                #expect(try transaction.count(in: db) == 2)
            }
            try environment.read { transaction throws in
                #expect(try transaction.get(bytes("a"), in: db) == bytes("one"))
                #expect(try transaction.get(bytes("empty value"), in: db) == [])
                #expect(try transaction.get(bytes("absent"), in: db) == nil)
                #expect(try transaction.withValue(forKey: bytes("a"), in: db) { $0.count } == 3)
                #expect(try transaction.withValue(forKey: bytes("absent"), in: db) { $0.count } == nil)
                let raw = try bytes("a").withUnsafeBytes { key throws in
                    try transaction.withValue(forKey: key, in: db) { Array($0) }
                }
                #expect(raw == bytes("one"))
                #expect(try transaction.statistics(in: db).entries == 2)
            }
            let deleted = try environment.write { transaction throws in
                (try transaction.delete(bytes("a"), in: db), try transaction.delete(bytes("absent"), in: db))
            }
            #expect(deleted == (true, false))
            #expect(try environment.read { try $0.count(in: db) } == 1)
        }
    }

    @Test("A transaction's id: a read's is its snapshot's last commit, a write's the id it commits with")
    func transactionIDsNameCommits() throws {
        try withEnvironment { environment throws in
            let db = try environment.database("d")
            let before = try environment.read { $0.id }
            let written = try environment.write { transaction throws in
                try transaction.put(bytes("one"), forKey: bytes("a"), in: db)
                return transaction.id
            }
            #expect(written == before + 1)
            #expect(try environment.read { $0.id } == written)
            // An aborted write commits nothing and uses no id.
            #expect(throws: Rollback.self) {
                try environment.write { transaction throws in
                    try transaction.put(bytes("two"), forKey: bytes("a"), in: db)
                    throw Rollback()
                }
            }
            #expect(try environment.read { $0.id } == written)
            let held = try environment.beginWrite()
            let heldID = held.read { $0.id }
            try held.withWrites { try $0.put(bytes("three"), forKey: bytes("a"), in: db) }
            try held.commit()
            #expect(heldID == written + 1)
            // A read begun before a commit keeps its snapshot's id and value.
            try environment.read { old throws in
                try environment.write { try $0.put(bytes("four"), forKey: bytes("a"), in: db) }
                #expect(old.id == heldID)
                #expect(try old.get(bytes("a"), in: db) == bytes("three"))
                #expect(try environment.read { $0.id } == heldID + 1)
            }
        }
    }

    @Test func rawBufferPut() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let key: [UInt8] = [1, 2, 3]
            let value: [UInt8] = [4, 5]
            try environment.write { transaction throws in
                try value.withUnsafeBytes { value throws in
                    try key.withUnsafeBytes { key in try transaction.put(value, forKey: key, in: db) }
                }
            }
            #expect(try environment.read { try $0.get(key, in: db) } == value)
        }
    }

    @Test func noOverwriteThrowsKeyExistsAndKeepsTheValue() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            try environment.write { try $0.put(bytes("first"), forKey: bytes("k"), in: db, overwrite: false) }
            #expect(throws: LMDBError.keyExists) {
                try environment.write { try $0.put(bytes("second"), forKey: bytes("k"), in: db, overwrite: false) }
            }
            // Within a transaction the error is recoverable: the transaction goes on and commits.
            try environment.write { transaction throws in
                do {
                    try transaction.put(bytes("second"), forKey: bytes("k"), in: db, overwrite: false)
                    Issue.record("no keyExists")
                } catch let error as LMDBError where error == .keyExists {
                    #expect(error.message.contains("mdb_put"))
                }
                try transaction.put(bytes("other"), forKey: bytes("k2"), in: db)
            }
            #expect(try environment.read { try $0.get(bytes("k"), in: db) } == bytes("first"))
            #expect(try environment.read { try $0.get(bytes("k2"), in: db) } == bytes("other"))
        }
    }

    @Test func throwingWriteLeavesNothing() throws {
        try withEnvironment { environment throws in
            let db = try environment.database("d")
            try environment.write { try $0.put(bytes("kept"), forKey: bytes("k"), in: db) }
            #expect(throws: Rollback.self) {
                try environment.write { transaction throws in
                    try transaction.put(bytes("changed"), forKey: bytes("k"), in: db)
                    try transaction.put(bytes("new"), forKey: bytes("n"), in: db)
                    try transaction.removeAll(in: db)
                    throw Rollback()
                }
            }
            try environment.read { transaction throws in
                #expect(try transaction.get(bytes("k"), in: db) == bytes("kept"))
                #expect(try transaction.get(bytes("n"), in: db) == nil)
                #expect(try transaction.count(in: db) == 1)
            }
        }
    }

    @Test func removeAllEmptiesTheDatabaseButKeepsIt() throws {
        try withEnvironment { environment throws in
            let db = try environment.database("d")
            let other = try environment.database("other")
            try environment.write { transaction throws in
                for index in 0..<100 { try transaction.put(bytes("\(index)"), forKey: bytes("k\(index)"), in: db) }
                try transaction.put(bytes("x"), forKey: bytes("x"), in: other)
            }
            try environment.write { try $0.removeAll(in: db) }
            #expect(try environment.read { try $0.count(in: db) } == 0)
            #expect(try environment.read { try $0.count(in: other) } == 1)
            try environment.write { try $0.put(bytes("again"), forKey: bytes("k"), in: db) }
            #expect(try environment.read { try $0.count(in: db) } == 1)
        }
    }

    @Test func nestedWriteThrowsInvalid() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            do {
                try environment.write { transaction throws in
                    try transaction.put(bytes("v"), forKey: bytes("k"), in: db)
                    try environment.write { try $0.put(bytes("w"), forKey: bytes("k"), in: db) }
                }
                Issue.record("nested write returned")
            } catch let error as LMDBError where error == .invalid {
                #expect(error.message.contains("write called inside a write on"))
            }
            #expect(try environment.read { try $0.get(bytes("k"), in: db) } == nil)
            #expect(throws: LMDBError.invalid) {
                try environment.write { _ in try environment.database("new inside write") }
            }
            // The environment is usable afterwards: the thread's bookkeeping was unwound.
            try environment.write { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
            #expect(try environment.read { try $0.get(bytes("k"), in: db) } == bytes("v"))
        }
    }

    @Test func writeInsideReadAndReadInsideWrite() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            try environment.write { try $0.put(bytes("old"), forKey: bytes("k"), in: db) }
            try environment.read { outer throws in
                try environment.write { try $0.put(bytes("new"), forKey: bytes("k"), in: db) }
                #expect(try outer.get(bytes("k"), in: db) == bytes("old"))  // the snapshot holds
                #expect(try environment.read { try $0.get(bytes("k"), in: db) } == bytes("new"))
            }
            try environment.write { transaction throws in
                try transaction.put(bytes("newest"), forKey: bytes("k"), in: db)
                // A read inside a write sees the committed state, not the write's own changes.
                #expect(try environment.read { try $0.get(bytes("k"), in: db) } == bytes("new"))
                #expect(try transaction.get(bytes("k"), in: db) == bytes("newest"))
                #expect(try environment.information().lastTransactionID > 0)
            }
        }
    }

    @Test func badKeysThrowBadValueSize() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let tooLong = [UInt8](repeating: 7, count: environment.maximumKeySizeBytes + 1)
            let longest = [UInt8](repeating: 7, count: environment.maximumKeySizeBytes)
            for key in [[], tooLong] {
                #expect(throws: LMDBError.badValueSize) {
                    try environment.write { try $0.put(bytes("v"), forKey: key, in: db) }
                }
                #expect(throws: LMDBError.badValueSize) { try environment.read { try $0.get(key, in: db) } }
                #expect(throws: LMDBError.badValueSize) { try environment.write { try $0.delete(key, in: db) } }
            }
            do {
                try environment.write { try $0.put(bytes("v"), forKey: [], in: db) }
            } catch let error as LMDBError {
                #expect(error.message.contains("1...511"))
            }
            try environment.write { try $0.put(bytes("v"), forKey: longest, in: db) }
            #expect(try environment.read { try $0.get(longest, in: db) } == bytes("v"))
        }
    }

    @Test func databaseOfAnotherEnvironmentIsRefused() throws {
        try withEnvironment { first throws in
            try withEnvironment { second throws in
                let foreign = try second.database("d")
                _ = try first.database("d")
                #expect(throws: LMDBError.badDBI) { try first.read { try $0.get(bytes("k"), in: foreign) } }
                #expect(throws: LMDBError.badDBI) {
                    try first.write { try $0.put(bytes("v"), forKey: bytes("k"), in: foreign) }
                }
                #expect(throws: LMDBError.badDBI) { try first.read { try $0.count(in: foreign) } }
            }
        }
    }

    @Test func errorsCompareByCodeAndDescribeThemselves() {
        let detailed = LMDBError.mapFull.with("details")
        #expect(detailed == .mapFull)
        #expect(detailed.hashValue == LMDBError.mapFull.hashValue)
        #expect(detailed != .keyExists)
        #expect(LMDBError.notFound.message.contains("MDB_NOTFOUND"))
        #expect(LMDBError.noSuchFile.code == ENOENT)
        #expect(detailed.description.contains("details"))
        #expect(LMDBError(code: 12_345).code == 12_345)
    }

    @Test func genericCodeWorksWithBothTransactionKinds() throws {
        func total(_ transaction: borrowing some ReadableTransaction & ~Copyable, _ db: Database) throws -> Int {
            var sum = 0
            try transaction.forEach(in: db) { _, value throws in
                sum += Int(value[0])
                return true
            }
            return sum
        }
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let inWrite = try environment.write { transaction throws in
                for index in 1...4 { try transaction.put([UInt8(index)], forKey: [UInt8(index)], in: db) }
                return try total(transaction, db)
            }
            #expect(inWrite == 10)
            #expect(try environment.read { try total($0, db) } == 10)
        }
    }
}
