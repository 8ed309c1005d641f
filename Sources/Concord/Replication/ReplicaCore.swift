import LMDB

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
    /// The retransmit timeout doubles (up to 64 times) each time it expires without
    /// progress, so a slow peer is not flooded with copies of large intervals.
    var backoff: UInt64 = 1
    /// The peer asked for a full state (it was wiped, or is new).
    var wantsState = false
    /// The peer came back with a new incarnation and waits to hear that this replica
    /// knows it (see `Message.receiverIncarnation`).
    var wantsEcho = false
    /// The highest membership epoch the peer's reports came with (kept in memory only:
    /// after a restart, compaction waits for fresh reports).
    var epoch: UInt64 = 0
}

/// One transaction's working copy of an object: the state after its updates and the join
/// of the deltas they produced.
struct WorkingObject {
    var state: any CRDT
    var delta: any CRDT
}

/// Counters a replica keeps about itself (reported by `status()`).
struct ReplicaCounters: Sendable, Equatable {
    var messagesSent: UInt64 = 0
    var messagesReceived: UInt64 = 0
    var messagesUndecodable: UInt64 = 0
    var intervalsApplied: UInt64 = 0
    var intervalsDuplicate: UInt64 = 0
    var intervalsBuffered: UInt64 = 0
    var intervalsDroppedBufferFull: UInt64 = 0
    var statesSent: UInt64 = 0
    var statesApplied: UInt64 = 0
    var logEntriesCollected: UInt64 = 0
    var logEntriesForced: UInt64 = 0
    var bytesSent: UInt64 = 0
    var failures: UInt64 = 0
    var compactions: UInt64 = 0
    var objectsCompacted: UInt64 = 0
}

/// The replication state machine of one open replica. Not thread-safe: `Replica` calls it
/// under its lock. Storage, clock and log change together in one LMDB transaction;
/// in-memory fields change only after that transaction commits.
final class ReplicaCore {
    let id: ReplicaID
    let storage: Storage
    let configuration: Configuration
    unowned let transport: any Transport

    private(set) var clock = VectorClock()
    private(set) var incarnation: UInt64 = 0
    /// Below this clock the log is incomplete (collected or forced out): a peer that has
    /// not reached it gets a full state transfer.
    private(set) var logFloor = VectorClock()
    /// A wiped or new replica refuses local writes until a peer's state arrives, so it
    /// never reuses one of its own dots that peers already know.
    private(set) var needsState = false
    private(set) var members: [ReplicaID] = []
    /// How many replicas have been removed from the cluster (see `Message.epoch`).
    private(set) var epoch: UInt64 = 0
    private(set) var peers: [ReplicaID: PeerState] = [:]
    /// The log's entries in order: index, `to` clock, creation time.
    private(set) var logEntries: [(index: UInt64, to: VectorClock, timeMicroseconds: UInt64)] = []
    private var nextLogIndex: UInt64 = 1
    /// Intervals waiting for their causal dependencies, in arrival order.
    private(set) var buffer: [DeltaInterval] = []
    /// Peers heard from since this replica opened (bootstrapping waits for all of them).
    private var heardFrom: Set<ReplicaID> = []
    /// Whether a full state arrived since this replica opened.
    private var receivedState = false
    /// Peers whose messages show they know this incarnation (so they no longer count an
    /// earlier incarnation's acknowledgements toward what is stable).
    private var knownBy: Set<ReplicaID> = []
    /// Per peer, its clock when it first echoed this incarnation. A peer may have compacted
    /// before then counting an earlier incarnation's acknowledgement, so a wiped or new
    /// replica writes only once it has everything those clocks cover.
    private var echoFloor: [ReplicaID: VectorClock] = [:]
    /// Objects changed since the last compaction. Kept in memory only: a replica compacts
    /// every object the first time after it opens.
    private var dirtyObjects: Set<ObjectKey> = []
    private var compactEveryObject = true
    /// The clock of the last compaction.
    private var compactedAt = VectorClock()
    private var tickAt: UInt64?
    private var pendingSince: UInt64?
    private var pendingTransactions = 0
    var counters = ReplicaCounters()
    /// The last replication failure (a storage error while applying, building or
    /// collecting); replication retries, and `status()` shows it.
    private(set) var lastFailure: String?

    private func noteFailure(_ error: any Error) {
        counters.failures += 1
        lastFailure = "\(error)"
    }

    init(
        id: ReplicaID, path: String, members: [ReplicaID], epoch: UInt64, needsState: Bool,
        incarnationFloor: UInt64, configuration: Configuration, transport: any Transport
    ) throws(ConcordError) {
        self.id = id
        self.configuration = configuration
        self.transport = transport
        storage = try Storage(path: path, replica: id, configuration: configuration)
        try load(needsState: needsState, incarnationFloor: incarnationFloor)
        setMembers(members, epoch: epoch)
        announce()
    }

    func close() {
        storage.environment.close()
    }

    // MARK: Loading

    /// Loads the replica's state. Its incarnation is one past both the stored one and
    /// `incarnationFloor` (kept by the cluster outside the replica's files), so a wiped
    /// replica still comes back with an incarnation its peers have not seen.
    private func load(needsState requested: Bool, incarnationFloor: UInt64) throws(ConcordError) {
        let meta = storage.meta
        let log = storage.log
        var entries: [(UInt64, VectorClock, UInt64)] = []
        var loadedClock = VectorClock()
        var loadedFloor = VectorClock()
        var loadedIncarnation: UInt64 = 0
        var loadedPeers: [ReplicaID: PeerState] = [:]
        var loadedNeedsState = requested
        try storage.read("load replica \(id)") { txn in
            if let bytes = try txn.get(Storage.MetaKey.clock, in: meta) {
                loadedClock = try Storage.decode("the clock", bytes) { (r: inout ByteReader) throws(CodecError) in
                    try VectorClock(from: &r)
                }
            }
            if let bytes = try txn.get(Storage.MetaKey.logFloor, in: meta) {
                loadedFloor = try Storage.decode("the log floor", bytes) { (r: inout ByteReader) throws(CodecError) in
                    try VectorClock(from: &r)
                }
            }
            if let bytes = try txn.get(Storage.MetaKey.incarnation, in: meta) {
                loadedIncarnation = try Storage.decode("the incarnation", bytes) {
                    (r: inout ByteReader) throws(CodecError) in try r.readVarUInt()
                }
            }
            if let bytes = try txn.get(Storage.MetaKey.needsState, in: meta) {
                loadedNeedsState =
                    try Storage.decode("the bootstrap flag", bytes) {
                        (r: inout ByteReader) throws(CodecError) in try r.readBool()
                    } || requested
            }
            if let bytes = try txn.get(Storage.MetaKey.peers, in: meta) {
                loadedPeers = try Storage.decode("the peers' clocks", bytes) {
                    (r: inout ByteReader) throws(CodecError) in try Self.decodePeers(&r)
                }
            }
            try txn.forEach(in: log) { key, value in
                let index = try Storage.logIndex(key)
                let header = try Storage.decode("log entry \(index)", Array(value)) {
                    (r: inout ByteReader) throws(CodecError) in try DeltaInterval(from: &r)
                }
                entries.append((index, header.to, header.timeMicroseconds))
                return true
            }
        }
        clock = loadedClock
        logFloor = loadedFloor
        incarnation = max(loadedIncarnation, incarnationFloor) + 1
        peers = loadedPeers
        needsState = loadedNeedsState
        logEntries = entries.map { (index: $0.0, to: $0.1, timeMicroseconds: $0.2) }
        nextLogIndex = (entries.last?.0 ?? 0) + 1
        let incarnationBytes = incarnation.encodedBytes()
        let needsStateBytes = needsState.encodedBytes()
        try storage.write("record the incarnation of replica \(id)") { txn in
            try txn.put(incarnationBytes, forKey: Storage.MetaKey.incarnation, in: meta)
            try txn.put(needsStateBytes, forKey: Storage.MetaKey.needsState, in: meta)
        }
    }

    private static func decodePeers(_ reader: inout ByteReader) throws(CodecError) -> [ReplicaID: PeerState] {
        let count = try reader.readCount(minimumElementSize: 3)
        var peers: [ReplicaID: PeerState] = [:]
        for _ in 0..<count {
            let peer = try ReplicaID(from: &reader)
            var state = PeerState()
            state.incarnation = try reader.readVarUInt()
            state.acknowledged = try VectorClock(from: &reader)
            state.sent = state.acknowledged
            guard peers.updateValue(state, forKey: peer) == nil else {
                throw reader.error(.inconsistent, "peer \(peer) listed twice")
            }
        }
        return peers
    }

    private func encodedPeers() -> [UInt8] {
        var writer = ByteWriter()
        let sorted = peers.sorted { $0.key < $1.key }
        writer.writeCount(sorted.count)
        for (peer, state) in sorted {
            peer.encode(to: &writer)
            writer.writeVarUInt(state.incarnation)
            state.acknowledged.encode(to: &writer)
        }
        return writer.bytes
    }

    // MARK: Membership

    /// Sets the other members; `epoch` counts the replicas ever removed from the cluster.
    func setMembers(_ all: [ReplicaID], epoch: UInt64) {
        self.epoch = max(self.epoch, epoch)
        members = all.filter { $0 != id }.sorted()
        for member in members where peers[member] == nil { peers[member] = PeerState() }
        for peer in peers.keys where !members.contains(peer) { peers[peer] = nil }
        finishBootstrapIfReady()
        scheduleTick(at: transport.nowMicroseconds)
    }

    /// Tells every peer this replica's clock and incarnation (after an open or restart).
    func announce() {
        for member in members { send(.clock, to: member) }
        scheduleTick(at: transport.nowMicroseconds)
    }

    // MARK: Local transactions

    func load(_ key: ObjectKey) throws(ConcordError) -> (any CRDT)? {
        let objects = storage.objects
        return try storage.read("read \(key)") { txn -> (any CRDT)? in
            guard let bytes = try txn.get(key.bytes, in: objects) else { return nil }
            return try Self.decodeObject(key, bytes)
        }
    }

    static func decodeObject(_ key: ObjectKey, _ bytes: [UInt8]) throws(ConcordError) -> any CRDT {
        let state: any CRDT
        do throws(CodecError) {
            state = try CRDTRegistry.decode(serialized: bytes)
        } catch {
            throw .corrupted(error, "the state of \(key)")
        }
        guard type(of: state).typeCode == key.type else {
            throw ConcordError(.corrupted, "\(key) holds a \(type(of: state).typeCode); the store is damaged")
        }
        return state
    }

    /// Commits one local transaction: objects, log entry and clock in one LMDB commit.
    func commit(_ working: [ObjectKey: WorkingObject]) throws(ConcordError) -> VectorClock {
        guard !needsState else {
            throw ConcordError(
                .bootstrapping,
                "replica \(id) was wiped or is new and is catching up; it waits for \(bootstrapWait ?? "nothing more")"
                    + " and writes resume then")
        }
        if working.isEmpty { return clock }
        var next = clock
        next.increment(id)
        let now = transport.nowMicroseconds
        let keys = working.keys.sorted()
        let entry = DeltaInterval(
            from: clock, to: next, transactions: 1, timeMicroseconds: now,
            objects: keys.map { ObjectDelta(key: $0, state: working[$0]!.delta) })
        let states = keys.map { ($0.bytes, working[$0]!.state.serialized()) }
        let index = nextLogIndex
        let entryBytes = entry.encodedBytes()
        let clockBytes = next.encodedBytes()
        let (objects, log, meta) = (storage.objects, storage.log, storage.meta)
        try storage.write("commit a transaction at replica \(id)") { txn in
            for (key, state) in states { try txn.put(state, forKey: key, in: objects) }
            try txn.put(entryBytes, forKey: Storage.logKey(index), in: log)
            try txn.put(clockBytes, forKey: Storage.MetaKey.clock, in: meta)
        }
        clock = next
        nextLogIndex += 1
        logEntries.append((index, next, now))
        dirtyObjects.formUnion(keys)
        notePending(now: now)
        return next
    }

    private func notePending(now: UInt64) {
        pendingTransactions += 1
        if pendingSince == nil { pendingSince = now }
        if pendingTransactions >= configuration.deltaIntervalTransactions {
            scheduleTick(at: now)
        } else {
            scheduleTick(at: (pendingSince ?? now) + configuration.deltaIntervalMicroseconds)
        }
    }

    // MARK: Receiving

    func receive(_ bytes: [UInt8]) {
        counters.messagesReceived += 1
        // An interval this replica already has is acknowledged without decoding its objects.
        // A header that fails to decode falls through to the full decode, which counts it.
        if case .success(let header) = Result(catching: { () throws(CodecError) in try Message.Header(decoding: bytes) }
        ),
            let to = header.intervalTo, clock.dominates(to),
            header.envelope.sender != id, peers[header.envelope.sender] != nil
        {
            noteArrival(header.envelope)
            counters.intervalsDuplicate += 1
            send(.clock, to: header.envelope.sender)
            scheduleTick(at: transport.nowMicroseconds)
            return
        }
        let message: Message
        do {
            message = try Message(decoding: bytes)
        } catch {
            counters.messagesUndecodable += 1
            return
        }
        guard message.sender != id, peers[message.sender] != nil else { return }
        noteArrival(message.envelope)
        do {
            switch message.payload {
            case .clock:
                break
            case .interval(let interval):
                try receive(interval)
                send(.clock, to: message.sender)
            case .state(let objects):
                try applyState(objects, clock: message.clock)
                send(.clock, to: message.sender)
            }
            finishBootstrapIfReady()
        } catch {
            // Nothing was committed (one LMDB transaction); the sender resends after its
            // timeout, and the failure is reported by `status()`.
            noteFailure(error)
        }
        scheduleTick(at: transport.nowMicroseconds)
    }

    /// Takes in what a peer's message says about it: its report, and its echo of this
    /// incarnation.
    private func noteArrival(_ envelope: Envelope) {
        noteReport(envelope)
        if envelope.receiverIncarnation == incarnation {
            noteEcho(from: envelope.sender, bootstrapping: envelope.senderBootstrapping)
        }
    }

    /// A peer's message shows it knows this incarnation. A peer that is bootstrapping
    /// itself has compacted nothing since it opened, and compacts later only counting this
    /// incarnation's acknowledgements, so it sets no floor (two bootstrapping replicas that
    /// each hold what the other lacks would otherwise wait for each other forever).
    private func noteEcho(from peer: ReplicaID, bootstrapping: Bool) {
        guard knownBy.insert(peer).inserted else { return }
        echoFloor[peer] = bootstrapping ? VectorClock() : peers[peer]?.acknowledged ?? VectorClock()
    }

    private func noteReport(_ envelope: Envelope) {
        let (peer, incarnation, reported) = (envelope.sender, envelope.incarnation, envelope.clock)
        guard var state = peers[peer] else { return }
        if incarnation > state.incarnation {
            // A restarted peer: its clock may have moved back (noSync), so trust the new report.
            state.incarnation = incarnation
            state.acknowledged = reported
            state.sent = reported
            state.waitingSinceMicroseconds = nil
            state.backoff = 1
            state.wantsEcho = true
        } else if incarnation == state.incarnation {
            let progressed = !state.acknowledged.dominates(reported)
            state.acknowledged.merge(reported)
            state.sent.merge(reported)
            if progressed {
                // Progress: the timeout restarts for whatever is still in flight.
                state.backoff = 1
                state.waitingSinceMicroseconds =
                    state.acknowledged.dominates(state.sent) ? nil : transport.nowMicroseconds
            }
        } else {
            return
        }
        if envelope.wantsState { state.wantsState = true }
        if envelope.wantsEcho { state.wantsEcho = true }
        state.epoch = max(state.epoch, envelope.epoch)
        peers[peer] = state
        heardFrom.insert(peer)
    }

    /// What a bootstrapping replica still waits for (nil: nothing), in words for errors.
    ///
    /// A wiped or new replica may write again once it has a peer's state, has heard from
    /// every member, every member has echoed its incarnation, no member knows a transaction
    /// of its own that it lacks (so it never reuses one of its own dots), and it has
    /// everything each member had when it first echoed this incarnation (so no write of its
    /// own is concurrent with what a member compacted while it still counted the old
    /// incarnation's acknowledgements).
    var bootstrapWait: String? {
        guard !members.isEmpty else { return nil }
        guard receivedState else { return "a peer's full state" }
        if let peer = members.first(where: { !heardFrom.contains($0) }) { return "a message from \(peer)" }
        if let peer = members.first(where: { !knownBy.contains($0) }) {
            return "\(peer) to acknowledge its new incarnation"
        }
        if let peer = members.first(where: { clock[id] < (peers[$0]?.acknowledged[id] ?? 0) }) {
            return "its own earlier transactions that \(peer) knows"
        }
        if let peer = members.first(where: { !clock.dominates(echoFloor[$0] ?? VectorClock()) }) {
            return "everything \(peer) had when it learned of the new incarnation (\(echoFloor[peer] ?? VectorClock()))"
        }
        return nil
    }

    private func finishBootstrapIfReady() {
        guard needsState, bootstrapWait == nil else { return }
        let meta = storage.meta
        let bytes = false.encodedBytes()
        do {
            try storage.write("finish bootstrapping replica \(id)") { txn in
                try txn.put(bytes, forKey: Storage.MetaKey.needsState, in: meta)
            }
        } catch {
            noteFailure(error)
            return
        }
        needsState = false
    }

    private func receive(_ interval: DeltaInterval) throws(ConcordError) {
        if clock.dominates(interval.to) {
            counters.intervalsDuplicate += 1
            return
        }
        guard clock.dominates(interval.from) else {
            if buffer.count >= configuration.causalBufferBound {
                counters.intervalsDroppedBufferFull += 1
            } else if !buffer.contains(interval) {
                buffer.append(interval)
                counters.intervalsBuffered += 1
            }
            return
        }
        try apply(interval)
        // Applying may have satisfied buffered intervals.
        var progressed = true
        while progressed {
            progressed = false
            for (position, waiting) in buffer.enumerated() where clock.dominates(waiting.from) {
                buffer.remove(at: position)
                if !clock.dominates(waiting.to) { try apply(waiting) } else { counters.intervalsDuplicate += 1 }
                progressed = true
                break
            }
        }
        buffer.removeAll { clock.dominates($0.to) }
    }

    /// Joins a causally ready interval into the store and logs it for forwarding.
    private func apply(_ interval: DeltaInterval) throws(ConcordError) {
        let next = clock.merging(interval.to)
        let index = nextLogIndex
        let now = transport.nowMicroseconds
        var logged = interval
        logged.timeMicroseconds = now
        let entryBytes = logged.encodedBytes()
        let clockBytes = next.encodedBytes()
        let (objects, log, meta) = (storage.objects, storage.log, storage.meta)
        try storage.write("apply an interval at replica \(id)") { txn in
            for object in interval.objects {
                let merged = try Self.joined(object, existing: txn.get(object.key.bytes, in: objects))
                try txn.put(merged, forKey: object.key.bytes, in: objects)
            }
            try txn.put(entryBytes, forKey: Storage.logKey(index), in: log)
            try txn.put(clockBytes, forKey: Storage.MetaKey.clock, in: meta)
        }
        clock = next
        nextLogIndex += 1
        logEntries.append((index, interval.to, now))
        dirtyObjects.formUnion(interval.objects.map(\.key))
        counters.intervalsApplied += 1
        notePending(now: now)
    }

    private static func joined(_ object: ObjectDelta, existing: [UInt8]?) throws(ConcordError) -> [UInt8] {
        guard let existing else { return object.state.serialized() }
        var state = try decodeObject(object.key, existing)
        do {
            try state.join(erased: object.state)
        } catch {
            throw ConcordError(.corrupted, "\(object.key): \(error)")
        }
        return state.serialized()
    }

    private func applyState(_ states: [ObjectDelta], clock reported: VectorClock) throws(ConcordError) {
        let next = clock.merging(reported)
        let floor = logFloor.merging(reported)
        let (objects, meta) = (storage.objects, storage.meta)
        let clockBytes = next.encodedBytes()
        let floorBytes = floor.encodedBytes()
        try storage.write("apply a state transfer at replica \(id)") { txn in
            for object in states {
                let merged = try Self.joined(object, existing: txn.get(object.key.bytes, in: objects))
                try txn.put(merged, forKey: object.key.bytes, in: objects)
            }
            try txn.put(clockBytes, forKey: Storage.MetaKey.clock, in: meta)
            try txn.put(floorBytes, forKey: Storage.MetaKey.logFloor, in: meta)
        }
        let grew = next != clock
        clock = next
        logFloor = floor
        receivedState = true
        dirtyObjects.formUnion(states.map(\.key))
        counters.statesApplied += 1
        buffer.removeAll { clock.dominates($0.to) }
        if grew { notePending(now: transport.nowMicroseconds) }
    }

    // MARK: Sending

    /// Whether a bootstrapping replica still needs a full state from `peer`: until the
    /// first state arrives, from a peer not yet heard from, or from one that knows more of
    /// this replica's own transactions than it has. Every message to the peer says so; once
    /// false, acknowledgements stop asking, so states do not answer acknowledgements of
    /// states while the replica waits for something else (a partitioned member's echo).
    private func wantsState(from peer: ReplicaID) -> Bool {
        guard needsState else { return false }
        return !receivedState || !heardFrom.contains(peer) || (peers[peer]?.acknowledged[id] ?? 0) > clock[id]
    }

    private func send(_ payload: Message.Payload, to peer: ReplicaID, wantsState: Bool? = nil) {
        var message = Message(
            sender: id, incarnation: incarnation, clock: clock, wantsState: wantsState ?? self.wantsState(from: peer),
            payload: payload)
        message.envelope.receiverIncarnation = peers[peer]?.incarnation ?? 0
        message.envelope.epoch = epoch
        message.envelope.wantsEcho = needsState && !knownBy.contains(peer)
        message.envelope.senderBootstrapping = needsState
        let bytes = message.encoded()
        counters.messagesSent += 1
        counters.bytesSent += UInt64(bytes.count)
        transport.send(bytes, from: id, to: peer)
    }

    private func scheduleTick(at time: UInt64) {
        if let tickAt, tickAt <= time { return }
        tickAt = time
        transport.scheduleTick(for: id, at: time)
    }

    /// The anti-entropy round: collect garbage, then send each reachable peer what it lacks
    /// (an interval from what it has, or a full state when the log no longer reaches back),
    /// resending after the retransmit timeout. Reschedules itself only while some reachable
    /// peer still lacks something, so a quiet or partitioned cluster goes idle.
    func tick() {
        let now = transport.nowMicroseconds
        if let tickAt, tickAt > now { return }  // a stale timer; a newer one is scheduled
        tickAt = nil
        pendingTransactions = 0
        pendingSince = nil
        collectGarbage()
        var outstanding = false
        let timeout = transport.retransmitTimeoutMicroseconds
        for peer in members {
            guard var state = peers[peer], transport.canReach(from: id, to: peer) else { continue }
            if needsState {
                // Ask for state only where it is still needed; elsewhere just announce this
                // incarnation until the peer echoes it.
                let needsStateFromPeer = wantsState(from: peer)
                if needsStateFromPeer || !knownBy.contains(peer) || state.wantsEcho {
                    state.wantsEcho = false
                    peers[peer] = state
                    send(.clock, to: peer, wantsState: needsStateFromPeer)
                }
                outstanding = true
                continue
            }
            if state.wantsEcho {
                state.wantsEcho = false
                peers[peer] = state
                send(.clock, to: peer)
            }
            if state.wantsState {
                state.wantsState = false
                state.sent = clock
                state.waitingSinceMicroseconds = state.waitingSinceMicroseconds ?? now
                peers[peer] = state
                sendState(to: peer)
                outstanding = true
                continue
            }
            if state.acknowledged.dominates(clock) { continue }
            outstanding = true
            if let waiting = state.waitingSinceMicroseconds, now >= waiting + timeout * state.backoff {
                state.sent = state.acknowledged
                state.waitingSinceMicroseconds = nil
                state.backoff = min(state.backoff * 2, 64)
            }
            if state.sent.dominates(clock) {
                // Everything is in flight: wait for the acknowledgement or the timeout.
                state.waitingSinceMicroseconds = state.waitingSinceMicroseconds ?? now
                peers[peer] = state
                continue
            }
            state.waitingSinceMicroseconds = state.waitingSinceMicroseconds ?? now
            if !state.sent.dominates(logFloor) {
                state.sent = clock
                peers[peer] = state
                sendState(to: peer)
            } else if let interval = buildInterval(from: state.sent) {
                state.sent.merge(interval.to)
                peers[peer] = state
                send(.interval(interval), to: peer)
            } else {
                peers[peer] = state
            }
        }
        if outstanding { scheduleTick(at: now + configuration.antiEntropyIntervalMicroseconds) }
    }

    /// Joins, per object, every log entry the peer (which has `base`) lacks, in log order,
    /// up to `maximumIntervalEntries` entries.
    private func buildInterval(from peerClock: VectorClock) -> DeltaInterval? {
        // The peer may know more than this replica; the interval speaks only of what this
        // replica has, so a receiver never learns a clock its sender did not reach.
        let base = peerClock.meeting(clock)
        let wanted = logEntries.lazy.filter { !base.dominates($0.to) }.prefix(configuration.maximumIntervalEntries)
        guard !wanted.isEmpty else { return nil }
        var to = base
        var transactions: UInt64 = 0
        var joined: [ObjectKey: any CRDT] = [:]
        let log = storage.log
        do {
            try storage.read("build an interval at replica \(id)") { txn in
                for entry in wanted {
                    guard let bytes = try txn.get(Storage.logKey(entry.index), in: log) else { continue }
                    let interval = try Storage.decode("log entry \(entry.index)", bytes) {
                        (r: inout ByteReader) throws(CodecError) in try DeltaInterval(from: &r)
                    }
                    to.merge(interval.to)
                    transactions += interval.transactions
                    for object in interval.objects {
                        if var existing = joined[object.key] {
                            try existing.join(erased: object.state)
                            joined[object.key] = existing
                        } else {
                            joined[object.key] = object.state
                        }
                    }
                }
            }
        } catch {
            noteFailure(error)
            return nil
        }
        let objects = joined.keys.sorted().map { ObjectDelta(key: $0, state: joined[$0]!) }
        return DeltaInterval(
            from: base, to: to, transactions: transactions, timeMicroseconds: transport.nowMicroseconds,
            objects: objects)
    }

    private func sendState(to peer: ReplicaID) {
        let objects = storage.objects
        var states: [ObjectDelta] = []
        do {
            try storage.read("read every object at replica \(id)") { txn in
                try txn.forEach(in: objects) { key, value in
                    let objectKey = try Storage.objectKey(Array(key))
                    states.append(ObjectDelta(key: objectKey, state: try Self.decodeObject(objectKey, Array(value))))
                    return true
                }
            }
        } catch {
            noteFailure(error)
            return
        }
        counters.statesSent += 1
        send(.state(objects: states), to: peer)
    }

    // MARK: Garbage collection

    /// Compacts the causal metadata of changed objects (remove-wins markers) once every
    /// member of the current membership has acknowledged exactly this replica's clock.
    ///
    /// Then every member's transactions up to its report are in this replica's clock, and
    /// each member's later ones happen after all of them; a wiped or new member writes only
    /// once it has what this replica had when it learned of it (`finishBootstrapIfReady`).
    /// So no operation concurrent with anything stored here can still arrive, and each object
    /// may treat all it has observed as stable (`CRDT.compactObserved()`). Values never
    /// change. The first compaction after opening visits every object.
    private func compactIfQuiescent() {
        guard compactEveryObject || !dirtyObjects.isEmpty, clock != compactedAt, !needsState,
            members.allSatisfy({ peers[$0].map { $0.acknowledged == clock && $0.epoch >= epoch } ?? false })
        else { return }
        let objects = storage.objects
        var compactedObjects: UInt64 = 0
        do {
            try storage.write("compact objects at replica \(id)") { txn in
                var keys = dirtyObjects.sorted()
                if compactEveryObject {
                    keys = []
                    try txn.forEach(in: objects) { key, _ in
                        keys.append(try Storage.objectKey(Array(key)))
                        return true
                    }
                }
                for key in keys {
                    guard let bytes = try txn.get(key.bytes, in: objects) else { continue }
                    var state = try Self.decodeObject(key, bytes)
                    state.compactObserved()
                    let compacted = state.serialized()
                    guard compacted != bytes else { continue }
                    try txn.put(compacted, forKey: key.bytes, in: objects)
                    compactedObjects += 1
                }
            }
        } catch {
            noteFailure(error)
            return
        }
        counters.compactions += 1
        counters.objectsCompacted += compactedObjects
        dirtyObjects.removeAll()
        compactEveryObject = false
        compactedAt = clock
    }

    /// The pointwise minimum of this replica's clock and every member's acknowledged clock:
    /// what every member is known to have.
    var stableClock: VectorClock {
        VectorClock.pointwiseMinimum([clock] + members.map { peers[$0]?.acknowledged ?? VectorClock() })
    }

    /// Deletes log entries every member has, then — past `logBound` — the oldest entries,
    /// raising the log floor so a peer that lacks them gets a state transfer.
    func collectGarbage() {
        compactIfQuiescent()
        let stable = stableClock
        var doomed: [UInt64] = []
        var floor = logFloor
        for entry in logEntries where stable.dominates(entry.to) { doomed.append(entry.index) }
        let stableCount = doomed.count
        let excess = logEntries.count - doomed.count - configuration.logBound
        if excess > 0 {
            let doomedSet = Set(doomed)
            for entry in logEntries where !doomedSet.contains(entry.index) && doomed.count < stableCount + excess {
                doomed.append(entry.index)
                floor.merge(entry.to)
            }
        }
        floor.merge(stable)
        floor = floor.meeting(clock)  // never above what this replica has
        guard !doomed.isEmpty || floor != logFloor else { return }
        let (log, meta) = (storage.log, storage.meta)
        let floorBytes = floor.encodedBytes()
        let peersBytes = encodedPeers()
        do {
            try storage.write("collect the log of replica \(id)") { txn in
                for index in doomed { try txn.delete(Storage.logKey(index), in: log) }
                try txn.put(floorBytes, forKey: Storage.MetaKey.logFloor, in: meta)
                try txn.put(peersBytes, forKey: Storage.MetaKey.peers, in: meta)
            }
        } catch {
            noteFailure(error)
            return
        }
        let doomedSet = Set(doomed)
        logEntries.removeAll { doomedSet.contains($0.index) }
        logFloor = floor
        counters.logEntriesCollected += UInt64(stableCount)
        counters.logEntriesForced += UInt64(doomed.count - stableCount)
    }
}
