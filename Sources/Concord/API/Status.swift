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

extension ReplicaCore {
    func status(now: UInt64, reachable: (ReplicaID) -> Bool) -> ReplicaStatus {
        let peerStatuses = members.map { peer -> PeerStatus in
            let acknowledged = peers[peer]?.acknowledged ?? VectorClock()
            var lag: UInt64 = 0
            for entry in clock.entries where entry.counter > acknowledged[entry.replica] {
                lag += entry.counter - acknowledged[entry.replica]
            }
            let oldest = logEntries.first { !acknowledged.dominates($0.to) }
            let waited = oldest.map { now >= $0.timeMicroseconds ? Double(now - $0.timeMicroseconds) / 1_000 : 0 } ?? 0
            return PeerStatus(
                peer: peer, acknowledgedClock: acknowledged, lagOperations: lag,
                lagMilliseconds: lag == 0 ? 0 : waited, isReachable: reachable(peer))
        }
        return ReplicaStatus(
            replica: id, isRunning: true, clock: clock, stableClock: stableClock, logLength: logEntries.count,
            bufferedIntervals: buffer.count, isBootstrapping: needsState, peers: peerStatuses,
            messagesSent: counters.messagesSent, messagesReceived: counters.messagesReceived,
            messagesUndecodable: counters.messagesUndecodable, intervalsApplied: counters.intervalsApplied,
            statesSent: counters.statesSent, logEntriesCollected: counters.logEntriesCollected,
            logEntriesForced: counters.logEntriesForced, lastFailure: lastFailure,
            compactions: counters.compactions, objectsCompacted: counters.objectsCompacted)
    }
}

extension Replica {
    /// This replica's replication state: clock, stable clock, log length, buffered
    /// intervals, and per peer the lag in operations and milliseconds.
    public func status() -> ReplicaStatus {
        let now = network.nowMicroseconds
        let snapshot: ReplicaStatus? = condition.withLock {
            core?.status(now: now) { [network, id] peer in network.canReach(from: id, to: peer) }
        }
        return snapshot
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
