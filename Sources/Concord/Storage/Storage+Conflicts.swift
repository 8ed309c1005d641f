import LMDB
import Locking

/// How many conflicts a store has recorded, ever (`ReplicaStatus.conflictsDetected`).
///
/// Not persisted on its own: sequence numbers are never reused and the bound keeps at
/// least the newest record, so the total is the last key of the `conflicts` database,
/// read when the store opens and counted up by each commit that adds records.
final class ConflictCounter: Sendable {
    private let total = Atomic<UInt64>(0)

    var value: UInt64 { total.load(ordering: .relaxed) }

    func set(_ value: UInt64) { total.store(value, ordering: .relaxed) }

    func add(_ count: UInt64) { total.add(count, ordering: .relaxed) }
}

/// The `conflicts` database: 8-byte big-endian sequence number → a record.
///
/// A record is a version byte (1), then the time in microseconds, the object key's bytes
/// (length-prefixed), the kind, the field path (count, strings), the detail
/// (`InspectedValue`) and the involved replicas (count, ids). The replica that saw it is
/// the store's own.
extension Storage {
    /// The record format this build writes and reads.
    static let conflictRecordVersion: UInt8 = 1

    /// Opens (creating) the `conflicts` database; in a read-only store made before it
    /// existed there is none, and the store reads as holding no records.
    static func openConflicts(in environment: Environment) throws -> Database? {
        do {
            return try environment.database("conflicts")
        } catch let error as LMDBError where error == .notFound && environment.options.readOnly {
            return nil
        }
    }

    /// Encodes a conflict `conflict` of the object `key` seen at `timeMicroseconds`.
    static func encodeConflict(_ conflict: DetectedConflict, key: ObjectKey, timeMicroseconds: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeByte(conflictRecordVersion)
        writer.writeVarUInt(timeMicroseconds)
        writer.writeBytes(key.bytes)
        writer.writeByte(conflict.kind.rawValue)
        writer.writeCount(conflict.fieldPath.count)
        for name in conflict.fieldPath { writer.writeString(name) }
        conflict.detail.encode(to: &writer)
        writer.writeCount(conflict.replicas.count)
        for replica in conflict.replicas { replica.encode(to: &writer) }
        return writer.bytes
    }

    /// Decodes a record stored under `sequenceNumber`.
    /// - Throws: `ConcordError.corrupted` naming the record when its bytes do not decode.
    func decodeConflict(_ bytes: [UInt8], sequenceNumber: UInt64) throws(ConcordError) -> ConflictRecord {
        let what = "conflict record \(sequenceNumber) of replica \(replica)"
        let replica = replica
        return try Self.decode(what, bytes) { (reader: inout ByteReader) throws(CodecError) in
            let version = try reader.readByte()
            guard version == Self.conflictRecordVersion else {
                throw reader.error(
                    .unsupportedVersion, "record version \(version); this build reads \(Self.conflictRecordVersion)")
            }
            let time = try reader.readVarUInt()
            let key = try ObjectKey(bytes: try reader.readBytes())
            let kind = ConflictKind(rawValue: try reader.readByte())
            let pathCount = try reader.readCount(minimumElementSize: 1)
            var path: [String] = []
            for _ in 0..<pathCount { path.append(try reader.readString()) }
            let detail = try InspectedValue(from: &reader)
            let replicaCount = try reader.readCount(minimumElementSize: 1)
            var replicas: [ReplicaID] = []
            for _ in 0..<replicaCount { replicas.append(try ReplicaID(from: &reader)) }
            return ConflictRecord(
                origin: .recorded(sequenceNumber: sequenceNumber), timeMicroseconds: time, replica: replica, key: key,
                conflict: DetectedConflict(kind: kind, fieldPath: path, detail: detail, replicas: replicas))
        }
    }

    /// The highest sequence number in `conflicts` (0: none).
    private static func lastConflictSequence(
        in conflicts: Database, _ txn: borrowing some ReadableTransaction & ~Copyable
    ) throws -> UInt64 {
        var last: UInt64 = 0
        try txn.forEach(in: conflicts, reverse: true) { key, _ in
            last = try Self.conflictSequence(key)
            return false
        }
        return last
    }

    private static func conflictSequence(_ key: UnsafeRawBufferPointer) throws(ConcordError) -> UInt64 {
        guard key.count == 8 else {
            throw ConcordError(
                .corrupted, "a conflict record key is \(key.count) bytes long, not 8; the store is damaged")
        }
        return key.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Sets the counter from the store (at opening).
    func loadConflictCount() throws(ConcordError) {
        guard let conflicts else { return }
        let total = try read("count the conflicts of replica \(replica)") { txn in
            try Self.lastConflictSequence(in: conflicts, txn)
        }
        conflictCounter.set(total)
    }

    /// Writes `value` under the next sequence number (inside a commit).
    func appendConflict(_ value: [UInt8], in txn: inout WriteTransaction) throws {
        guard let conflicts else {
            throw ConcordError(.storage, "the store of replica \(replica) is read-only and has no conflicts database")
        }
        let next = try Self.lastConflictSequence(in: conflicts, txn) + 1
        let key = Self.logKey(next)
        try txn.put(sealed(value, .conflicts, key: key), forKey: key, in: conflicts)
    }

    /// Deletes the oldest records past `conflictRecordBound` (inside a commit).
    func trimConflicts(in txn: inout WriteTransaction) throws {
        guard let conflicts else { return }
        let excess = try txn.count(in: conflicts) - conflictRecordBound
        guard excess > 0 else { return }
        var doomed: [[UInt8]] = []
        doomed.reserveCapacity(excess)
        try txn.forEach(in: conflicts) { key, _ in
            doomed.append(Array(key))
            return doomed.count < excess
        }
        for key in doomed { _ = try txn.delete(key, in: conflicts) }
    }

    /// Records conflicts in a write transaction of their own (a refused operation, which
    /// writes nothing else). No storage fault is injected here: the faults are meant for
    /// the replication steps.
    /// - Throws: `ConcordError.storage` when the commit fails.
    func recordConflicts(_ records: [[UInt8]]) throws(ConcordError) {
        guard !records.isEmpty else { return }
        try write("record a refused operation at replica \(replica)") { txn in
            for record in records { try appendConflict(record, in: &txn) }
            try trimConflicts(in: &txn)
        }
        conflictCounter.add(UInt64(records.count))
    }

    /// The recorded conflicts (oldest first), then the `MVRegister`s (nested ones too) that
    /// hold several values now, read in one read transaction. Writes nothing, so it works
    /// on a store opened read-only by another process; a store without a `conflicts`
    /// database holds no records.
    /// - Throws: `ConcordError.corrupted` naming a record or object that does not decode;
    ///   `.storage` on an LMDB failure.
    /// - Complexity: O(r) records plus a decode of every `MVRegister`, `GMap` and `RRMap`.
    func readConflicts(replica: ReplicaID) throws(ConcordError) -> [ConflictRecord] {
        let (conflicts, objects) = (conflicts, objects)
        return try read("read the conflicts of replica \(replica)") { txn in
            var records: [ConflictRecord] = []
            if let conflicts {
                try txn.forEach(in: conflicts) { key, value in
                    let sequence = try Self.conflictSequence(key)
                    let plain = try opened(
                        value, .conflicts, key: Array(key), what: "conflict record \(sequence)")
                    records.append(try decodeConflict(plain, sequenceNumber: sequence))
                    return true
                }
            }
            let scanned: Set<CRDTTypeCode.Kind> = [.mvRegister, .gMap, .rrMap]
            try txn.forEach(in: objects) { key, value in
                let (objectKey, plain) = try listedObject(key, value)
                guard scanned.contains(objectKey.type.kind) else { return true }
                let state = try Self.decodeObject(objectKey, plain)
                for conflict in DetectedConflict.standing(in: state) {
                    records.append(
                        ConflictRecord(
                            origin: .scan, timeMicroseconds: nil, replica: replica, key: objectKey, conflict: conflict))
                }
                return true
            }
            return records
        }
    }
}
