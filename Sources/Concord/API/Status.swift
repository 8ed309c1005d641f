/// What one replica knows about one of its peers.
public struct PeerStatus: Sendable, Hashable {
    /// The peer.
    public var peer: ReplicaID
    /// The latest clock the peer acknowledged.
    public var acknowledgedClock: VectorClock
    /// Transactions this replica has that the peer has not acknowledged.
    public var lagOperations: UInt64
    /// How long the oldest of those has waited, in milliseconds (0 when none).
    public var lagMilliseconds: Double
    /// Whether the peer can be reached right now.
    public var isReachable: Bool
}

/// A snapshot of one replica's replication state.
public struct ReplicaStatus: Sendable, Hashable {
    /// The replica.
    public var replica: ReplicaID
    /// Whether it is running.
    public var isRunning: Bool
    /// Its clock (empty while it is down).
    public var clock: VectorClock
    /// What every member is known to have.
    public var stableClock: VectorClock
    /// Log entries kept for peers.
    public var logLength: Int
    /// Intervals waiting for their causal dependencies.
    public var bufferedIntervals: Int
    /// Whether it waits for a peer's state (after a wipe).
    public var isBootstrapping: Bool
    /// One entry per peer, ordered by id.
    public var peers: [PeerStatus]
    /// Replication counters.
    public var messagesSent: UInt64
    /// Messages received (including undecodable ones).
    public var messagesReceived: UInt64
    /// Messages that failed to decode and were dropped.
    public var messagesUndecodable: UInt64
    /// Intervals applied.
    public var intervalsApplied: UInt64
    /// Full state transfers sent.
    public var statesSent: UInt64
    /// Log entries deleted because every member had them.
    public var logEntriesCollected: UInt64
    /// Log entries deleted past the log bound.
    public var logEntriesForced: UInt64
    /// The last replication failure, if any.
    public var lastFailure: String?
    /// Compactions of causal metadata at quiescence (see `CRDT.compactObserved()`).
    public var compactions: UInt64 = 0
    /// Objects whose stored state compaction made smaller.
    public var objectsCompacted: UInt64 = 0
    /// Intervals received that this replica already had.
    public var intervalsDuplicate: UInt64 = 0
    /// Intervals held back until their causal dependencies arrived.
    public var intervalsBuffered: UInt64 = 0
    /// Intervals dropped because the causal buffer was full (their sender resends them).
    public var intervalsDroppedBufferFull: UInt64 = 0
    /// Full state transfers applied.
    public var statesApplied: UInt64 = 0
    /// Bytes of messages sent.
    public var bytesSent: UInt64 = 0
    /// Messages of a peer's earlier incarnation that arrived after its new one was known
    /// (dropped: the new incarnation resends what it still has).
    public var messagesFromEarlierIncarnations: UInt64 = 0
    /// Replication failures (storage errors while applying, building or collecting; each
    /// is retried). `lastFailure` holds the latest.
    public var failures: UInt64 = 0
    /// Messages dropped because their MAC did not check (an encrypted cluster only).
    public var messagesUnauthenticated: UInt64 = 0
    /// Conflicts this replica has recorded, ever (see `Replica.conflicts()`); kept in its
    /// store, so it survives a restart. 0 while the replica is down.
    public var conflictsDetected: UInt64 = 0
}

/// A snapshot of the whole cluster.
public struct ClusterStatus: Sendable, Hashable {
    /// One entry per member, ordered by id.
    public var replicas: [ReplicaStatus]
    /// Whether every running replica holds the same clock and nothing waits in a buffer.
    public var isConverged: Bool {
        let running = replicas.filter(\.isRunning)
        guard let first = running.first else { return true }
        return running.allSatisfy { $0.clock == first.clock && $0.bufferedIntervals == 0 }
    }
}

extension Replica {
    /// This replica's replication state: clock, stable clock, log length, buffered
    /// intervals, and per peer the lag in operations and milliseconds.
    ///
    /// Called from inside a transaction's closure on this replica, it reports the state
    /// before that transaction (the closure holds the replica's lock, so nothing changes).
    public func status() -> ReplicaStatus {
        let now = transport.nowMicroseconds
        let report = { [transport, id] (core: ReplicaCore) in
            core.status(nowMicroseconds: now) { peer in transport.canReach(from: id, to: peer) }
        }
        let snapshot: ReplicaStatus?
        if isInsideTransaction {
            snapshot = core.map(report)
        } else {
            snapshot = condition.withLock { core.map(report) }
        }
        return snapshot.map { running in
            var status = running
            status.conflictsDetected = readableStorage.withLock { $0?.conflictCounter.value } ?? 0
            status.messagesUnauthenticated = messagesUnauthenticated.load(ordering: .relaxed)
            return status
        }
            ?? ReplicaStatus(
                replica: id, isRunning: false, clock: VectorClock(), stableClock: VectorClock(), logLength: 0,
                bufferedIntervals: 0, isBootstrapping: false, peers: [], messagesSent: 0, messagesReceived: 0,
                messagesUndecodable: 0, intervalsApplied: 0, statesSent: 0, logEntriesCollected: 0,
                logEntriesForced: 0, lastFailure: nil)
    }
}

extension Cluster {
    /// Every member's replication state.
    public func status() -> ClusterStatus {
        ClusterStatus(replicas: replicas.map { $0.status() })
    }
}
