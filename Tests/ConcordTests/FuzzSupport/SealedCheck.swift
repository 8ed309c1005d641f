import Concord
import Foundation
import LMDB

/// The check behind the `sealed` fuzz target: the records of an encrypted store replaced
/// by arbitrary bytes. The first byte picks the record (an object's state, the clock — in
/// the clear, decoded all the same — or a log entry); the rest become its stored bytes. Reading and verifying the store must then
/// throw `ConcordError` or report a problem — never trap, never hand out a value that is
/// not the object's own — and the store must read as before once the record is put back.
public enum SealedCheck {
    /// An encrypted single-replica cluster in a temporary directory, made once per process.
    final class Fixture: @unchecked Sendable {
        let cluster: Cluster
        let environment: Environment
        let key = Key<LWWRegister<String>>("secret", bucket: "fuzz")
        let value = "sealed value"
        let lock = NSLock()

        init() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "concord-sealed-fuzz-\(getpid())-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let keyFile = directory.appendingPathComponent("key")
            try Data((0..<32).map { UInt8($0 &* 7 &+ 1) }).write(to: keyFile)
            let encryption = try Encryption(keyFile: keyFile, keyID: "fuzz")
            cluster = try Cluster(
                directory: directory.appendingPathComponent("cluster"), replicas: 1,
                configuration: Configuration(durability: .noSync, encryption: encryption, auditLog: false))
            try cluster.replicas[0].update(key, .assign(value))
            // A local commit writes no clock record; collecting its log entry writes one.
            _ = try cluster.replicas[0].collectGarbage()
            try cluster.replicas[0].update(key, .assign(value))
            var options = EnvironmentOptions()
            options.syncMode = .noSync
            options.maximumDatabases = 8
            // The cluster's own environment (one per directory per process).
            environment = try Environment.open(
                path: directory.appendingPathComponent("cluster/replica-1").path, options: options)
        }
    }

    static let fixture: Fixture? = try? Fixture()

    /// Runs the check; returns the first violation, or nil.
    public static func check(_ bytes: [UInt8]) -> FuzzViolation? {
        guard let fixture else { return FuzzViolation("the encrypted fixture could not be made") }
        fixture.lock.lock()
        defer { fixture.lock.unlock() }
        guard let selector = bytes.first else { return nil }
        let table = ["objects", "meta", "log"][Int(selector) % 3]
        let replacement = Array(bytes.dropFirst())
        do {
            let database = try fixture.environment.database(table)
            // The record to replace: the object, the clock, or the first log entry.
            var target: ([UInt8], [UInt8])?
            try fixture.environment.read { txn in
                try txn.forEach(in: database) { key, value in
                    let name = Array(key)
                    if table != "meta" || name == Array("clock".utf8) {
                        target = (name, Array(value))
                        return false
                    }
                    return true
                }
            }
            guard let (name, original) = target, !replacement.isEmpty else { return nil }
            try fixture.environment.write { txn in try txn.put(replacement, forKey: name, in: database) }
            defer { try? fixture.environment.write { txn in try txn.put(original, forKey: name, in: database) } }
            let replica = fixture.cluster.replicas[0]
            do {
                let read = try replica.read(fixture.key)
                // Only the object's own genuine record opens.
                if table == "objects" && replacement != original {
                    return FuzzViolation("a forged object record opened, as \(String(describing: read))")
                }
            } catch {
                // A typed error is the expected outcome of a damaged record.
            }
            _ = fixture.cluster.verify()
        } catch {
            return FuzzViolation("the fixture's store could not be reached: \(error)")
        }
        do {
            guard try fixture.cluster.replicas[0].read(fixture.key) == fixture.value else {
                return FuzzViolation("the store does not read as before once the record is put back")
            }
        } catch {
            return FuzzViolation("the store does not read once the record is put back: \(error)")
        }
        return nil
    }
}
