/// Where a replica stands in coming back from a wipe, or in joining as a new member.
///
/// A wiped or new replica does not know which of its own dots its previous incarnation
/// used. Until it is sure it cannot reuse one, its transactions take the dots of a writer id
/// of this incarnation (`ReplicaCore.writer`), which no incarnation used before. Types that
/// need the complete state (`CRDT.operationsNeedCompleteState`) wait longer: until it has
/// everything, and none of its writes can be concurrent with metadata a peer compacted while
/// it still counted the previous incarnation's acknowledgements (see `Compactor`). `wait`
/// names what it still waits for; once it is done, transactions take its own dots again.
enum Bootstrap: Equatable {
    /// Caught up: every write is accepted, under the replica's own id.
    case done
    /// Waiting; `receivedState` once a peer's full state arrived since the replica opened.
    case waiting(receivedState: Bool)

    var isBootstrapping: Bool { self != .done }

    var receivedState: Bool {
        if case .waiting(let received) = self { return received }
        return true
    }

    /// What the replica still waits for, in words for errors (nil: nothing, it may finish).
    ///
    /// It may finish once it has a peer's state, has heard from every member, every member
    /// has echoed its incarnation, no member knows a transaction of its own that it lacks
    /// (so it never reuses one of its own dots), and it has everything each member had when
    /// it first echoed this incarnation (so no write of its own is concurrent with what a
    /// member compacted while it still counted the old incarnation's acknowledgements).
    func wait(replica id: ReplicaID, clock: VectorClock, peers: PeerTable) -> String? {
        guard case .waiting(let receivedState) = self, !peers.members.isEmpty else { return nil }
        guard receivedState else { return "a peer's full state" }
        let members = peers.members
        if let peer = members.first(where: { !peers.heardFrom.contains($0) }) { return "a message from \(peer)" }
        if let peer = members.first(where: { !peers.knownBy.contains($0) }) {
            return "\(peer) to acknowledge its new incarnation"
        }
        if let peer = members.first(where: { clock[id] < (peers[$0]?.acknowledged[id] ?? 0) }) {
            return "its own earlier transactions that \(peer) knows"
        }
        if let peer = members.first(where: { !clock.dominates(peers.echoFloor[$0] ?? VectorClock()) }) {
            return
                "everything \(peer) had when it learned of the new incarnation (\(peers.echoFloor[peer] ?? VectorClock()))"
        }
        return nil
    }

    /// Whether the replica still needs a full state from `peer`: until the first state
    /// arrives, from a peer not yet heard from, or from one that knows more of this
    /// replica's own transactions than it has. Every message to the peer says so; once
    /// false, acknowledgements stop asking, so states do not answer acknowledgements of
    /// states while the replica waits for something else (a partitioned member's echo).
    func wantsState(from peer: ReplicaID, replica id: ReplicaID, clock: VectorClock, peers: PeerTable) -> Bool {
        guard case .waiting(let receivedState) = self else { return false }
        return !receivedState || !peers.heardFrom.contains(peer) || (peers[peer]?.acknowledged[id] ?? 0) > clock[id]
    }
}

extension ReplicaID {
    /// The writer of `member` during its incarnation `incarnation` (see `ReplicaID`), or nil
    /// when either does not fit in 32 bits.
    init?(writerOf member: ReplicaID, incarnation: UInt64) {
        guard member.rawValue > 0, member.rawValue >> 32 == 0, incarnation > 0, incarnation >> 32 == 0 else {
            return nil
        }
        self.init(incarnation << 32 | member.rawValue)
    }
}
