import Concord
import Crypto
import Foundation
import Testing

/// The audit log: what is recorded, the hash chain, rotation, and failures to record.
@Suite struct AuditLogTests {
    @Test func everyAdministrativeActionIsRecordedWithItsActorAndOutcome() throws {
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("cluster")
            let cluster = try Cluster(directory: url, replicas: 3, configuration: Configuration(durability: .noSync))
            try cluster.replicas[0].update(Key<GCounter>("c"), .increment(1))
            try cluster.crash(2)
            try cluster.restart(2)
            try cluster.synchronize()
            try cluster.wipe(3)
            try cluster.synchronize()
            let added = try cluster.addReplica()
            try cluster.synchronize()
            try cluster.removeReplica(added.id)
            try cluster.backup(to: root.appendingPathComponent("backups"), name: "b")
            _ = cluster.verify()
            _ = try cluster.collectGarbage()
            _ = try cluster.compact()
            #expect(throws: ConcordError.self) { try cluster.crash(99) }
            cluster.close()
            let log = AuditLog(clusterDirectory: url)
            let entries = try log.entries()
            #expect(
                entries.map(\.action) == [
                    "init", "open", "crash", "restart", "crash", "wipe", "add replica", "remove replica", "backup",
                    "verify", "gc", "compact", "crash", "close",
                ])
            #expect(entries.map(\.sequence) == Array(1...UInt64(entries.count)))
            #expect(entries.allSatisfy { $0.actor["pid"] == "\(getpid())" && $0.actor["user"] != nil })
            #expect(entries[2].arguments["replica"] == "2")
            #expect(entries[12].result.hasPrefix("error: invalid argument"))
            #expect(try log.verify().isEmpty)
        }
    }

    @Test func aRefusedKeyIsRecorded() throws {
        try withTemporaryDirectory { url in
            let key = try Encryption(key: SymmetricKey(data: [UInt8](repeating: 7, count: 32)), keyID: "k")
            try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: key)).close()
            #expect(throws: ConcordError.self) { _ = try Cluster(directory: url, replicas: 1) }
            let last = try #require(try AuditLog(clusterDirectory: url).entries().last)
            #expect(last.action == "open" && last.result.contains("key mismatch"))
        }
    }

    /// Rewrites the lines of the log's single file with `change`.
    func tamper(_ url: URL, _ change: (inout [String]) -> Void) throws {
        let folder = url.appendingPathComponent("audit")
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".jsonl") })
        let file = folder.appendingPathComponent(name)
        var lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
        change(&lines)
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    }

    @Test func aRemovedChangedOrMovedLineIsFound() throws {
        for tampering in ["remove", "change", "swap"] {
            try withTemporaryDirectory { url in
                let cluster = try Cluster(
                    directory: url, replicas: 2, configuration: Configuration(durability: .noSync))
                for _ in 0..<3 {
                    try cluster.crash(1)
                    try cluster.restart(1)
                }
                cluster.close()
                #expect(try AuditLog(clusterDirectory: url).verify().isEmpty)
                try tamper(url) { lines in
                    switch tampering {
                    case "remove": lines.remove(at: 3)
                    case "change": lines[4] = lines[4].replacingOccurrences(of: "\"crash\"", with: "\"restart\"")
                    default: lines.swapAt(2, 3)
                    }
                }
                let problems = try AuditLog(clusterDirectory: url).verify()
                #expect(!problems.isEmpty, "\(tampering) went unnoticed")
            }
        }
    }

    @Test func filesRotateBySizeKeepTheNewestAndTheChainContinuesAcrossThem() throws {
        try withTemporaryDirectory { url in
            var log = AuditLog(clusterDirectory: url, maximumFileBytes: 1_024, retainedFiles: 3)
            log.retainedFiles = 3
            for i in 0..<40 { try log.record("test", arguments: ["i": "\(i)"]) }
            let files = try FileManager.default.contentsOfDirectory(atPath: url.appendingPathComponent("audit").path)
                .filter { $0.hasSuffix(".jsonl") }
            #expect(files.count == 3)
            let entries = try log.entries()
            #expect(entries.last?.sequence == 40)
            #expect(entries.map(\.sequence) == Array((41 - UInt64(entries.count))...40))
            #expect(try log.verify().isEmpty)
        }
    }

    @Test func aFailureToRecordFailsTheAction() throws {
        try withTemporaryDirectory { url in
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            // The audit folder replaced by a file: nothing can be appended.
            try FileManager.default.removeItem(at: url.appendingPathComponent("audit"))
            try Data().write(to: url.appendingPathComponent("audit"))
            let error = try #require(throws: ConcordError.self) { try cluster.crash(1) }
            #expect(error.message.contains("audit"))
            cluster.close()
            let reopening = try #require(throws: ConcordError.self) {
                _ = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            }
            #expect(reopening.message.contains("audit"))
        }
    }
}
