import Foundation
import Testing

@testable import LMDB

@Suite struct EnvironmentTests {
    @Test func reopenAfterCloseKeepsEveryCommittedValue() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory + "/nested/env"  // createDirectory makes the parents too
            let first = try Environment.open(path: path)
            let db = try first.database("values")
            for round in 0..<10 {
                try first.write { transaction throws in
                    for index in 0..<10 {
                        try transaction.put(bytes("v\(round)-\(index)"), forKey: bytes("k\(round)-\(index)"), in: db)
                    }
                }
            }
            first.close()
            #expect(first.isClosed)

            let second = try Environment.open(path: path)
            defer { second.close() }
            #expect(second !== first)
            let reopened = try second.database("values", create: false)
            try second.read { transaction throws in
                #expect(try transaction.count(in: reopened) == 100)
                for round in 0..<10 {
                    for index in 0..<10 {
                        #expect(
                            try transaction.get(bytes("k\(round)-\(index)"), in: reopened)
                                == bytes("v\(round)-\(index)"))
                    }
                }
            }
        }
    }

    @Test func samePathGivesTheSameInstance() throws {
        try withTemporaryDirectory { directory throws in
            let environment = try Environment.open(path: directory + "/env")
            defer { environment.close() }
            #expect(try Environment.open(path: directory + "/env") === environment)
            #expect(try Environment.open(path: directory + "/./env/") === environment)
            #expect(environment.path.hasSuffix("/env"))
            // The map sizes may differ (the map grows anyway); the rest must agree.
            #expect(
                try Environment.open(path: directory + "/env", options: .init(mapSizeBytes: 1 << 20)) === environment)
            #expect(throws: LMDBError.invalid) {
                try Environment.open(path: directory + "/env", options: .init(readOnly: true))
            }
            #expect(throws: LMDBError.invalid) {
                try Environment.open(path: directory + "/env", options: .init(syncMode: .noSync))
            }
        }
    }

    @Test func closeIsIdempotentAndLaterCallsThrowInvalid() throws {
        try withTemporaryDirectory { directory throws in
            let environment = try Environment.open(path: directory + "/env")
            let db = try environment.database(nil)
            environment.close()
            environment.close()
            #expect(throws: LMDBError.invalid) { try environment.read { try $0.get(bytes("k"), in: db) } }
            #expect(throws: LMDBError.invalid) {
                try environment.write { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
            }
            #expect(throws: LMDBError.invalid) { try environment.database("other") }
            #expect(throws: LMDBError.invalid) { try environment.statistics() }
            #expect(throws: LMDBError.invalid) { try environment.information() }
            #expect(throws: LMDBError.invalid) { try environment.checkStaleReaders() }
            #expect(throws: LMDBError.invalid) { try environment.sync() }
            do {
                _ = try environment.read { _ in 0 }
                Issue.record("read on a closed environment returned")
            } catch let error as LMDBError where error == .invalid {
                #expect(error.message.contains("closed"))
            }
        }
    }

    @Test func droppedEnvironmentCanBeReopenedAtOnce() throws {
        try withTemporaryDirectory { directory throws in
            var environment: Environment? = try Environment.open(path: directory + "/env")
            let db = try #require(environment).database(nil)
            try #require(environment).write { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
            environment = nil  // deinit closes
            let reopened = try Environment.open(path: directory + "/env", options: .init(readOnly: true))
            defer { reopened.close() }
            let main = try reopened.database(nil)
            #expect(try reopened.read { try $0.get(bytes("k"), in: main) } == bytes("v"))
        }
    }

    @Test func notAnLMDBFileIsAClearError() throws {
        try withTemporaryDirectory { directory throws in
            var generator = SystemRandomNumberGenerator()
            let garbage = (0..<16_384).map { _ in UInt8.random(in: 1...255, using: &generator) }
            try Data(garbage).write(to: URL(fileURLWithPath: directory + "/data.mdb"))
            do {
                _ = try Environment.open(path: directory)
                Issue.record("opening garbage succeeded")
            } catch let error as LMDBError {
                #expect(error == .invalid)
                #expect(error.message.contains("not an LMDB"))
                #expect(error.message.contains(directory))
            }
        }
    }

    @Test func pathUnderARegularFileFailsEvenAsRoot() throws {
        try withTemporaryDirectory { directory throws in
            let file = directory + "/file"
            #expect(FileManager.default.createFile(atPath: file, contents: Data([1, 2, 3])))
            #expect(throws: LMDBError.notADirectory) { try Environment.open(path: file + "/env") }
            #expect(throws: LMDBError.notADirectory) {
                try Environment.open(path: file + "/env", options: .init(createDirectory: false))
            }
            // The file itself is not an environment directory either.
            #expect(throws: LMDBError.notADirectory) { try Environment.open(path: file) }
        }
    }

    @Test func missingDirectoryWithoutCreateIsNoSuchFile() throws {
        try withTemporaryDirectory { directory throws in
            #expect(throws: LMDBError.noSuchFile) {
                try Environment.open(path: directory + "/absent", options: .init(createDirectory: false))
            }
            #expect(throws: LMDBError.noSuchFile) {
                try Environment.open(path: directory + "/absent", options: .init(readOnly: true))
            }
        }
    }

    @Test func directoryWithoutPermission() throws {
        try withTemporaryDirectory { directory throws in
            let locked = directory + "/locked"
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
            #expect(chmod(locked, 0o000) == 0)
            defer { chmod(locked, 0o755) }
            if getuid() == 0 {
                // Root bypasses permissions; the path-under-a-file test covers a failure as root.
                let environment = try Environment.open(path: locked)
                environment.close()
            } else {
                #expect(throws: LMDBError.permissionDenied) { try Environment.open(path: locked) }
            }
        }
    }

    @Test func invalidOptionsAreRefused() throws {
        try withTemporaryDirectory { directory throws in
            #expect(throws: LMDBError.invalidArgument) {
                try Environment.open(path: directory, options: .init(mapSizeBytes: 0))
            }
            #expect(throws: LMDBError.invalidArgument) {
                try Environment.open(
                    path: directory, options: .init(mapSizeBytes: 1 << 20, maximumMapSizeBytes: 1 << 10))
            }
            #expect(throws: LMDBError.invalidArgument) {
                try Environment.open(path: directory, options: .init(maximumReaders: 0))
            }
        }
    }

    @Test(arguments: [SyncMode.full, .noMetaSync, .noSync], [false, true])
    func syncModesOpenCommitAndReopen(syncMode: SyncMode, writeMap: Bool) throws {
        try withTemporaryDirectory { directory throws in
            let options = EnvironmentOptions(mapSizeBytes: 1 << 20, syncMode: syncMode, writeMap: writeMap)
            let environment = try Environment.open(path: directory, options: options)
            #expect(environment.options == options)
            let db = try environment.database("d")
            try environment.write { try $0.put(bytes("value"), forKey: bytes("key"), in: db) }
            try environment.sync()
            try environment.sync(force: false)
            environment.close()
            let reopened = try Environment.open(path: directory, options: options)
            defer { reopened.close() }
            let again = try reopened.database("d", create: false)
            #expect(try reopened.read { try $0.get(bytes("key"), in: again) } == bytes("value"))
        }
    }

    @Test func readOnlyEnvironmentReadsAndRefusesWrites() throws {
        try withTemporaryDirectory { directory throws in
            let writer = try Environment.open(path: directory)
            let db = try writer.database("d")
            try writer.write { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
            writer.close()

            let reader = try Environment.open(path: directory, options: .init(readOnly: true))
            defer { reader.close() }
            let readOnlyDB = try reader.database("d")
            #expect(try reader.read { try $0.get(bytes("k"), in: readOnlyDB) } == bytes("v"))
            #expect(throws: LMDBError.notFound) { try reader.database("absent") }
            #expect(throws: LMDBError.permissionDenied) {
                try reader.write { try $0.put(bytes("w"), forKey: bytes("k"), in: readOnlyDB) }
            }
            try reader.sync()  // nothing to flush: no error
        }
    }

    @Test func statisticsInformationAndStaleReaders() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let before = try environment.information()
            #expect(before.mapSizeBytes >= environment.options.mapSizeBytes)
            #expect(before.maximumReaders >= environment.options.maximumReaders)
            try environment.write { transaction throws in
                for index in 0..<500 {
                    try transaction.put(bytes("value \(index)"), forKey: bytes("key \(index)"), in: db)
                }
            }
            let after = try environment.information()
            #expect(after.lastTransactionID == before.lastTransactionID + 1)
            #expect(after.lastPageNumber > before.lastPageNumber)
            let statistics = try environment.statistics()
            #expect(statistics.entries == 500)
            #expect(statistics.pageSizeBytes > 0)
            #expect(statistics.leafPages > 0)
            #expect(statistics.depth >= 1)
            try environment.read { _ in () }
            #expect(try environment.information().readersUsed >= 1)  // the pooled read transaction
            #expect(try environment.checkStaleReaders() == 0)
            #expect(environment.maximumKeySizeBytes == 511)
        }
    }

    @Test func compactingCopyReopensWithIdenticalContents() throws {
        try withTemporaryDirectory { directory throws in
            let source = try Environment.open(path: directory + "/source", options: .init(syncMode: .noSync))
            defer { source.close() }
            let db = try source.database("d")
            let main = try source.database(nil)
            try source.write { transaction throws in
                for index in 0..<2_000 {
                    try transaction.put(
                        Array(repeating: UInt8(index % 251), count: 200), forKey: bytes("k\(index)"), in: db)
                }
                try transaction.put(bytes("main"), forKey: bytes("m"), in: main)
            }
            try source.write { transaction throws in
                for index in stride(from: 0, to: 2_000, by: 2) { try transaction.delete(bytes("k\(index)"), in: db) }
            }
            for compact in [true, false] {
                let target = directory + "/copy-\(compact)"
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
                try source.copy(to: target, compact: compact)
                #expect(throws: LMDBError.fileExists) { try source.copy(to: target, compact: compact) }
                let copy = try Environment.open(path: target, options: .init(readOnly: true))
                defer { copy.close() }
                let copied = try copy.database("d", create: false)
                let expected = try entries(of: db, in: source)
                let actual = try entries(of: copied, in: copy)
                #expect(actual.count == 1_000)
                #expect(actual.map(\.0) == expected.map(\.0))
                #expect(actual.map(\.1) == expected.map(\.1))
                #expect(try copy.read { try $0.get(bytes("m"), in: copy.database(nil)) } == bytes("main"))
            }
            let compactSize = try FileManager.default.attributesOfItem(atPath: directory + "/copy-true/data.mdb")[.size]
            let plainSize = try FileManager.default.attributesOfItem(atPath: directory + "/copy-false/data.mdb")[.size]
            #expect(try #require(compactSize as? Int) <= #require(plainSize as? Int))
            #expect(throws: LMDBError.noSuchFile) { try source.copy(to: directory + "/absent") }
        }
    }

    @Test func namedDatabasesAreCachedAndLimited() throws {
        try withEnvironment(.init(maximumDatabases: 2, syncMode: .noSync)) { environment throws in
            let first = try environment.database("one")
            #expect(try environment.database("one") == first)
            #expect(first.name == "one")
            #expect(try environment.database(nil).name == nil)
            #expect(throws: LMDBError.notFound) { try environment.database("absent", create: false) }
            _ = try environment.database("two")
            #expect(throws: LMDBError.dbsFull) { try environment.database("three") }
        }
    }
}
