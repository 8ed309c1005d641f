/// The replication state machine of one open replica, written sans-IO.
///
/// Every input — a local transaction, a message, a timer, a membership change — is a call
/// that returns a `Step`: the storage writes it needs, and the memory change that goes with
/// them. The driver (`Replica`) commits the step's batch in one LMDB write transaction and
/// then calls `finish(_:result:…)`, which takes the memory change only if the commit
/// succeeded and returns the `Output` to perform: messages to send and the next timer. So
/// memory never runs ahead of the store, by construction.
///
/// The core reads the store (`ReplicaStoreReader`) while it plans, never writes it, and
/// never sends: it has no transport. It composes parts that each have their own file and
/// tests: the `ReplicationLog` index, the `PeerTable`, `Bootstrap`, the `CausalBuffer` and
/// the `Compactor`.
///
/// Not thread-safe: the driver calls it under the replica's lock.
final class ReplicaCore {
    /// What one input asks of the store, and the memory change to take once it committed.
    struct Step {
        /// What a step does, named in the error when its commit fails.
        enum Purpose: String {
            case open = "record the incarnation of"
            case membership = "change the members of"
            case transaction = "commit a transaction at"
            case message = "apply a message at"
            case interval = "apply an interval at"
            case state = "apply a state transfer at"
            case collection = "collect garbage at"
            case close = "close"
        }

        /// What the step does (the words are built only when a commit fails: building a
        /// string per step showed on the write path).
        var purpose: Purpose
        /// The replica the step belongs to.
        let replica: ReplicaID
        /// The writes to commit, all or nothing.
        var batch = StorageBatch()
        fileprivate var change = Change()

        init(_ purpose: Purpose, at replica: ReplicaID) {
            self.purpose = purpose
            self.replica = replica
        }

        /// "apply an interval at replica r2".
        var what: String { Self.describe(purpose, at: replica) }

        /// What a step of `purpose` at `replica` does, in words (`what`).
        static func describe(_ purpose: Purpose, at replica: ReplicaID) -> String {
            "\(purpose.rawValue) replica \(replica)"
        }

        /// The objects the step writes (for commit feeds), as `forEachChangedObject` gives them.
        var changedObjects: [ObjectKey] {
            var objects: [ObjectKey] = []
            objects.reserveCapacity(change.changedObjects.count + change.changedWorkingObjects.count)
            forEachChangedObject { objects.append($0) }
            return objects
        }

        /// Calls `body` with each object the step writes, without building an array: a local
        /// transaction's working copies' keys, or the objects a remote step changed.
        func forEachChangedObject(_ body: (ObjectKey) -> Void) {
            if change.changedWorkingObjects.isEmpty {
                for object in change.changedObjects { body(object) }
            } else {
                for object in change.changedWorkingObjects { body(object.key) }
            }
        }
    }

    /// What the driver performs after a step: messages to send, and the next timer.
    struct Output {
        var messages: [(to: ReplicaID, bytes: [UInt8])] = []
        /// When to call `tick` next (nil: no change to the scheduled timer).
        var wakeAtMicroseconds: UInt64?
    }

    /// The memory side of a step, taken only after its batch committed.
    fileprivate struct Change {
        var clock: VectorClock?
        var appended: [ReplicationLog.Entry] = []
        /// The one entry a local transaction appends (before `appended`): held alone, where
        /// an array of one cost every commit a malloc.
        var appendedEntry: ReplicationLog.Entry?
        /// How many log entries the step appends.
        var appendedCount: Int { appended.count + (appendedEntry == nil ? 0 : 1) }
        var collection: ReplicationLog.Collection?
        var raisedFloor: VectorClock?
        var changedObjects: [ObjectKey] = []
        /// The working copies a local transaction wrote, whose keys are the objects it
        /// changed: held instead of an array of their keys, which cost a commit a malloc.
        var changedWorkingObjects: [WorkingObject] = []
        var compaction: (at: VectorClock, objects: UInt64)?
        var finishesBootstrap = false
        var receivedState = false
        var intervalsApplied: UInt64 = 0
        var stateApplied = false
        /// New transactions that peers lack (the delta-interval timer starts).
        var newTransactions = 0
        /// Peers to answer with a clock message (an acknowledgement).
        var replies: [ReplicaID] = []
        /// An anti-entropy round runs after the commit (a tick).
        var shipsToPeers = false
        /// Every peer hears this replica's clock and incarnation (after opening).
        var announces = false
        /// A tick is due now (after a message or a membership change).
        var wakesNow = false
    }

    let id: ReplicaID
    let configuration: Configuration
    let retransmitTimeoutMicroseconds: UInt64
    /// The boot of the machine this replica runs in (see `BootIdentity`).
    let bootIdentity: String

    // The driver calls the core under the replica's lock, so no two accesses to its state
    // overlap: the runtime's exclusivity check of each access is left out. With the other
    // sites that leave it out, that took 7 % of a local write's instructions and 13 % of a
    // read's (callgrind, BENCHMARKS.md).
    @exclusivity(unchecked) private(set) var clock: VectorClock
    @exclusivity(unchecked) private(set) var incarnation: UInt64
    /// How many replicas have been removed from the cluster (see `Envelope.epoch`).
    @exclusivity(unchecked) private(set) var epoch: UInt64 = 0
    @exclusivity(unchecked) private(set) var log: ReplicationLog
    @exclusivity(unchecked) private(set) var peers: PeerTable
    @exclusivity(unchecked) private(set) var bootstrap: Bootstrap
    /// The replica recovers from a power loss (see `init`): until it is done, its store
    /// keeps the earlier boot's mark, so a crash or a close meanwhile makes it recover again.
    @exclusivity(unchecked) private(set) var recoversFromPowerLoss = false
    @exclusivity(unchecked) private(set) var buffer: CausalBuffer
    @exclusivity(unchecked) private var compactor = Compactor()
    /// The earliest tick the transport was asked for and has not yet delivered.
    @exclusivity(unchecked) private var scheduledTickMicroseconds: UInt64?
    @exclusivity(unchecked) private var pendingSinceMicroseconds: UInt64?
    @exclusivity(unchecked) private var pendingTransactions = 0
    @exclusivity(unchecked) private(set) var counters = ReplicaCounters()
    /// The last replication failure (a storage error while applying, building or
    /// collecting); replication retries, and `status()` shows it.
    @exclusivity(unchecked) private(set) var lastFailure: String?

    /// Creates the core of a replica whose store holds `persisted`. Its incarnation is one
    /// past both the stored one and `incarnationFloor` (kept in the cluster directory), so a
    /// wiped replica still comes back with an incarnation its peers have not seen. It
    /// bootstraps when asked to, when its store says it still does, or when its store is
    /// new although the cluster directory saw it open before.
    init(
        id: ReplicaID, persisted: PersistedReplicaState, bootstrapping requested: Bool, incarnationFloor: UInt64,
        configuration: Configuration, retransmitTimeoutMicroseconds: UInt64, bootIdentity: String = BootIdentity.current
    ) {
        self.id = id
        self.bootIdentity = bootIdentity
        self.configuration = configuration
        self.retransmitTimeoutMicroseconds = retransmitTimeoutMicroseconds
        clock = persisted.clock
        incarnation = max(persisted.incarnation, incarnationFloor) + 1
        log = ReplicationLog(entries: persisted.logEntries, floor: persisted.logFloor)
        peers = PeerTable(persisted: persisted.peers)
        // A store that never recorded an incarnation, of a replica the cluster directory has
        // seen open before, lost its files (deleted by hand, or a wipe whose reopening
        // failed): like a wiped replica it cannot know which of its own dots peers hold.
        let lostItsFiles = persisted.incarnation == 0 && incarnationFloor > 0
        // A store left open by another boot of the machine (a power loss under `.noSync`)
        // may have lost its last commits, its own transactions among them, which peers may
        // hold: it recovers as a wiped replica does, but it still has its data.
        let mayHaveLostCommits = persisted.openedInBoot.map { $0 != bootIdentity } ?? false
        if persisted.needsState || requested || lostItsFiles {
            bootstrap = .waiting(receivedState: false)
        } else if mayHaveLostCommits {
            bootstrap = .waiting(receivedState: true)
            recoversFromPowerLoss = true
        } else {
            bootstrap = .done
        }
        buffer = CausalBuffer(bound: configuration.causalBufferBound)
    }

    var isBootstrapping: Bool { bootstrap.isBootstrapping }

    /// The id this replica's transactions take their dots under: its own, or while it
    /// bootstraps, the writer of this incarnation (see `ReplicaID`), which no earlier
    /// incarnation used. Nil while bootstrapping if no writer id can be formed (an id or
    /// incarnation of 2^32 or more): every write then waits.
    var writer: ReplicaID? {
        isBootstrapping ? ReplicaID(writerOf: id, incarnation: incarnation) : id
    }

    /// Why an operation on `type` must wait for the replica to catch up, or nil when it may
    /// run now: while bootstrapping, only types that need no complete state
    /// (`CRDT.operationsNeedCompleteState`) are written, under `writer`.
    func refusal(of type: any CRDT.Type) -> ConcordError? {
        guard isBootstrapping, writer == nil || type.operationsNeedCompleteState else { return nil }
        return bootstrapRefusal("operations on \(type) need its complete state, so they wait")
    }

    /// The error for `what`, which waits while the replica bootstraps.
    func bootstrapRefusal(_ what: String) -> ConcordError {
        ConcordError(
            .bootstrapping,
            "replica \(id) "
                + (recoversFromPowerLoss
                    ? "recovers from a power loss (its last commits may be gone)"
                    : "was wiped or is new and is catching up")
                + "; \(what) for \(bootstrapWait ?? "nothing more") and resume then (counters, registers, "
                + "flags, add-wins and grow-only sets are written meanwhile)")
    }

    /// What every member is known to have: the pointwise minimum of this replica's clock
    /// and every member's acknowledged clock.
    var stableClock: VectorClock { peers.stableClock(own: clock) }

    /// What a bootstrapping replica still waits for (nil: nothing).
    var bootstrapWait: String? { bootstrap.wait(replica: id, clock: clock, peers: peers) }

    // MARK: Opening and membership

    /// The first step after opening: records the new incarnation and whether the replica
    /// bootstraps, then announces it to every member. `members` lists the whole cluster.
    func open(members: [ReplicaID], epoch: UInt64) -> Step {
        self.epoch = max(self.epoch, epoch)
        peers.setMembers(members, excluding: id)
        var step = Step(.open, at: id)
        step.batch.put(incarnation.encodedBytes(), forKey: Storage.MetaKey.incarnation, in: .meta)
        let finishes = isBootstrapping && bootstrapWait == nil
        step.change.finishesBootstrap = finishes
        // Only a replica without data (wiped or new) asks for a full state again after a
        // crash; one that recovers from a power loss keeps the earlier boot's mark instead.
        let needsState = bootstrap == .waiting(receivedState: false) && !finishes
        step.batch.put(needsState.encodedBytes(), forKey: Storage.MetaKey.needsState, in: .meta)
        if !recoversFromPowerLoss || finishes { markBoot(&step) }
        step.change.announces = true
        step.change.wakesNow = true
        return step
    }

    /// The last step before a clean close: erases the boot mark, so the next opening knows
    /// the store lost nothing.
    func close() -> Step {
        var step = Step(.close, at: id)
        // Under `.full` there is no mark (see `open`), and so nothing to commit; a replica
        // still recovering from a power loss keeps the earlier boot's mark.
        if configuration.durability != .full && !recoversFromPowerLoss {
            step.batch.delete(Storage.MetaKey.openedInBoot, in: .meta)
        }
        return step
    }

    /// Sets the members (the whole cluster); `epoch` counts the replicas ever removed.
    func setMembers(_ all: [ReplicaID], epoch: UInt64) -> Step {
        self.epoch = max(self.epoch, epoch)
        peers.setMembers(all, excluding: id)
        var step = Step(.membership, at: id)
        planBootstrapFinish(&step, clock: clock, receivedState: bootstrap.receivedState)
        step.change.wakesNow = true
        return step
    }

    /// Adds the write that ends bootstrapping to `step` when, with the step's changes, the
    /// replica no longer waits for anything.
    private func planBootstrapFinish(_ step: inout Step, clock: VectorClock, receivedState: Bool) {
        guard isBootstrapping,
            Bootstrap.waiting(receivedState: receivedState).wait(replica: id, clock: clock, peers: peers) == nil
        else { return }
        step.batch.put(false.encodedBytes(), forKey: Storage.MetaKey.needsState, in: .meta)
        if recoversFromPowerLoss { markBoot(&step) }
        step.change.finishesBootstrap = true
    }

    /// Records this boot in the store (see `BootIdentity`). Under `.full` every commit
    /// reaches the device, so a power loss loses none and the store needs no mark.
    private func markBoot(_ step: inout Step) {
        if configuration.durability == .full {
            step.batch.delete(Storage.MetaKey.openedInBoot, in: .meta)
        } else {
            step.batch.put(bootIdentity.encodedBytes(), forKey: Storage.MetaKey.openedInBoot, in: .meta)
        }
    }

    // MARK: Local transactions

    /// Plans one local transaction: its objects' states, its log entry and the clock, for
    /// one commit. Its dot is the next of `writer`.
    /// - Throws: `ConcordError.bootstrapping` when it writes a type that needs the complete
    ///   state while a wiped or new replica catches up, or one recovers from a power loss
    ///   (see `refusal(of:)`).
    func commit(_ working: WorkingSet, nowMicroseconds now: UInt64) throws(ConcordError) -> Step {
        var step = Step(.transaction, at: id)
        if working.isEmpty { return step }
        let objects = working.sorted()
        if isBootstrapping {
            for object in objects {
                if let refusal = refusal(of: object.stateType) { throw refusal }
            }
        }
        guard let writer else { preconditionFailure("refusal(of:) lets no write through without a writer") }
        var next = clock
        next.increment(writer)
        step.batch = StorageBatch(capacity: objects.count + 1)
        let entry = log.nextEntry(to: next, timeMicroseconds: now)
        // Each object's state, then the entry; no clock record: the entry ends at `next`, the
        // whole clock after the commit, and the store's clock is the record joined with the
        // last entry's end (`Storage.formatVersion`).
        let encodedEntry = DeltaInterval.encodedBytes(from: clock, to: next, timeMicroseconds: now, working: objects) {
            object, state in step.batch.put(state, forKey: object.key.bytes, in: .objects)
        }
        step.batch.putLogEntry(encodedEntry, index: entry.index)
        step.change.clock = next
        step.change.appendedEntry = entry
        step.change.changedWorkingObjects = objects
        step.change.newTransactions = 1
        return step
    }

    // MARK: Receiving

    /// Plans what a message from a peer changes. Malformed bytes are counted and dropped;
    /// a storage failure while planning is noted and the sender resends after its timeout.
    func receive(_ bytes: [UInt8], nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader) -> Step {
        counters.messagesReceived += 1
        var step = Step(.message, at: id)
        // An interval this replica already has is acknowledged without decoding its objects.
        // A header that fails to decode falls through to the full decode, which counts it.
        if case .success(let header) = Result(catching: { () throws(CodecError) in try Message.Header(decoding: bytes) }
        ),
            let to = header.intervalTo, clock.dominates(to),
            header.envelope.sender != id, peers[header.envelope.sender] != nil
        {
            noteArrival(header.envelope, nowMicroseconds: now)
            counters.intervalsDuplicate += 1
            step.change.replies = [header.envelope.sender]
            step.change.wakesNow = true
            return step
        }
        let message: Message
        do {
            message = try Message(decoding: bytes)
        } catch {
            counters.messagesUndecodable += 1
            return step
        }
        guard message.sender != id else { return step }
        switch noteArrival(message.envelope, nowMicroseconds: now) {
        case .notMember:
            return step
        case .earlierIncarnation:
            // A delayed message of an earlier incarnation may carry transactions that
            // incarnation lost in a power loss and whose dots the new one may reuse: only the
            // current incarnation's data is taken (what it still has, it sends again).
            counters.messagesFromEarlierIncarnations += 1
            return step
        case .current, .newIncarnation:
            break
        }
        step.change.wakesNow = true
        var nextClock = clock
        var receivedState = bootstrap.receivedState
        do {
            switch message.payload {
            case .clock:
                break
            case .interval(let interval):
                step.purpose = .interval
                try planReceive(
                    interval, from: message.envelope, into: &step, clock: &nextClock, nowMicroseconds: now,
                    reading: store)
                step.change.replies = [message.sender]
            case .state(let objects):
                step.purpose = .state
                try planState(
                    objects, reported: message.clock, into: &step, clock: &nextClock, nowMicroseconds: now,
                    reading: store)
                receivedState = true
                step.change.replies = [message.sender]
            case .encodedState:
                // Decoding a message always gives `.state`.
                throw ConcordError(.corrupted, "a state from replica \(message.sender) was handed over undecoded")
            }
        } catch {
            noteFailure(error)
            var failed = Step(step.purpose, at: id)  // nothing to write; retry at the next tick
            failed.change.wakesNow = true
            return failed
        }
        planBootstrapFinish(&step, clock: nextClock, receivedState: receivedState)
        return step
    }

    /// Takes in what a peer's message says about it: its report, and its echo of this
    /// incarnation.
    @discardableResult
    private func noteArrival(_ envelope: Envelope, nowMicroseconds now: UInt64) -> PeerTable.ReportOutcome {
        let outcome = peers.noteReport(envelope, nowMicroseconds: now)
        if outcome == .newIncarnation { buffer.discard(from: envelope.sender, before: envelope.incarnation) }
        if outcome != .notMember, envelope.receiverIncarnation == incarnation {
            peers.noteEcho(from: envelope.sender, bootstrapping: envelope.senderBootstrapping)
        }
        return outcome
    }

    /// Plans applying `interval` (buffering it when its dependencies are missing) and then
    /// every buffered interval that becomes ready, all in the one batch.
    private func planReceive(
        _ interval: DeltaInterval, from envelope: Envelope, into step: inout Step, clock next: inout VectorClock,
        nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader
    ) throws(ConcordError) {
        if next.dominates(interval.to) {
            counters.intervalsDuplicate += 1
            return
        }
        guard next.dominates(interval.from) else {
            switch buffer.hold(interval, from: envelope.sender, incarnation: envelope.incarnation) {
            case .buffered: counters.intervalsBuffered += 1
            case .full: counters.intervalsDroppedBufferFull += 1
            case .alreadyWaiting: break
            }
            return
        }
        var states: [ObjectDelta] = []
        try join(interval, into: &states, step: &step, clock: &next, nowMicroseconds: now, reading: store)
        // Applying may have satisfied buffered intervals.
        while let ready = buffer.takeReady(at: next) {
            if next.dominates(ready.to) {
                counters.intervalsDuplicate += 1
            } else {
                try join(ready, into: &states, step: &step, clock: &next, nowMicroseconds: now, reading: store)
            }
        }
        step.batch = StorageBatch(capacity: states.count + step.batch.writes.count + 2, appending: step.batch)
        for object in states { step.batch.put(object.state.serialized(), forKey: object.key.bytes, in: .objects) }
        step.batch.put(next.encodedBytes(), forKey: Storage.MetaKey.clock, in: .meta)
        step.change.clock = next
        step.change.changedObjects = states.map(\.key)
    }

    /// Joins a causally ready interval into `states` (sorted by key) and logs it for
    /// forwarding.
    private func join(
        _ interval: DeltaInterval, into states: inout [ObjectDelta], step: inout Step,
        clock next: inout VectorClock, nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader
    ) throws(ConcordError) {
        assert(
            next.dominates(interval.from), "interval \(interval.from)…\(interval.to) applied before its dependencies")
        var conflicts = FoundConflicts(
            knowledge: JoinKnowledge(localClock: next, incomingClock: interval.to), nowMicroseconds: now,
            bound: configuration.conflictRecordBound)
        states = try Self.join(interval.objects, into: states, reading: store, conflicts: &conflicts)
        conflicts.add(to: &step.batch)
        next.merge(interval.to)
        var logged = interval
        logged.timeMicroseconds = now
        let entry = ReplicationLog.Entry(
            index: log.nextIndex + UInt64(step.change.appendedCount), to: interval.to, timeMicroseconds: now)
        step.batch.putLogEntry(logged.encodedBytes(), index: entry.index)
        step.change.appended.append(entry)
        step.change.intervalsApplied += 1
        step.change.newTransactions += 1
    }

    /// Joins `deltas` into `base`, both sorted by key (as intervals and states hold their
    /// objects), reading in one snapshot the objects of `deltas` that `base` lacks. Returns
    /// the joined states sorted by key: a merge of two sorted lists, no hashing, and puts in
    /// key order, which LMDB takes fastest. Adds the conflicts each join shows to `conflicts`.
    /// `baseHoldsEveryStored`: the caller already read every stored object of `deltas` into
    /// `base`, so the others are new and are not read again.
    private static func join(
        _ deltas: [ObjectDelta], into base: [ObjectDelta], reading store: some ReplicaStoreReader,
        baseHoldsEveryStored: Bool = false, conflicts: inout FoundConflicts
    ) throws(ConcordError) -> [ObjectDelta] {
        var missing: [ObjectKey] = []
        var position = 0
        for delta in deltas {
            while position < base.count && base[position].key < delta.key { position += 1 }
            if position == base.count || base[position].key != delta.key { missing.append(delta.key) }
        }
        let stored =
            missing.isEmpty || baseHoldsEveryStored
            ? [(any CRDT)?](repeating: nil, count: missing.count) : try store.objects(missing)
        var joined: [ObjectDelta] = []
        joined.reserveCapacity(base.count + missing.count)
        var (baseIndex, storedIndex) = (0, 0)
        for delta in deltas {
            while baseIndex < base.count && base[baseIndex].key < delta.key {
                joined.append(base[baseIndex])
                baseIndex += 1
            }
            var existing: (any CRDT)?
            if baseIndex < base.count && base[baseIndex].key == delta.key {
                existing = base[baseIndex].state
                baseIndex += 1
            } else {
                existing = stored[storedIndex]
                storedIndex += 1
            }
            guard var state = existing else {
                conflicts.detect(in: nil, joining: delta)
                joined.append(delta)
                continue
            }
            existing = nil  // the join below mutates the only reference
            conflicts.detect(in: state, joining: delta)
            do {
                try state.join(erased: delta.state)
            } catch {
                throw ConcordError(.corrupted, "\(delta.key): \(error)")
            }
            joined.append(ObjectDelta(key: delta.key, state: state))
        }
        joined.append(contentsOf: base[baseIndex...])
        return joined
    }

    /// Plans joining a peer's full state, as of its clock `reported`.
    private func planState(
        _ objects: [ObjectDelta], reported: VectorClock, into step: inout Step, clock next: inout VectorClock,
        nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader
    ) throws(ConcordError) {
        var conflicts = FoundConflicts(
            knowledge: JoinKnowledge(localClock: next, incomingClock: reported), nowMicroseconds: now,
            bound: configuration.conflictRecordBound)
        // Objects are joined without being decoded where that is possible. One the store
        // holds byte for byte as it came changes nothing (a state passed on by a third
        // replica that this one already heard from, a state sent again); one whose type can
        // join encoded states (`CRDT.joinEncoded`) keeps the stored bytes or takes the
        // incoming ones. The rest are decoded and joined.
        let stored = try store.storedStates(objects.map(\.key))
        var types = RegisteredTypes()
        var changed: [ObjectDelta] = []
        var base: [ObjectDelta] = []
        var taken: [(key: ObjectKey, bytes: [UInt8])] = []
        changed.reserveCapacity(objects.count)
        for (object, bytes) in zip(objects, stored) {
            if let bytes {
                if let incoming = object.encodedState, let body = types.state(in: bytes, key: object.key) {
                    if body == incoming { continue }
                    if let join = types.type(for: object.key.type)?.joinEncoded(
                        body, incoming, knowledge: conflicts.knowledge)
                    {
                        if let kind = join.conflict { conflicts.note(kind, joining: object, into: bytes) }
                        if join.takesIncoming {
                            taken.append((object.key, Array(bytes[..<body.startIndex]) + incoming))
                        }
                        continue
                    }
                }
                base.append(ObjectDelta(key: object.key, state: try Storage.decodeObject(object.key, bytes)))
            }
            changed.append(object)
        }
        let states = try Self.join(
            changed, into: base, reading: store, baseHoldsEveryStored: true, conflicts: &conflicts)
        conflicts.add(to: &step.batch)
        let grew = !next.dominates(reported)
        next.merge(reported)
        let floor = log.floor.merging(reported)
        step.batch = StorageBatch(
            capacity: states.count + taken.count + step.batch.writes.count + 2, appending: step.batch)
        for object in states { step.batch.put(object.state.serialized(), forKey: object.key.bytes, in: .objects) }
        for (key, bytes) in taken { step.batch.put(bytes, forKey: key.bytes, in: .objects) }
        step.batch.put(next.encodedBytes(), forKey: Storage.MetaKey.clock, in: .meta)
        step.batch.put(floor.encodedBytes(), forKey: Storage.MetaKey.logFloor, in: .meta)
        step.change.clock = next
        step.change.raisedFloor = reported
        step.change.receivedState = true
        step.change.stateApplied = true
        step.change.changedObjects = (states.map(\.key) + taken.map(\.key)).sorted()
        if grew { step.change.newTransactions += 1 }
    }

    // MARK: Timers

    /// The anti-entropy round's first half: compaction and log collection. Its `finish`
    /// then sends each reachable peer what it lacks. A stale timer (a newer one is
    /// scheduled) does nothing, unless `forced`: an operator's "collect garbage now".
    func tick(nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader, forced: Bool = false) -> Step {
        var step = Step(.collection, at: id)
        if !forced, let scheduled = scheduledTickMicroseconds, scheduled > now { return step }
        scheduledTickMicroseconds = nil
        pendingTransactions = 0
        pendingSinceMicroseconds = nil
        step.change.shipsToPeers = true
        do {
            try planCompaction(into: &step, reading: store)
        } catch {
            noteFailure(error)
            step.batch = StorageBatch()
            step.change.compaction = nil
        }
        if let collection = log.collection(
            stable: peers.stableClock(own: clock), bound: configuration.logBound, clock: clock)
        {
            for index in collection.doomed { step.batch.delete(Storage.logKey(index), in: .log) }
            // The entries deleted may hold the clock's latest local commits (see `commit`).
            step.batch.put(clock.encodedBytes(), forKey: Storage.MetaKey.clock, in: .meta)
            step.batch.put(collection.floor.encodedBytes(), forKey: Storage.MetaKey.logFloor, in: .meta)
            step.batch.put(Storage.encodePeers(peers.persisted), forKey: Storage.MetaKey.peers, in: .meta)
            step.change.collection = collection
        }
        return step
    }

    /// Plans compacting the causal metadata of changed objects (remove-wins markers) when
    /// the `Compactor` says it is due.
    private func planCompaction(into step: inout Step, reading store: some ReplicaStoreReader) throws(ConcordError) {
        guard compactor.isDue(clock: clock, bootstrapping: isBootstrapping, peers: peers, epoch: epoch) else { return }
        var candidates: [ObjectDelta] = []
        if compactor.compactsEveryObject {
            candidates = try store.allObjects { compactor.compacts($0.type) }
        } else {
            let keys = compactor.changedObjects.sorted()
            for (key, state) in zip(keys, try store.objects(keys)) {
                if let state { candidates.append(ObjectDelta(key: key, state: state)) }
            }
        }
        var compacted: UInt64 = 0
        for candidate in candidates {
            let before = candidate.state.serialized()
            var state = candidate.state
            state.compactObserved()
            let after = state.serialized()
            guard after != before else { continue }
            step.batch.put(after, forKey: candidate.key.bytes, in: .objects)
            compacted += 1
        }
        step.change.compaction = (clock, compacted)
    }

    // MARK: Finishing a step

    /// Takes the memory change of `step` if its batch committed (`result` is success), and
    /// returns what to send and when to wake. On a failed commit nothing changes but the
    /// failure counters; a tick still ships what it can, and the replica retries later.
    func finish(
        _ step: Step, result: Result<Void, ConcordError>, nowMicroseconds now: UInt64,
        reading store: some ReplicaStoreReader, isReachable: (ReplicaID) -> Bool
    ) -> Output {
        var output = Output()
        let change = step.change
        switch result {
        case .success:
            take(change, nowMicroseconds: now, output: &output)
            for peer in change.replies { send(.clock, to: peer, output: &output) }
        case .failure(let error):
            noteFailure(error)
        }
        if change.announces {
            for member in peers.members { send(.clock, to: member, output: &output) }
        }
        if change.wakesNow { schedule(at: now, output: &output) }
        if change.shipsToPeers { ship(nowMicroseconds: now, reading: store, isReachable: isReachable, output: &output) }
        return output
    }

    private func take(_ change: Change, nowMicroseconds now: UInt64, output: inout Output) {
        if let next = change.clock {
            assert(next.dominates(clock), "replica \(id)'s clock would move back from \(clock) to \(next)")
            clock = next
        }
        if let entry = change.appendedEntry { log.append(entry) }
        for entry in change.appended { log.append(entry) }
        if let floor = change.raisedFloor { log.raiseFloor(to: floor) }
        if let collection = change.collection {
            log.remove(collection)
            counters.logEntriesCollected += UInt64(collection.stableCount)
            counters.logEntriesForced += UInt64(collection.doomed.count - collection.stableCount)
        }
        compactor.noteChanged(change.changedObjects)
        compactor.noteChanged(change.changedWorkingObjects.lazy.map(\.key))
        if let compaction = change.compaction {
            compactor.noteCompacted(at: compaction.at)
            counters.compactions += 1
            counters.objectsCompacted += compaction.objects
        }
        if change.receivedState, case .waiting = bootstrap { bootstrap = .waiting(receivedState: true) }
        if change.finishesBootstrap {
            bootstrap = .done
            recoversFromPowerLoss = false
        }
        counters.intervalsApplied += change.intervalsApplied
        if change.stateApplied { counters.statesApplied += 1 }
        // Only remote data can cover what waits in the buffer (a local commit adds a dot of
        // this replica's own, which no buffered interval of a peer's can reach).
        if change.intervalsApplied > 0 || change.stateApplied { buffer.discard(coveredBy: clock) }
        for _ in 0..<change.newTransactions { notePending(nowMicroseconds: now, output: &output) }
        #if CONCORD_INVARIANTS
            checkInvariants()
        #endif
    }

    private func notePending(nowMicroseconds now: UInt64, output: inout Output) {
        pendingTransactions += 1
        if pendingSinceMicroseconds == nil { pendingSinceMicroseconds = now }
        if pendingTransactions >= configuration.deltaIntervalTransactions {
            schedule(at: now, output: &output)
        } else {
            schedule(at: (pendingSinceMicroseconds ?? now) + configuration.deltaIntervalMicroseconds, output: &output)
        }
    }

    private func schedule(at time: UInt64, output: inout Output) {
        if let scheduled = scheduledTickMicroseconds, scheduled <= time { return }
        scheduledTickMicroseconds = time
        output.wakeAtMicroseconds = min(output.wakeAtMicroseconds ?? time, time)
    }

    func noteFailure(_ error: any Error) {
        counters.failures += 1
        lastFailure = "\(error)"
    }

    // MARK: Sending

    private func send(_ payload: Message.Payload, to peer: ReplicaID, wantsState: Bool? = nil, output: inout Output) {
        var message = Message(
            sender: id, incarnation: incarnation, clock: clock,
            wantsState: wantsState ?? bootstrap.wantsState(from: peer, replica: id, clock: clock, peers: peers),
            payload: payload)
        message.envelope.receiverIncarnation = peers[peer]?.incarnation ?? 0
        message.envelope.epoch = epoch
        message.envelope.wantsEcho = isBootstrapping && !peers.knownBy.contains(peer)
        message.envelope.senderBootstrapping = isBootstrapping
        let bytes = message.encoded()
        counters.messagesSent += 1
        counters.bytesSent += UInt64(bytes.count)
        output.messages.append((peer, bytes))
    }

    /// The anti-entropy round's second half: send each reachable peer what it lacks (an
    /// interval from what it has, or a full state when the log no longer reaches back),
    /// resending after the retransmit timeout. Reschedules itself only while some reachable
    /// peer still lacks something, so a quiet or partitioned cluster goes idle.
    private func ship(
        nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader, isReachable: (ReplicaID) -> Bool,
        output: inout Output
    ) {
        var outstanding = false
        for peer in peers.members where isReachable(peer) {
            if isBootstrapping {
                // Ask for state only where it is still needed; elsewhere just announce this
                // incarnation until the peer echoes it.
                let needsState = bootstrap.wantsState(from: peer, replica: id, clock: clock, peers: peers)
                let echo = peers.modify(peer) { $0.takeEchoRequest() } ?? false
                if needsState || !peers.knownBy.contains(peer) || echo {
                    send(.clock, to: peer, wantsState: needsState, output: &output)
                }
                outstanding = true
                // A wiped or new replica has nothing to ship yet; one that recovers from a
                // power loss (or already got a state) ships what it has, so two that each
                // hold what the other lost do not wait for each other forever.
                guard bootstrap.receivedState else { continue }
            }
            let (echo, shipment) =
                peers.modify(peer) { state in
                    (
                        state.takeEchoRequest(),
                        state.nextShipment(
                            clock: clock, logFloor: log.floor, nowMicroseconds: now,
                            timeoutMicroseconds: retransmitTimeoutMicroseconds)
                    )
                } ?? (false, .upToDate)
            if echo { send(.clock, to: peer, output: &output) }
            switch shipment {
            case .upToDate:
                continue
            case .inFlight:
                break
            case .state:
                sendState(to: peer, reading: store, output: &output)
            case .interval(let from):
                if let interval = buildInterval(from: from, nowMicroseconds: now, reading: store) {
                    peers.modify(peer) { $0.noteShipped(through: interval.to) }
                    send(.interval(interval), to: peer, output: &output)
                }
            }
            outstanding = true
        }
        if outstanding { schedule(at: now + configuration.antiEntropyIntervalMicroseconds, output: &output) }
    }

    /// Joins, per object, every log entry the peer (which has `peerClock`) lacks, in log
    /// order, up to `maximumIntervalEntries` entries.
    private func buildInterval(
        from peerClock: VectorClock, nowMicroseconds now: UInt64, reading store: some ReplicaStoreReader
    ) -> DeltaInterval? {
        // The peer may know more than this replica; the interval speaks only of what this
        // replica has, so a receiver never learns a clock its sender did not reach.
        let base = peerClock.meeting(clock)
        let wanted = log.entries(missingFrom: base, limit: configuration.maximumIntervalEntries)
        guard !wanted.isEmpty else { return nil }
        if wanted.count == 1 {
            // One entry: nothing to join, so its objects go out as they were stored.
            do {
                guard var entry = try store.logEntryKeepingObjectsEncoded(wanted[0].index) else { return nil }
                entry.from = base
                entry.to = base.merging(entry.to)
                entry.timeMicroseconds = now
                assert(clock.dominates(entry.to), "an interval of replica \(id) reaches past its clock")
                return entry
            } catch {
                noteFailure(error)
                return nil
            }
        }
        var to = base
        var transactions: UInt64 = 0
        var joined: [ObjectKey: any CRDT] = [:]
        do {
            for interval in try store.logEntries(wanted.map(\.index)) {
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
        } catch {
            noteFailure(error)
            return nil
        }
        let objects = joined.keys.sorted().map { ObjectDelta(key: $0, state: joined[$0]!) }
        assert(clock.dominates(to), "an interval of replica \(id) reaches past its clock")
        return DeltaInterval(from: base, to: to, transactions: transactions, timeMicroseconds: now, objects: objects)
    }

    private func sendState(to peer: ReplicaID, reading store: some ReplicaStoreReader, output: inout Output) {
        let states: DeltaInterval.EncodedObjects
        do {
            states = try store.allObjectsEncoded()
        } catch {
            noteFailure(error)
            return
        }
        counters.statesSent += 1
        send(.encodedState(states), to: peer, output: &output)
    }

    // MARK: Invariants

    /// Checks that walk the core's structures (compiled with `-DCONCORD_INVARIANTS`).
    func checkInvariants() {
        precondition(clock.dominates(log.floor), "replica \(id): log floor \(log.floor) above its clock \(clock)")
        for entry in log.entries {
            precondition(clock.dominates(entry.to), "replica \(id): log entry \(entry.index) reaches past its clock")
        }
        for waiting in buffer.intervals {
            precondition(!clock.dominates(waiting.to), "replica \(id): buffered interval already covered")
        }
        for peer in peers.members {
            precondition(peers[peer] != nil, "replica \(id): member \(peer) has no peer state")
        }
    }
}

/// Counters a replica keeps about itself (reported by `status()`).
struct ReplicaCounters: Sendable, Equatable {
    var messagesSent: UInt64 = 0
    var messagesReceived: UInt64 = 0
    var messagesUndecodable: UInt64 = 0
    var messagesFromEarlierIncarnations: UInt64 = 0
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
