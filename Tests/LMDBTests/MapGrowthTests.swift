import Foundation
import Locking
import Testing

@testable import LMDB

@Suite struct MapGrowthTests {
    @Test func mapGrowsPastItsInitialSize() throws {
        try withEnvironment(.init(mapSizeBytes: 64 << 10, syncMode: .noSync)) { environment throws in
            let db = try environment.database("big")
            let initial = try environment.information().mapSizeBytes
            let value = [UInt8](repeating: 0xAB, count: 4_000)
            var runs = 0
            try environment.write { transaction throws in
                runs += 1  // counts the reruns that growth causes (the documented rule: touch only the transaction)
                for index in 0..<500 { try transaction.put(value, forKey: bytes("k\(index)"), in: db) }
            }
            #expect(runs > 1)
            for batch in 0..<4 {
                try environment.write { transaction throws in
                    for index in 0..<100 { try transaction.put(value, forKey: bytes("b\(batch)-\(index)"), in: db) }
                }
            }
            let grown = try environment.information().mapSizeBytes
            #expect(grown > initial)
            #expect(grown >= 2 << 20)
            #expect(try environment.read { try $0.count(in: db) } == 900)
            #expect(try environment.read { try $0.get(bytes("k499"), in: db) } == value)
        }
    }

    @Test func growthWaitsForReadersOnOtherThreads() throws {
        try withEnvironment(.init(mapSizeBytes: 64 << 10, syncMode: .noSync)) { environment throws in
            let db = try environment.database(nil)
            let stop = Atomic<Bool>(false)
            let problems = Mutex<[String]>([])
            let reader: @Sendable () -> Void = {
                do {
                    while !stop.load(ordering: .acquiring) {
                        try environment.read { transaction throws in
                            try transaction.forEach(in: db) { key, value throws in
                                if value.count != 1_000 || key.isEmpty { problems.withLock { $0.append("bad entry") } }
                                return true
                            }
                        }
                    }
                } catch {
                    problems.withLock { $0.append("reader: \(error)") }
                }
            }
            let writer: @Sendable () -> Void = {
                defer { stop.store(true, ordering: .releasing) }
                do {
                    for index in 0..<2_000 {
                        try environment.write { transaction throws in
                            try transaction.put([UInt8](repeating: 1, count: 1_000), forKey: bytes("k\(index)"), in: db)
                        }
                    }
                } catch {
                    problems.withLock { $0.append("writer: \(error)") }
                }
            }
            runOnThreads([writer, reader, reader])
            #expect(problems.withLock { $0 } == [])
            #expect(try environment.read { try $0.count(in: db) } == 2_000)
            #expect(try environment.information().mapSizeBytes > 64 << 10)
        }
    }

    @Test func ceilingThrowsMapFullWithEarlierCommitsIntact() throws {
        let options = EnvironmentOptions(mapSizeBytes: 64 << 10, maximumMapSizeBytes: 256 << 10, syncMode: .noSync)
        try withEnvironment(options) { environment throws in
            let db = try environment.database("d")
            try environment.write { try $0.put(bytes("kept"), forKey: bytes("early"), in: db) }
            let value = [UInt8](repeating: 1, count: 8_000)
            do {
                try environment.write { transaction throws in
                    for index in 0..<200 { try transaction.put(value, forKey: bytes("k\(index)"), in: db) }
                }
                Issue.record("a megabyte fit in 256 KiB")
            } catch let error as LMDBError where error == .mapFull {
                #expect(error.message.contains("maximumMapSizeBytes"))
            }
            #expect(try environment.information().mapSizeBytes == 256 << 10)
            try environment.read { transaction throws in
                #expect(try transaction.get(bytes("early"), in: db) == bytes("kept"))
                #expect(try transaction.count(in: db) == 1)
            }
            try environment.write { try $0.put(bytes("still"), forKey: bytes("later"), in: db) }
            #expect(try environment.read { try $0.get(bytes("later"), in: db) } == bytes("still"))
        }
    }

    @Test func swallowedMapFullStillGrowsAndReruns() throws {
        try withEnvironment(.init(mapSizeBytes: 64 << 10, syncMode: .noSync)) { environment throws in
            let db = try environment.database(nil)
            let value = [UInt8](repeating: 2, count: 2_000)
            try environment.write { transaction throws in
                for index in 0..<300 {
                    do {
                        try transaction.put(value, forKey: bytes("k\(index)"), in: db)
                    } catch let error as LMDBError where error == .mapFull {
                        return  // returning normally must not commit a broken transaction
                    }
                }
            }
            #expect(try environment.read { try $0.count(in: db) } == 300)
        }
    }

    @Test func growthInsideAReadOnTheSameThreadThrowsMapFull() throws {
        try withEnvironment(.init(mapSizeBytes: 64 << 10, syncMode: .noSync)) { environment throws in
            let db = try environment.database(nil)
            let value = [UInt8](repeating: 3, count: 4_000)
            try environment.read { _ throws in
                do {
                    try environment.write { transaction throws in
                        for index in 0..<200 { try transaction.put(value, forKey: bytes("k\(index)"), in: db) }
                    }
                    Issue.record("grew inside a read")
                } catch let error as LMDBError where error == .mapFull {
                    #expect(error.message.contains("inside read"))
                }
            }
            try environment.write { transaction throws in
                for index in 0..<200 { try transaction.put(value, forKey: bytes("k\(index)"), in: db) }
            }
            #expect(try environment.read { try $0.count(in: db) } == 200)
        }
    }
}
