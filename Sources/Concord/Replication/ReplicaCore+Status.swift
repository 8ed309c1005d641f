extension ReplicaCore {
    /// The replica's replication state, with each peer's lag measured at `now`.
    func status(nowMicroseconds now: UInt64, isReachable: (ReplicaID) -> Bool) -> ReplicaStatus {
        let peerStatuses = peers.members.map { peer -> PeerStatus in
            let acknowledged = peers[peer]?.acknowledged ?? VectorClock()
            var lag: UInt64 = 0
            for entry in clock.entries where entry.counter > acknowledged[entry.replica] {
                lag += entry.counter - acknowledged[entry.replica]
            }
            let oldest = log.oldestEntry(missingFrom: acknowledged)
            let waited = oldest.map { now >= $0.timeMicroseconds ? Double(now - $0.timeMicroseconds) / 1_000 : 0 } ?? 0
            return PeerStatus(
                peer: peer, acknowledgedClock: acknowledged, lagOperations: lag,
                lagMilliseconds: lag == 0 ? 0 : waited, isReachable: isReachable(peer))
        }
        return ReplicaStatus(
            replica: id, isRunning: true, clock: clock, stableClock: stableClock, logLength: log.count,
            bufferedIntervals: buffer.count, isBootstrapping: isBootstrapping, peers: peerStatuses,
            messagesSent: counters.messagesSent, messagesReceived: counters.messagesReceived,
            messagesUndecodable: counters.messagesUndecodable, intervalsApplied: counters.intervalsApplied,
            statesSent: counters.statesSent, logEntriesCollected: counters.logEntriesCollected,
            logEntriesForced: counters.logEntriesForced, lastFailure: lastFailure,
            compactions: counters.compactions, objectsCompacted: counters.objectsCompacted,
            intervalsDuplicate: counters.intervalsDuplicate, intervalsBuffered: counters.intervalsBuffered,
            intervalsDroppedBufferFull: counters.intervalsDroppedBufferFull, statesApplied: counters.statesApplied,
            bytesSent: counters.bytesSent, messagesFromEarlierIncarnations: counters.messagesFromEarlierIncarnations,
            failures: counters.failures)
    }
}
