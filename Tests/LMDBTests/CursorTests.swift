import Testing

@testable import LMDB

@Suite struct CursorTests {
    static let keys = ["a1", "a2", "b1", "b2", "b3", "c1"]

    /// Runs `body` with an environment holding `keys` (value: the key uppercased).
    func withKeys(_ keys: [[UInt8]] = keys.map(bytes), _ body: (Environment, Database) throws -> Void) throws {
        try withEnvironment { environment throws in
            let db = try environment.database("cursor")
            try environment.write { transaction throws in
                for key in keys.shuffled() { try transaction.put(key.map { $0 & 0xDF }, forKey: key, in: db) }
            }
            try body(environment, db)
        }
    }

    func visit(
        _ environment: Environment, _ db: Database, from start: String? = nil, to end: String? = nil,
        reverse: Bool = false, limit: Int = .max
    ) throws -> [String] {
        try environment.read { transaction throws in
            var visited: [String] = []
            try transaction.forEach(in: db, from: start.map(bytes), to: end.map(bytes), reverse: reverse) {
                key, value throws in
                #expect(Array(value) == Array(key).map { $0 & 0xDF })
                visited.append(String(decoding: key, as: UTF8.self))
                return visited.count < limit
            }
            return visited
        }
    }

    func visit(_ environment: Environment, _ db: Database, prefix: [UInt8], reverse: Bool = false) throws -> [[UInt8]] {
        try environment.read { transaction throws in
            var visited: [[UInt8]] = []
            try transaction.forEach(in: db, prefix: prefix, reverse: reverse) { key, _ throws in
                visited.append(Array(key))
                return true
            }
            return visited
        }
    }

    @Test func forwardAndBackwardOverRanges() throws {
        try withKeys { environment, db throws in
            #expect(try visit(environment, db) == Self.keys)
            #expect(try visit(environment, db, reverse: true) == Self.keys.reversed())
            #expect(try visit(environment, db, from: "a2", to: "b3") == ["a2", "b1", "b2"])
            #expect(try visit(environment, db, from: "a2", to: "b3", reverse: true) == ["b2", "b1", "a2"])
            #expect(try visit(environment, db, from: "a3", to: "b") == [])
            #expect(try visit(environment, db, from: "b") == ["b1", "b2", "b3", "c1"])
            #expect(try visit(environment, db, to: "b", reverse: true) == ["a2", "a1"])
            #expect(try visit(environment, db, to: "z", reverse: true) == Self.keys.reversed())
            #expect(try visit(environment, db, from: "b2", reverse: true) == ["c1", "b3", "b2"])
            #expect(try visit(environment, db, from: "z") == [])
            #expect(try visit(environment, db, to: "a", reverse: true) == [])
            #expect(try visit(environment, db, from: "c", to: "a") == [])
            #expect(try visit(environment, db, to: "") == [])
            #expect(try visit(environment, db, from: "") == Self.keys)
            #expect(try visit(environment, db, limit: 2) == ["a1", "a2"])
            #expect(try visit(environment, db, reverse: true, limit: 1) == ["c1"])
        }
    }

    @Test func prefixes() throws {
        let keys: [[UInt8]] = [[0x61], [0x61, 0x01], [0x61, 0xFF], [0x62], [0xFF], [0xFF, 0x00], [0xFF, 0xFF]]
        try withKeys(keys) { environment, db throws in
            #expect(try visit(environment, db, prefix: [0x61]) == [[0x61], [0x61, 0x01], [0x61, 0xFF]])
            #expect(
                try visit(environment, db, prefix: [0x61], reverse: true) == [[0x61, 0xFF], [0x61, 0x01], [0x61]])
            #expect(try visit(environment, db, prefix: [0xFF]) == [[0xFF], [0xFF, 0x00], [0xFF, 0xFF]])
            #expect(
                try visit(environment, db, prefix: [0xFF], reverse: true) == [[0xFF, 0xFF], [0xFF, 0x00], [0xFF]])
            #expect(try visit(environment, db, prefix: [0x61, 0xFF], reverse: true) == [[0x61, 0xFF]])
            #expect(try visit(environment, db, prefix: [0x63]) == [])
            #expect(try visit(environment, db, prefix: [0x63], reverse: true) == [])
            #expect(try visit(environment, db, prefix: []) == keys)
            #expect(try visit(environment, db, prefix: [], reverse: true) == keys.reversed())
        }
    }

    @Test func emptyDatabaseAndErrors() throws {
        try withEnvironment { environment throws in
            let db = try environment.database("empty")
            #expect(try visit(environment, db) == [])
            #expect(try visit(environment, db, reverse: true) == [])
            #expect(try visit(environment, db, prefix: [1], reverse: true) == [])
            struct Stop: Error {}
            try environment.write { try $0.put([1], forKey: [1], in: db) }
            #expect(throws: Stop.self) {
                try environment.read { transaction in try transaction.forEach(in: db) { _, _ in throw Stop() } }
            }
            // A bound may be longer than any key: it is only compared, never stored.
            let tooLong = [UInt8](repeating: 1, count: environment.maximumKeySizeBytes + 1)
            let visited = try environment.read { transaction throws in
                var count = 0
                try transaction.forEach(in: db, from: [1], to: tooLong) { _, _ in
                    count += 1
                    return true
                }
                try transaction.forEach(in: db, from: tooLong) { _, _ in
                    count += 100
                    return true
                }
                return count
            }
            #expect(visited == 1)
        }
    }

    @Test func cursorInWriteSeesOwnWrites() throws {
        try withKeys { environment, db throws in
            let seen = try environment.write { transaction throws in
                try transaction.put(bytes("B1"), forKey: bytes("b15"), in: db)
                try transaction.delete(bytes("b2"), in: db)
                var seen: [String] = []
                try transaction.forEach(in: db, prefix: bytes("b")) { key, _ throws in
                    seen.append(String(decoding: key, as: UTF8.self))
                    return true
                }
                return seen
            }
            #expect(seen == ["b1", "b15", "b3"])
        }
    }
}
