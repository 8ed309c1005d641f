import Foundation
import Testing

@testable import LMDB

/// A fresh directory under the system's temporary directory, removed when `body` returns.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmdb-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer {
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            Issue.record("could not remove \(url.path): \(error)")
        }
    }
    return try body(url.path)
}

/// An environment in a fresh directory, closed (and the directory removed) when `body` returns.
func withEnvironment<R>(
    _ options: EnvironmentOptions = EnvironmentOptions(syncMode: .noSync),
    _ body: (Environment) throws -> R
) throws -> R {
    try withTemporaryDirectory { directory throws in
        let environment = try Environment.open(path: directory + "/env", options: options)
        defer { environment.close() }
        return try body(environment)
    }
}

/// The bytes of a string, for readable keys and values.
func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

/// Every entry of `database`, copied, in key order.
func entries(of database: Database, in environment: Environment) throws -> [([UInt8], [UInt8])] {
    try environment.read { transaction throws in
        var result: [([UInt8], [UInt8])] = []
        try transaction.forEach(in: database) { key, value throws in
            result.append((Array(key), Array(value)))
            return true
        }
        return result
    }
}
