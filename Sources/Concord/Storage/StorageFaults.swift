import LMDB
import Locking

/// Storage faults a test or the simulator injects into a cluster's replicas: the next
/// commit of a replica fails, as on a device I/O error or a map that reached
/// `Configuration.maximumMapSizeBytes`.
///
/// A failed commit writes nothing, and the replica's memory does not change: a local
/// transaction throws `ConcordError.storage` to its caller; a remote interval or a garbage
/// collection is retried (the sender resends after its timeout; the next anti-entropy round
/// collects); an open fails and the replica stays down. Faults belong to the cluster that
/// made them (`Cluster.storageFaults`), like network faults belong to its bus.
public final class StorageFaults: Sendable {
    /// What an injected fault looks like to the replica.
    public enum Fault: Sendable, Hashable, CaseIterable {
        /// The device reports an input/output error (`EIO`).
        case ioError
        /// The map is full and may not grow (`MDB_MAP_FULL`).
        case mapFull
    }

    private let armed = Mutex<[ReplicaID: Fault]>([:])
    /// Whether any fault is armed: the commit path checks this before taking the lock.
    private let anyArmed = Atomic<Bool>(false)

    init() {}

    /// Makes the next commit of `replica` fail with `fault` (replacing a fault armed before).
    public func failNextCommit(of replica: ReplicaID, with fault: Fault) {
        armed.withLock { armed in
            armed[replica] = fault
            anyArmed.store(true, ordering: .releasing)
        }
    }

    /// Whether a fault waits for the next commit of `replica`.
    public func isArmed(_ replica: ReplicaID) -> Bool {
        armed.withLock { $0[replica] != nil }
    }

    /// Disarms every fault.
    public func clear() {
        armed.withLock { armed in
            armed.removeAll()
            anyArmed.store(false, ordering: .releasing)
        }
    }

    /// Takes the fault armed for `replica`'s commit, if any, as the error LMDB would raise.
    func takeFault(for replica: ReplicaID) -> LMDBError? {
        guard anyArmed.load(ordering: .acquiring) else { return nil }
        return armed.withLock { armed -> LMDBError? in
            guard let fault = armed.removeValue(forKey: replica) else { return nil }
            if armed.isEmpty { anyArmed.store(false, ordering: .releasing) }
            switch fault {
            case .ioError: return LMDBError.ioError
            case .mapFull: return LMDBError.mapFull
            }
        }
    }
}
