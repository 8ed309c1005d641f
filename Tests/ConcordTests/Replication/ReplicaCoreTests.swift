import Testing

@testable import Concord

/// A replica store in memory: what the core reads, and what a step's batch writes.
private final class MemoryStore: ReplicaStoreReader {
    var objects: [[UInt8]: [UInt8]] = [:]
    var log: [[UInt8]: [UInt8]] = [:]
    var meta: [[UInt8]: [UInt8]] = [:]
    /// The conflict records, in the order appended.
    var conflicts: [[UInt8]] = []
    /// The next commit fails (a full disk, say).
    var failNextCommit = false

    func commit(_ batch: StorageBatch) -> Result<Void, ConcordError> {
        if failNextCommit {
            failNextCommit = false
            return .failure(ConcordError(.storage, "the disk is full"))
        }
        for write in batch.writes {
            switch write {
            case .put(let table, let key, let value): self[table][key] = value
            case .putLogEntry(let index, let value): log[Storage.logKey(index)] = value
            case .delete(let table, let key): self[table][key] = nil
            case .appendConflict(let value): conflicts.append(value)
            }
        }
        return .success(())
    }

    subscript(table: StorageBatch.Table) -> [[UInt8]: [UInt8]] {
        get {
            switch table {
            case .objects: objects
            case .log: log
            case .meta: meta
            }
        }
        set {
            switch table {
            case .objects: objects = newValue
            case .log: log = newValue
            case .meta: meta = newValue
            }
        }
    }

    func objects(_ keys: [ObjectKey]) throws(ConcordError) -> [(any CRDT)?] {
        var states: [(any CRDT)?] = []
        for key in keys {
            guard let bytes = objects[key.bytes] else {
                states.append(nil)
                continue
            }
            states.append(try Storage.decodeObject(key, bytes))
        }
        return states
    }

    func logEntries(_ indexes: [UInt64]) throws(ConcordError) -> [DeltaInterval] {
        var entries: [DeltaInterval] = []
        for index in indexes {
            guard let bytes = log[Storage.logKey(index)] else { continue }
            do throws(CodecError) {
                entries.append(try DeltaInterval(decoding: bytes))
            } catch {
                throw .corrupted(error, "log entry \(index)")
            }
        }
        return entries
    }

    func allObjects() throws(ConcordError) -> [ObjectDelta] {
        var states: [ObjectDelta] = []
        for (keyBytes, bytes) in objects.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let key = try Storage.objectKey(keyBytes)
            states.append(ObjectDelta(key: key, state: try Storage.decodeObject(key, bytes)))
        }
        return states
    }
}

/// Cores wired together by hand: a fake transport that holds messages until the test
/// delivers them, and a clock the test moves.
private final class Harness {
    var cores: [ReplicaID: ReplicaCore] = [:]
    var stores: [ReplicaID: MemoryStore] = [:]
    var inFlight: [(from: ReplicaID, to: ReplicaID, bytes: [UInt8])] = []
    var wakeAt: [ReplicaID: UInt64] = [:]
    var now: UInt64 = 1_000_000
    var cut: Set<ReplicaID> = []

    init(replicas: [ReplicaID], configuration: Configuration = Configuration(deltaIntervalTransactions: 1)) {
        for id in replicas {
            let core = ReplicaCore(
                id: id, persisted: PersistedReplicaState(), bootstrapping: false, incarnationFloor: 0,
                configuration: configuration, retransmitTimeoutMicroseconds: 10_000)
            cores[id] = core
            stores[id] = MemoryStore()
            run(core.open(members: replicas, epoch: 0), at: id)
        }
    }

    @discardableResult
    func run(_ step: ReplicaCore.Step, at id: ReplicaID) -> Result<Void, ConcordError> {
        let store = stores[id]!
        let result = store.commit(step.batch)
        let output = cores[id]!.finish(step, result: result, nowMicroseconds: now, reading: store) { [cut] peer in
            !cut.contains(peer) && !cut.contains(id)
        }
        for message in output.messages { inFlight.append((id, message.to, message.bytes)) }
        if let time = output.wakeAtMicroseconds { wakeAt[id] = min(wakeAt[id] ?? time, time) }
        return result
    }

    func commit(_ operation: PNCounter.Operation, to key: Key<PNCounter>, at id: ReplicaID) throws {
        let core = cores[id]!
        var state = try stores[id]!.objects([key.object])[0] as? PNCounter ?? PNCounter()
        let delta = try state.apply(operation, context: UpdateContext(replica: id, timeMicroseconds: now))
        let step = try core.commit(
            WorkingSet([WorkingCopy(key: key.object, state: state, delta: delta)]), nowMicroseconds: now)
        try run(step, at: id).get()
    }

    func value(of key: Key<PNCounter>, at id: ReplicaID) throws -> Int64 {
        (try stores[id]!.objects([key.object])[0] as? PNCounter)?.value ?? 0
    }

    /// Delivers messages and fires due timers until nothing is left.
    func settle(maximumRounds: Int = 1_000) {
        for _ in 0..<maximumRounds {
            if !inFlight.isEmpty {
                let message = inFlight.removeFirst()
                guard !cut.contains(message.from), !cut.contains(message.to) else { continue }
                run(
                    cores[message.to]!.receive(message.bytes, nowMicroseconds: now, reading: stores[message.to]!),
                    at: message.to)
            } else if let (id, time) = wakeAt.min(by: { $0.value < $1.value }) {
                now = max(now, time)
                wakeAt[id] = nil
                run(cores[id]!.tick(nowMicroseconds: now, reading: stores[id]!), at: id)
            } else {
                return
            }
        }
    }
}

@Suite struct ReplicaCoreTests {
    let likes = Key<PNCounter>("likes")

    @Test func aLocalCommitReachesEveryPeerAndIsCollectedOnceStable() throws {
        let harness = Harness(replicas: [1, 2, 3])
        try harness.commit(.increment(5), to: likes, at: 1)
        #expect(harness.cores[1]!.clock == [1: 1])
        #expect(harness.cores[1]!.log.count == 1)
        harness.settle()
        for id: ReplicaID in [1, 2, 3] {
            #expect(try harness.value(of: likes, at: id) == 5)
            #expect(harness.cores[id]!.clock == [1: 1])
        }
        // Every member acknowledged the entry: the anti-entropy rounds collected it.
        #expect(harness.cores[1]!.log.count == 0)
        #expect(harness.cores[1]!.stableClock == [1: 1])
    }

    @Test func memoryChangesOnlyAfterTheCommitSucceeds() throws {
        let harness = Harness(replicas: [1, 2])
        try harness.commit(.increment(1), to: likes, at: 1)
        let core = harness.cores[1]!
        let before = (core.clock, core.log)
        harness.stores[1]!.failNextCommit = true
        #expect(throws: ConcordError.self) { try harness.commit(.increment(1), to: likes, at: 1) }
        #expect(core.clock == before.0)
        #expect(core.log == before.1)
        #expect(core.counters.failures == 1)
        // A remote interval whose commit fails is neither applied nor acknowledged.
        harness.stores[2]!.failNextCommit = true
        harness.settle()
        #expect(harness.cores[2]!.counters.failures == 1)
        // …and the retransmission after the timeout delivers it.
        #expect(harness.cores[2]!.clock == [1: 1])
        #expect(try harness.value(of: likes, at: 2) == 1)
    }

    @Test func aMessageFromANonMemberOrDamagedBytesChangesNothing() throws {
        let harness = Harness(replicas: [1, 2])
        let core = harness.cores[2]!
        let stranger = Message(sender: 7, incarnation: 1, clock: [7: 1], payload: .clock).encoded()
        harness.run(core.receive(stranger, nowMicroseconds: harness.now, reading: harness.stores[2]!), at: 2)
        harness.run(core.receive([2, 1, 0xFF], nowMicroseconds: harness.now, reading: harness.stores[2]!), at: 2)
        #expect(core.counters.messagesUndecodable == 1)
        #expect(core.clock == VectorClock())
        #expect(core.peers[7] == nil)
    }

    @Test func intervalsArrivingOutOfOrderWaitInTheBufferAndApplyTogether() throws {
        let harness = Harness(replicas: [1, 2])
        harness.settle()
        try harness.commit(.increment(1), to: likes, at: 1)
        harness.run(harness.cores[1]!.tick(nowMicroseconds: harness.now, reading: harness.stores[1]!), at: 1)
        try harness.commit(.increment(2), to: likes, at: 1)
        harness.run(harness.cores[1]!.tick(nowMicroseconds: harness.now, reading: harness.stores[1]!), at: 1)
        let intervals = harness.inFlight.filter { $0.to == 2 }
        #expect(intervals.count == 2)
        harness.inFlight.removeAll()
        let receiver = harness.cores[2]!
        // The second interval first: it waits for the first.
        harness.run(
            receiver.receive(intervals.last!.bytes, nowMicroseconds: harness.now, reading: harness.stores[2]!), at: 2)
        #expect(receiver.buffer.count == 1)
        #expect(receiver.clock == VectorClock())
        harness.run(
            receiver.receive(intervals.first!.bytes, nowMicroseconds: harness.now, reading: harness.stores[2]!), at: 2)
        #expect(receiver.buffer.count == 0)
        #expect(receiver.clock == [1: 2])
        #expect(try harness.value(of: likes, at: 2) == 3)
    }

    @Test func aPartitionedPeerCatchesUpAfterTheHeal() throws {
        let harness = Harness(replicas: [1, 2, 3])
        harness.cut = [3]
        for _ in 0..<5 { try harness.commit(.increment(1), to: likes, at: 1) }
        harness.settle()
        #expect(try harness.value(of: likes, at: 2) == 5)
        #expect(try harness.value(of: likes, at: 3) == 0)
        // r3 holds back collection: r1 keeps the entries it lacks.
        #expect(harness.cores[1]!.log.count == 5)
        harness.cut = []
        for id: ReplicaID in [1, 2, 3] { harness.wakeAt[id] = harness.now }
        harness.settle()
        #expect(try harness.value(of: likes, at: 3) == 5)
        #expect(harness.cores[1]!.log.count == 0)
        // The structure-walking checks of CONCORD_INVARIANTS hold (they trap otherwise).
        for core in harness.cores.values { core.checkInvariants() }
    }

    @Test func aBootstrappingReplicaWritesUnderItsWriterIdAndSaysWhatTypesThatNeedTheStateWaitFor() throws {
        let core = ReplicaCore(
            id: 2, persisted: PersistedReplicaState(), bootstrapping: true, incarnationFloor: 3,
            configuration: Configuration(), retransmitTimeoutMicroseconds: 10)
        _ = core.open(members: [1, 2], epoch: 0)
        #expect(core.incarnation == 4)
        let writer = try #require(core.writer)
        #expect(writer == ReplicaID(4 << 32 | 2) && writer.description == "r2.4")
        let step = try core.commit(
            WorkingSet([WorkingCopy(key: likes.object, state: PNCounter(), delta: PNCounter())]), nowMicroseconds: 0)
        // The object and the log entry; the clock is the entry's end (`Storage.formatVersion`).
        #expect(step.batch.writes.count == 2)
        let tags = Key<RWSet<String>>("tags")
        let error = try #require(throws: ConcordError.self) {
            try core.commit(
                WorkingSet([
                    WorkingCopy(key: likes.object, state: PNCounter(), delta: PNCounter()),
                    WorkingCopy(key: tags.object, state: RWSet<String>(), delta: RWSet<String>()),
                ]), nowMicroseconds: 0)
        }
        #expect(error.code == .bootstrapping)
        #expect(error.message.contains("RWSet<String>") && error.message.contains("a peer's full state"))
        #expect(core.refusal(of: BoundedCounter.self) != nil && core.refusal(of: GMap.self) != nil)
        for type: any CRDT.Type in [GCounter.self, PNCounter.self, AWSet<String>.self, LWWRegister<String>.self] {
            #expect(core.refusal(of: type) == nil, "\(type)")
        }
    }

    @Test func writerIdsNeedAMemberAndAnIncarnationOf32Bits() {
        #expect(ReplicaID(writerOf: 7, incarnation: 1) == ReplicaID(1 << 32 | 7))
        #expect(ReplicaID(writerOf: 7, incarnation: 0) == nil)
        #expect(ReplicaID(writerOf: 0, incarnation: 1) == nil)
        #expect(ReplicaID(writerOf: ReplicaID(1 << 32), incarnation: 1) == nil)
        #expect(ReplicaID(writerOf: 7, incarnation: 1 << 32) == nil)
        #expect(ReplicaID(7).description == "r7")
    }
}
