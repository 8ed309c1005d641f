import Foundation
import Testing

@testable import LMDB

@Suite struct HeldWriteTests {
    @Test func readsSeeTheHeldWritesAndCommitKeepsThem() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            try environment.write { try $0.put(bytes("old"), forKey: bytes("a"), in: db) }
            let held = try environment.beginWrite()
            #expect(try held.read { try $0.get(bytes("a"), in: db) } == bytes("old"))
            try held.withWrites { try $0.put(bytes("new"), forKey: bytes("a"), in: db) }
            #expect(try held.read { try $0.get(bytes("a"), in: db) } == bytes("new"))
            // A read transaction on the same thread sees only what is committed.
            #expect(try environment.read { try $0.get(bytes("a"), in: db) } == bytes("old"))
            try held.commit()
            #expect(try environment.read { try $0.get(bytes("a"), in: db) } == bytes("new"))
            // The write lock and the thread's registration were released: another write runs.
            try environment.write { try $0.put(bytes("b"), forKey: bytes("b"), in: db) }
            #expect(try entries(of: db, in: environment).count == 2)
        }
    }

    @Test func abortKeepsNothing() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let held = try environment.beginWrite()
            try held.withWrites { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
            held.abort()
            #expect(try environment.read { try $0.get(bytes("k"), in: db) } == nil)
            let next = try environment.beginWrite()
            #expect(try next.read { try $0.get(bytes("k"), in: db) } == nil)
            next.abort()
        }
    }

    @Test func aSecondWriteOnTheSameThreadIsRefusedNotDeadlocked() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let held = try environment.beginWrite()
            #expect(throws: LMDBError.invalid) {
                try environment.write { try $0.put(bytes("x"), forKey: bytes("x"), in: db) }
            }
            #expect(throws: LMDBError.invalid) { try environment.beginWrite() }
            held.abort()
            try environment.write { try $0.put(bytes("x"), forKey: bytes("x"), in: db) }
        }
    }

    @Test func anotherThreadsWriteWaitsForTheHeldOne() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let held = try environment.beginWrite()
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                do {
                    try environment.write { try $0.put(bytes("other"), forKey: bytes("k"), in: db) }
                } catch {
                    Issue.record("the other thread's write failed: \(error)")
                }
                done.signal()
            }
            thread.start()
            #expect(done.wait(timeout: .now() + 0.1) == .timedOut, "the other write ran while the held one was open")
            try held.withWrites { try $0.put(bytes("held"), forKey: bytes("k"), in: db) }
            try held.commit()
            done.wait()
            // The other write ran after the held one committed.
            #expect(try environment.read { try $0.get(bytes("k"), in: db) } == bytes("other"))
        }
    }

    @Test func aFullMapAbortsTheHeldWriteAndWriteGrowsIt() throws {
        try withEnvironment(.init(mapSizeBytes: 64 << 10, syncMode: .noSync)) { environment throws in
            let db = try environment.database(nil)
            let value = [UInt8](repeating: 0xCD, count: 4_000)
            let put: (inout WriteTransaction) throws -> Void = { transaction in
                for index in 0..<200 { try transaction.put(value, forKey: bytes("k\(index)"), in: db) }
            }
            let held = try environment.beginWrite()
            #expect(throws: LMDBError.mapFull) { try held.withWrites(put) }
            // The held write is over (no abort or commit after this); the next write grows the map.
            try environment.write(put)
            #expect(try environment.read { try $0.count(in: db) } == 200)
            #expect(try environment.information().mapSizeBytes > 64 << 10)
        }
    }

    @Test func aSwallowedMapFullIsStillReported() throws {
        try withEnvironment(.init(mapSizeBytes: 64 << 10, syncMode: .noSync)) { environment throws in
            let db = try environment.database(nil)
            let value = [UInt8](repeating: 0xCD, count: 4_000)
            let held = try environment.beginWrite()
            #expect(throws: LMDBError.mapFull) {
                try held.withWrites { transaction in
                    for index in 0..<200 { try? transaction.put(value, forKey: bytes("k\(index)"), in: db) }
                }
            }
            #expect(try environment.read { try $0.count(in: db) } == 0)
            try environment.write { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
        }
    }

    @Test func beginningOnAClosedOrReadOnlyEnvironmentThrows() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory + "/env"
            let environment = try Environment.open(path: path, options: .init(syncMode: .noSync))
            _ = try environment.database(nil)
            environment.close()
            #expect(throws: LMDBError.invalid) { try environment.beginWrite() }
            let readOnly = try Environment.open(path: path, options: .init(readOnly: true))
            defer { readOnly.close() }
            #expect(throws: LMDBError.permissionDenied) { try readOnly.beginWrite() }
        }
    }
}
