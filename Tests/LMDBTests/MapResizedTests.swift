import CLMDB
import Foundation
import Testing

@testable import LMDB

@Suite struct MapResizedTests {
    /// Another "process" (a second raw handle, standing in for one) grows the map; this environment must
    /// adopt the new size (`mdb_env_set_mapsize(0)`) on `MDB_MAP_RESIZED` and go on.
    @Test func mapResizedByAnotherHandleIsAdopted() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment.open(
                path: directory, options: .init(mapSizeBytes: 64 << 10, syncMode: .noSync))
            defer { environment.close() }
            let db = try environment.database(nil)
            try environment.write { try $0.put(bytes("mine"), forKey: bytes("k"), in: db) }
            try environment.read { _ in () }  // leave a reset transaction in the pool

            var other: OpaquePointer?
            #expect(mdb_env_create(&other) == 0)
            let handle = try #require(other)
            defer { mdb_env_close(handle) }
            #expect(mdb_env_set_mapsize(handle, 4 << 20) == 0)
            #expect(mdb_env_open(handle, directory, UInt32(MDB_NOTLS | MDB_NOSYNC), 0o664) == 0)
            var transaction: OpaquePointer?
            #expect(mdb_txn_begin(handle, nil, 0, &transaction) == 0)
            let writer = try #require(transaction)
            var main: UInt32 = 0
            #expect(mdb_dbi_open(writer, nil, 0, &main) == 0)  // sets the main database's comparator
            var value = [UInt8](repeating: 9, count: 1 << 20)
            var key = bytes("theirs")
            key.withUnsafeMutableBytes { key in
                value.withUnsafeMutableBytes { value in
                    var keyValue = MDB_val(mv_size: key.count, mv_data: key.baseAddress)
                    var dataValue = MDB_val(mv_size: value.count, mv_data: value.baseAddress)
                    #expect(mdb_put(writer, main, &keyValue, &dataValue, 0) == 0)
                }
            }
            #expect(mdb_txn_commit(writer) == 0)

            let theirs = try environment.read { try $0.withValue(forKey: bytes("theirs"), in: db) { $0.count } }
            #expect(theirs == 1 << 20)
            #expect(try environment.information().mapSizeBytes == 4 << 20)
            try environment.write { try $0.put(bytes("again"), forKey: bytes("k2"), in: db) }
            #expect(try environment.read { try $0.get(bytes("k2"), in: db) } == bytes("again"))
        }
    }
}
