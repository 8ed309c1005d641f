import CRDTs
import Foundation

/// One object as `dumpState` shows it: where it is, its type, its value and its causal
/// metadata (dots, contexts, timestamps, rights: whatever its type keeps).
public struct ObjectDump: Sendable, Hashable {
    /// The replica it was read at.
    public var replica: ReplicaID
    /// The bucket.
    public var bucket: String
    /// The key's name.
    public var name: String
    /// The CRDT type's name (`"AWSet<String>"`).
    public var typeName: String
    /// The value (`Inspectable.inspectedValue`).
    public var value: InspectedValue
    /// The causal metadata (`Inspectable.inspectedMetadata`).
    public var metadata: InspectedValue

    init(replica: ReplicaID, _ object: StoredObject) {
        self.replica = replica
        bucket = object.bucket
        name = object.name
        typeName = object.typeName
        let inspectable = object.state as? any Inspectable
        value = inspectable?.inspectedValue ?? .string(String(describing: object.state))
        metadata = inspectable?.inspectedMetadata ?? .null
    }
}

extension Cluster {
    /// Every object of every running replica (or of `replica`), of one bucket when `bucket`
    /// is given: the seed's dump-state. Each replica is read from one snapshot.
    /// - Throws: `.invalidArgument` for a non-member; `.unavailable` when `replica` is down;
    ///   `.corrupted` naming an object that does not decode; `.storage`.
    public func dumpState(replica: ReplicaID? = nil, bucket: String? = nil) throws(ConcordError) -> [ObjectDump] {
        let chosen: [Replica]
        if let replica {
            guard let member = self.replica(replica) else {
                throw ConcordError(.invalidArgument, "replica \(replica.rawValue) is not a member of this cluster")
            }
            chosen = [member]
        } else {
            chosen = replicas.filter(\.isRunning)
        }
        var dumps: [ObjectDump] = []
        for member in chosen {
            guard let storage = member.storageForReading else {
                throw ConcordError(.unavailable, "\(member) is down (crashed, removed or closed); restart it first")
            }
            dumps += try storage.storedObjects(bucket: bucket).map { ObjectDump(replica: member.id, $0) }
        }
        return dumps
    }
}

extension ClusterReader {
    /// Every object of every member with a store (or of `replica`), of one bucket when
    /// `bucket` is given, while the owner may write (see `Cluster.dumpState`).
    public func dumpState(replica: ReplicaID? = nil, bucket: String? = nil) throws(ConcordError) -> [ObjectDump] {
        var dumps: [ObjectDump] = []
        for id in replica.map({ [$0] }) ?? manifest.hostedMemberIDs {
            do {
                dumps += try objects(at: id, bucket: bucket).map { ObjectDump(replica: id, $0) }
            } catch  where error.code == .unavailable && replica == nil {
                continue  // A member without a store holds nothing.
            }
        }
        return dumps
    }
}
