import Foundation
import Testing

@testable import LMDB

@Suite struct PowerLossTests {
    @Test(arguments: [false, true])
    func discardingTheLastCommitReopensAtTheSnapshotBeforeIt(writeMap: Bool) throws {
        try withTemporaryDirectory { directory throws in
            let options = EnvironmentOptions(mapSizeBytes: 1 << 20, syncMode: .noSync, writeMap: writeMap)
            do {
                let environment = try Environment.open(path: directory, options: options)
                let db = try environment.database("d")
                for value in 1...3 {
                    try environment.write { try $0.put(bytes("v\(value)"), forKey: bytes("key"), in: db) }
                }
                environment.close()
            }
            #expect(try Environment.discardLastCommit(atPath: directory))
            let environment = try Environment.open(path: directory, options: options)
            defer { environment.close() }
            let db = try environment.database("d")
            #expect(try environment.read { try $0.get(bytes("key"), in: db) } == bytes("v2"))
            // The environment goes on from there.
            try environment.write { try $0.put(bytes("v4"), forKey: bytes("key"), in: db) }
            #expect(try environment.read { try $0.get(bytes("key"), in: db) } == bytes("v4"))
        }
    }

    @Test func aMissingOrForeignFileIsATypedError() throws {
        try withTemporaryDirectory { directory throws in
            #expect(throws: LMDBError.self) { try Environment.discardLastCommit(atPath: directory) }
            let garbage = [UInt8](repeating: 7, count: 8192)
            let file = directory + "/data.mdb"
            try Data(garbage).write(to: URL(fileURLWithPath: file))
            let error = try #require(throws: LMDBError.self) { try Environment.discardLastCommit(atPath: directory) }
            #expect(error.code == LMDBError.invalid.code)
        }
    }
}
