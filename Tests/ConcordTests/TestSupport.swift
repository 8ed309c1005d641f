import Concord
import Foundation
import Testing

/// A fresh temporary directory, removed when the test's closure returns.
func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// `withTemporaryDirectory` for async bodies.
func withTemporaryDirectory<R>(_ body: (URL) async throws -> R) async throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// A manual-mode, no-sync cluster in a temporary directory.
func withCluster<R>(
    replicas: Int = 3, configuration: Configuration = Configuration(durability: .noSync),
    _ body: (Cluster) throws -> R
) throws -> R {
    try withTemporaryDirectory { url in
        let cluster = try Cluster(directory: url, replicas: replicas, configuration: configuration)
        defer { cluster.close() }
        return try body(cluster)
    }
}
