import CRDTs
import Foundation
import LMDB

/// What verifying one replica's store found.
public struct StoreVerification: Sendable, Hashable {
    /// The replica whose store was verified.
    public var replica: ReplicaID
    /// The replica's clock as stored (empty when it did not decode).
    public var clock: VectorClock
    /// The incarnation the store last opened with.
    public var incarnation: UInt64
    /// Objects read and decoded as their types.
    public var objects: Int
    /// Log entries read and decoded.
    public var logEntries: Int
    /// The size of the store's `data.mdb`, in bytes.
    public var fileBytes: UInt64
    /// Everything found wrong, one sentence each (at most `StoreVerification.problemLimit`,
    /// then a count of the rest).
    public var problems: [String]

    /// Whether nothing was found wrong.
    public var isIntact: Bool { problems.isEmpty }

    /// At most this many problems are listed per store; the rest are counted.
    public static let problemLimit = 50
}

/// What verifying a whole cluster (or a backup of one) found.
public struct VerificationReport: Sendable, Hashable {
    /// One verification per replica store, by replica id.
    public var replicas: [StoreVerification]
    /// Problems of the cluster as a whole: a member without a store, a manifest that
    /// disagrees with a store, a file whose checksum does not match.
    public var problems: [String]

    /// Whether nothing was found wrong anywhere.
    public var isIntact: Bool { problems.isEmpty && replicas.allSatisfy(\.isIntact) }

    /// Every problem, each prefixed with its replica when it has one.
    public var allProblems: [String] {
        problems + replicas.flatMap { store in store.problems.map { "replica \(store.replica.rawValue): \($0)" } }
    }
}

extension Storage {
    /// Verifies the whole store in one read transaction (a consistent snapshot, while the
    /// owner may write): the metadata decodes; every object's key decodes and its state
    /// decodes as the type its key names; every log entry decodes and lies within the clock;
    /// the log floor lies within the clock. Reading every page also finds what LMDB itself
    /// detects as damage. Problems are collected, not thrown.
    ///
    /// - Complexity: O(size of the store): every object and log entry is decoded once.
    func verify() -> StoreVerification {
        var report = StoreVerification(
            replica: replica, clock: VectorClock(), incarnation: 0, objects: 0, logEntries: 0,
            fileBytes: Self.fileSize(atPath: environment.path + "/data.mdb"), problems: [])
        var omitted = 0
        func note(_ problem: String) {
            if report.problems.count < StoreVerification.problemLimit {
                report.problems.append(problem)
            } else {
                omitted += 1
            }
        }
        let (objects, log) = (objects, log)
        do {
            try read("verify the store of replica \(replica)") { txn in
                var floor = VectorClock()
                for (key, what) in [
                    (MetaKey.clock, "the clock"), (MetaKey.logFloor, "the log floor"),
                ] {
                    do {
                        guard let bytes = try value(key, in: .meta, txn, what: what) else { continue }
                        let clock = try Self.decode(what, bytes) { (r: inout ByteReader) throws(CodecError) in
                            try VectorClock(from: &r)
                        }
                        if key == MetaKey.clock { report.clock = clock } else { floor = clock }
                    } catch {
                        note("\(what) does not decode: \(Self.describe(error))")
                    }
                }
                do {
                    if let bytes = try value(MetaKey.incarnation, in: .meta, txn, what: "the incarnation") {
                        report.incarnation = try Self.decode("the incarnation", bytes) {
                            (r: inout ByteReader) throws(CodecError) in try r.readVarUInt()
                        }
                    }
                } catch {
                    note("the incarnation does not decode: \(Self.describe(error))")
                }
                do {
                    if let bytes = try value(MetaKey.peers, in: .meta, txn, what: "the peers' clocks") {
                        _ = try Self.decode("the peers' clocks", bytes) { (r: inout ByteReader) throws(CodecError) in
                            try Self.decodePeers(&r)
                        }
                    }
                } catch {
                    note("the peers' clocks do not decode: \(Self.describe(error))")
                }
                try txn.forEach(in: objects) { key, value in
                    report.objects += 1
                    do throws(ConcordError) {
                        let (objectKey, plain) = try listedObject(key, value, cached: false)
                        _ = try Self.decodeObject(objectKey, plain)
                    } catch {
                        note("object #\(report.objects): \(error.message)")
                    }
                    return true
                }
                var ends: [(index: UInt64, to: VectorClock)] = []
                try txn.forEach(in: log) { key, value in
                    report.logEntries += 1
                    do throws(ConcordError) {
                        let index = try Self.logIndex(key)
                        let plain = try opened(value, .log, key: Array(key), cached: false, what: "log entry \(index)")
                        let entry = try Self.decode("log entry \(index)", plain) {
                            (r: inout ByteReader) throws(CodecError) in try DeltaInterval(from: &r)
                        }
                        ends.append((index, entry.to))
                    } catch {
                        note("log entry #\(report.logEntries): \(error.message)")
                    }
                    return true
                }
                // The clock as the replica reads it: the record joined with the last entry's
                // end (`Storage.formatVersion`). Every earlier entry lies within it.
                if let last = ends.last { report.clock.merge(last.to) }
                for (index, to) in ends.dropLast() where !report.clock.dominates(to) {
                    note("log entry \(index) reaches \(to), beyond the clock \(report.clock)")
                }
                if !report.clock.dominates(floor) {
                    note("the log floor \(floor) lies beyond the clock \(report.clock)")
                }
            }
        } catch {
            note("the store cannot be read to its end: \(error)")
        }
        if omitted > 0 { report.problems.append("and \(omitted) more problems") }
        return report
    }

    /// An error's message for a problem line.
    static func describe(_ error: any Error) -> String {
        (error as? ConcordError)?.message ?? "\(error)"
    }

    /// The size of the file at `path` in bytes (0 when it cannot be examined).
    static func fileSize(atPath path: String) -> UInt64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
