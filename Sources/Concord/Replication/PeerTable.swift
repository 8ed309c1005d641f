/// What a replica knows about one peer.
struct PeerState: Sendable, Equatable {
    /// The peer's incarnation its latest clock came with.
    var incarnation: UInt64 = 0
    /// The latest clock the peer reported: what it has acknowledged.
    var acknowledged = VectorClock()
    /// What has been sent to it (optimistically assumed to arrive) since the last timeout.
    var sent = VectorClock()
    /// When the first unacknowledged send since the peer's last progress went out; the
    /// retransmit timeout runs from here, so a stream of new sends cannot postpone it.
    var waitingSinceMicroseconds: UInt64?
    /// The retransmit timeout doubles (up to `maximumBackoff` times) each time it expires
    /// without progress, so a slow peer is not flooded with copies of large intervals.
    var backoff: UInt64 = 1
    /// The peer asked for a full state (it was wiped, or is new).
    var wantsState = false
    /// The peer came back with a new incarnation and waits to hear that this replica
    /// knows it (see `Envelope.receiverIncarnation`).
    var wantsEcho = false
    /// The highest membership epoch the peer's reports came with (kept in memory only:
    /// after a restart, compaction waits for fresh reports).
    var epoch: UInt64 = 0

    static let maximumBackoff: UInt64 = 64

    /// What to send a peer in an anti-entropy round.
    enum Shipment: Equatable {
        /// It has everything this replica has.
        case upToDate
        /// What it lacks is in flight: wait for the acknowledgement or the timeout.
        case inFlight
        /// A full state (it asked for one, or lacks what the log no longer holds).
        case state
        /// The log's entries it lacks, from what it is known or assumed to have.
        case interval(from: VectorClock)
    }

    /// Decides the shipment of this round and notes it as sent (a state covers `clock`; an
    /// interval's coverage is noted by `noteShipped(through:)` once built). Restarts the
    /// retransmit timeout, with backoff, when it expired without progress.
    mutating func nextShipment(
        clock: VectorClock, logFloor: VectorClock, nowMicroseconds now: UInt64, timeoutMicroseconds timeout: UInt64
    ) -> Shipment {
        if wantsState {
            wantsState = false
            sent = clock
            waitingSinceMicroseconds = waitingSinceMicroseconds ?? now
            return .state
        }
        if acknowledged.dominates(clock) { return .upToDate }
        if let waiting = waitingSinceMicroseconds, now >= waiting + timeout * backoff {
            sent = acknowledged
            waitingSinceMicroseconds = nil
            backoff = min(backoff * 2, Self.maximumBackoff)
        }
        waitingSinceMicroseconds = waitingSinceMicroseconds ?? now
        if sent.dominates(clock) { return .inFlight }
        if !sent.dominates(logFloor) {
            // Only a full state covers what the peer lacks. While an earlier shipment is
            // unacknowledged, wait for its acknowledgement (or the timeout): a replica that
            // just took states from two peers would otherwise pass each one's data on to the
            // other, which is getting it directly, as a second full state.
            if !acknowledged.dominates(sent) { return .inFlight }
            sent = clock
            return .state
        }
        return .interval(from: sent)
    }

    /// Whether the peer waits for this replica's echo of its new incarnation; the request
    /// is answered by the clock message the caller sends now.
    mutating func takeEchoRequest() -> Bool {
        defer { wantsEcho = false }
        return wantsEcho
    }

    /// An interval reaching `to` went out.
    mutating func noteShipped(through to: VectorClock) {
        sent.merge(to)
    }
}

/// The other members of a replica's cluster and what the replica knows of each:
/// acknowledgements, incarnations and echoes, the stable clock, retransmission.
struct PeerTable {
    /// The other members, sorted by id.
    private(set) var members: [ReplicaID] = []
    private var states: [ReplicaID: PeerState] = [:]
    /// Peers heard from since this replica opened (bootstrapping waits for all of them).
    private(set) var heardFrom: Set<ReplicaID> = []
    /// Peers whose messages show they know this incarnation (so they no longer count an
    /// earlier incarnation's acknowledgements toward what is stable).
    private(set) var knownBy: Set<ReplicaID> = []
    /// Per peer, its acknowledged clock when it first echoed this incarnation. A peer may
    /// have compacted before then counting an earlier incarnation's acknowledgement, so a
    /// wiped or new replica writes only once it has everything those clocks cover.
    private(set) var echoFloor: [ReplicaID: VectorClock] = [:]

    /// Starts from what the store remembers of each peer.
    init(persisted: [ReplicaID: PersistedReplicaState.PersistedPeer] = [:]) {
        for (peer, stored) in persisted {
            states[peer] = PeerState(
                incarnation: stored.incarnation, acknowledged: stored.acknowledged, sent: stored.acknowledged)
        }
    }

    subscript(peer: ReplicaID) -> PeerState? { states[peer] }

    /// Changes the state of `peer` in place (one hash lookup); nil when it is not a member.
    mutating func modify<R>(_ peer: ReplicaID, _ body: (inout PeerState) -> R) -> R? {
        guard let index = states.index(forKey: peer) else { return nil }
        return body(&states.values[index])
    }

    /// Sets the other members: new ones start knowing nothing; departed ones are forgotten.
    mutating func setMembers(_ all: [ReplicaID], excluding own: ReplicaID) {
        members = all.filter { $0 != own }.sorted()
        for member in members where states[member] == nil { states[member] = PeerState() }
        for peer in Array(states.keys) where !members.contains(peer) { states[peer] = nil }
    }

    /// What a report said about its sender's incarnation.
    enum ReportOutcome: Equatable {
        /// The sender is not a member: the report was ignored.
        case notMember
        /// A delayed message of an earlier incarnation: the report was ignored.
        case earlierIncarnation
        /// The incarnation this table knew.
        case current
        /// A new incarnation (a restart, a wipe, a recovery): its clock replaced the old one.
        case newIncarnation

        /// Whether the report was taken in.
        var isAccepted: Bool { self == .current || self == .newIncarnation }
    }

    /// Takes in a peer's report: its clock (an acknowledgement), incarnation, epoch and
    /// requests, and says whether it came from the incarnation this table knew, a new one,
    /// or an earlier one (ignored).
    @discardableResult
    mutating func noteReport(_ envelope: Envelope, nowMicroseconds now: UInt64) -> ReportOutcome {
        let outcome =
            modify(envelope.sender) { state -> ReportOutcome in
                let reported = envelope.clock
                let outcome: ReportOutcome
                if envelope.incarnation > state.incarnation {
                    outcome = .newIncarnation
                    // A restarted peer: its clock may have moved back (noSync), so trust the new report.
                    state.incarnation = envelope.incarnation
                    state.acknowledged = reported
                    state.sent = reported
                    state.waitingSinceMicroseconds = nil
                    state.backoff = 1
                    state.wantsEcho = true
                } else if envelope.incarnation == state.incarnation {
                    outcome = .current
                    let progressed = !state.acknowledged.dominates(reported)
                    state.acknowledged.merge(reported)
                    state.sent.merge(reported)
                    if progressed {
                        // Progress: the timeout restarts for whatever is still in flight.
                        state.backoff = 1
                        state.waitingSinceMicroseconds = state.acknowledged.dominates(state.sent) ? nil : now
                    }
                } else {
                    return .earlierIncarnation
                }
                if envelope.wantsState { state.wantsState = true }
                if envelope.wantsEcho { state.wantsEcho = true }
                state.epoch = max(state.epoch, envelope.epoch)
                return outcome
            } ?? .notMember
        if outcome.isAccepted { heardFrom.insert(envelope.sender) }
        return outcome
    }

    /// A peer's message shows it knows this replica's incarnation. A peer that is
    /// bootstrapping itself has compacted nothing since it opened, and compacts later only
    /// counting this incarnation's acknowledgements, so it sets no floor (two bootstrapping
    /// replicas that each hold what the other lacks would otherwise wait for each other forever).
    mutating func noteEcho(from peer: ReplicaID, bootstrapping: Bool) {
        guard knownBy.insert(peer).inserted else { return }
        echoFloor[peer] = bootstrapping ? VectorClock() : states[peer]?.acknowledged ?? VectorClock()
    }

    /// The pointwise minimum of `own` and every member's acknowledged clock: what every
    /// member is known to have.
    func stableClock(own: VectorClock) -> VectorClock {
        VectorClock.pointwiseMinimum([own] + members.map { states[$0]?.acknowledged ?? VectorClock() })
    }

    /// Whether every member acknowledged exactly `clock` in a report from membership `epoch`.
    func allAcknowledge(exactly clock: VectorClock, epoch: UInt64) -> Bool {
        members.allSatisfy { states[$0].map { $0.acknowledged == clock && $0.epoch >= epoch } ?? false }
    }

    /// What the store keeps of each peer.
    var persisted: [(ReplicaID, PersistedReplicaState.PersistedPeer)] {
        states.map { ($0.key, .init(incarnation: $0.value.incarnation, acknowledged: $0.value.acknowledged)) }
    }
}
