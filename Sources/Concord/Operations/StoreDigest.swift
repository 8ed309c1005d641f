import CRDTs
import Crypto

/// A fingerprint of a replica's values: SHA-256 over every object's bucket, name, type and
/// value, in key order. Two replicas that have converged have equal digests, whatever their
/// causal metadata, logs or files look like; `concord digest DIR` prints it.
public struct StoreDigest: Sendable, Hashable, CustomStringConvertible {
    /// The replica the digest was taken at.
    public var replica: ReplicaID
    /// How many objects it covers.
    public var objects: Int
    /// The SHA-256, 64 lowercase hexadecimal digits.
    public var hex: String

    /// `<hex>  <n> objects`.
    public var description: String { "\(hex)  \(objects) objects" }

    /// The digest of `dumps` (one replica's objects, in any order).
    init(replica: ReplicaID, _ dumps: [ObjectDump]) {
        var hasher = SHA256()
        var bytes: [UInt8] = []
        for dump in dumps.sorted(by: { ($0.bucket, $0.name) < ($1.bucket, $1.name) }) {
            bytes.removeAll(keepingCapacity: true)
            Self.append(string: dump.bucket, to: &bytes)
            Self.append(string: dump.name, to: &bytes)
            Self.append(string: dump.typeName, to: &bytes)
            Self.append(dump.value, to: &bytes)
            hasher.update(data: bytes)
        }
        self.replica = replica
        objects = dumps.count
        let digits = Array("0123456789abcdef".utf8)
        hex = String(
            decoding: hasher.finalize().flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// Appends a tagged, length-prefixed encoding of `value`: two different trees never
    /// encode alike.
    private static func append(_ value: InspectedValue, to bytes: inout [UInt8]) {
        switch value {
        case .null: bytes.append(0)
        case .bool(let flag): bytes.append(flag ? 2 : 1)
        case .integer(let number):
            bytes.append(3)
            append(unsigned: UInt64(bitPattern: number), to: &bytes)
        case .unsigned(let number):
            bytes.append(4)
            append(unsigned: number, to: &bytes)
        case .string(let string):
            bytes.append(5)
            append(string: string, to: &bytes)
        case .bytes(let raw):
            bytes.append(6)
            append(unsigned: UInt64(raw.count), to: &bytes)
            bytes += raw
        case .array(let elements):
            bytes.append(7)
            append(unsigned: UInt64(elements.count), to: &bytes)
            for element in elements { append(element, to: &bytes) }
        case .object(let fields):
            bytes.append(8)
            append(unsigned: UInt64(fields.count), to: &bytes)
            for (name, field) in fields {
                append(string: name, to: &bytes)
                append(field, to: &bytes)
            }
        }
    }

    private static func append(string: String, to bytes: inout [UInt8]) {
        append(unsigned: UInt64(string.utf8.count), to: &bytes)
        bytes += string.utf8
    }

    private static func append(unsigned number: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: number.littleEndian) { bytes += $0 }
    }
}

extension Replica {
    /// The digest of this replica's values, from one snapshot (see `StoreDigest`).
    /// - Throws: `.unavailable` while the replica is down; `.corrupted` naming an object that
    ///   does not decode; `.storage`.
    public func digest() throws(ConcordError) -> StoreDigest {
        guard let storage = storageForReading else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        return StoreDigest(replica: id, try storage.storedObjects(bucket: nil).map { ObjectDump(replica: id, $0) })
    }
}

extension ClusterReader {
    /// The digest of the values of member `replica` (default: the first member the directory
    /// holds), while the owner may write (see `StoreDigest`).
    /// - Throws: `.invalidArgument` for a non-member; `.unavailable` when it has no store;
    ///   `.corrupted`; `.storage`; `.keyMismatch`.
    public func digest(at replica: ReplicaID? = nil) throws(ConcordError) -> StoreDigest {
        guard let id = replica ?? manifest.hostedMemberIDs.first else {
            throw ConcordError(.invalidArgument, "\(directory.path) has no members")
        }
        return StoreDigest(replica: id, try dumpState(replica: id))
    }
}
