import Concord
import Foundation
import LMDB
import RawLMDB

#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic nanoseconds (`clock_gettime(CLOCK_MONOTONIC)`, a vDSO call of about 20 ns).
@inline(__always)
public func nowNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// A fresh directory under the system's temporary directory.
public func makeScratchDirectory(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "concord-bench-\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A benchmark setting: a Concord durability and the LMDB flags that match it.
public enum Setting: String, CaseIterable, Sendable {
    case noSyncWriteMap = "noSync+writeMap"
    case noSync = "noSync"
    case full = "full fsync"

    public var durability: Concord.Durability {
        switch self {
        case .full: .full
        case .noSync: .noSync
        case .noSyncWriteMap: .noSyncWriteMap
        }
    }

    /// The `raw_open` durability argument.
    var rawDurability: Int32 {
        switch self {
        case .full: 0
        case .noSync: 1
        case .noSyncWriteMap: 2
        }
    }
}

/// The payload of register `key` at `stamp`: `valueBytes` bytes, the stamp first.
public func payload(stamp: UInt64, bytes: Int) -> [UInt8] {
    var value = [UInt8](repeating: UInt8(ascii: "v"), count: bytes)
    withUnsafeBytes(of: stamp) { for (i, byte) in $0.enumerated() { value[i] = byte } }
    return value
}

/// Concord with `keyCount` registers of `LWWRegister<[UInt8]>` on one replica (or more).
public final class ConcordFixture: @unchecked Sendable {
    public typealias Register = LWWRegister<[UInt8]>
    public let directory: URL
    public let cluster: Cluster
    public let keys: [Key<Register>]
    public let keyCount: Int
    public let valueBytes: Int
    /// The current stamp of every key (so compare-and-swap knows what to expect).
    public var stamps: [UInt64]

    /// `durability` overrides the setting's (`.groupCommit`, which has no raw counterpart
    /// of its own: it is measured against raw durable commits).
    public init(setting: Setting, replicas: Int = 1, keyCount: Int, valueBytes: Int,
                configuration: Configuration? = nil, observability: Observability = Observability(),
                durability: Concord.Durability? = nil) throws {
        directory = makeScratchDirectory("concord")
        var configuration = configuration ?? Configuration()
        configuration.durability = durability ?? setting.durability
        cluster = try Cluster(
            directory: directory, replicas: replicas, configuration: configuration, observability: observability)
        self.keyCount = keyCount
        self.valueBytes = valueBytes
        // 32-byte storage keys: bucket "bench" (6 bytes with its length), type code, name.
        keys = (0..<keyCount).map { Key<Register>(String(format: "key-%020d", $0), bucket: "bench") }
        stamps = Array(repeating: 0, count: keyCount)
    }

    deinit {
        cluster.close()
        try? FileManager.default.removeItem(at: directory)
    }

    public var replica: Replica { cluster.replicas[0] }

    /// Writes every key once at every replica (1000 per transaction), then synchronizes.
    public func fill() throws {
        let value = payload(stamp: 0, bytes: valueBytes)
        for replica in cluster.replicas {
            for first in stride(from: 0, to: keyCount, by: 1000) {
                try replica.transaction { tx in
                    for i in first..<min(first + 1000, keyCount) { try tx.update(keys[i], .assign(value)) }
                }
            }
        }
        try cluster.synchronize()
    }

    /// The key and value sizes Concord stores (read back from the replica's LMDB objects).
    public func storedSizes() throws -> (keyBytes: Int, valueBytes: Int) {
        let replica = cluster.replicas[0]
        var options = EnvironmentOptions()
        options.maximumDatabases = 8
        switch cluster.configuration.durability {
        case .full: options.syncMode = .full
        case .noSync, .groupCommit: options.syncMode = .noSync
        case .noSyncWriteMap:
            options.syncMode = .noSync
            options.writeMap = true
        }
        let environment = try Environment.open(
            path: directory.appendingPathComponent("replica-\(replica.id.rawValue)").path, options: options)
        let objects = try environment.database("objects")
        var sizes = (0, 0)
        try environment.read { txn in
            try txn.forEach(in: objects) { key, value in
                sizes = (key.count, value.count)
                return false
            }
        }
        return sizes
    }
}

/// Raw LMDB through C: one environment, one unnamed database, the same key and value sizes.
public final class RawFixture: @unchecked Sendable {
    public let directory: URL
    public let environment: OpaquePointer
    public let keyCount: Int

    public init(setting: Setting, keyCount: Int, keyBytes: Int, valueBytes: Int, label: String = "raw") throws {
        directory = makeScratchDirectory(label)
        var opened: OpaquePointer?
        let rc = raw_open(directory.path, setting.rawDurability, 1 << 30, keyBytes, valueBytes, &opened)
        guard rc == 0, let opened else { throw RawError(code: rc, what: "raw_open") }
        environment = opened
        self.keyCount = keyCount
    }

    deinit {
        raw_close(environment)
        try? FileManager.default.removeItem(at: directory)
    }

    public func fill() throws {
        try RawError.check(raw_fill(environment, UInt32(keyCount)), "raw_fill")
    }

    public func makeReader() throws -> OpaquePointer {
        var reader: OpaquePointer?
        try RawError.check(raw_reader_open(environment, &reader), "raw_reader_open")
        return reader!
    }
}

public struct RawError: Error, CustomStringConvertible {
    public let code: Int32
    public let what: String
    public var description: String { "\(what) failed: error \(code) (\(String(cString: strerror(code))))" }

    @inline(__always)
    public static func check(_ code: Int32, _ what: @autoclosure () -> String) throws {
        if code != 0 { throw RawError(code: code, what: what()) }
    }
}

