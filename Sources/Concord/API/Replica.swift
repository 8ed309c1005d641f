import Foundation
import LMDB
import Locking

/// One replica of a cluster: a durable copy of every object in its own LMDB environment.
///
/// Calls are synchronous, throwing and thread-safe. Reads see a committed snapshot and
/// never wait for writers (LMDB MVCC); local transactions at one replica are serialized.
/// A `Replica` handle stays valid across `Cluster.crash` and `restart`: while its replica
/// is down, calls throw `ConcordError.unavailable`.
public final class Replica: @unchecked Sendable, CustomStringConvertible, TransportEndpoint {
    /// The replica's id, unique in its cluster.
    public let id: ReplicaID
    let path: String
    let configuration: Configuration
    /// The only way to other replicas: messages out, timers, and (through `TransportEndpoint`)
    /// messages and timers in.
    let transport: any Transport
    /// Faults injected into this replica's commits (see `Cluster.storageFaults`).
    let storageFaults: StorageFaults?
    /// Guards `core` and `store`; signalled when the clock advances (for `read(_:after:)`).
    let condition = NSCondition()
    /// The replication state machine; the replica is its driver (see `run(_:on:_:nowMicroseconds:)`).
    var core: ReplicaCore?
    var store: Storage?
    /// The open core's store, for snapshot reads: they take this short lock instead of
    /// `condition`, which a local transaction holds through its commit, so reads never wait
    /// for writers and parallel readers do not queue behind each other for long. Set and
    /// cleared together with `core`.
    let readableStorage = Mutex<Storage?>(nil)
    /// The thread that runs a transaction's closure (0: none), so that a call on the same
    /// replica from inside it throws instead of waiting forever for the lock it holds.
    private let transactionThread = Atomic<UInt>(0)
    /// Whether a commit since the last flush could vanish in a power loss (guarded by
    /// `condition`).
    private var committedSinceSync = false
    /// Metrics and log (see `Observability`).
    let metrics: ReplicaMetrics
    /// Signs and checks messages when the cluster has a key (see `MessageAuthenticator`).
    let authenticator: MessageAuthenticator?
    /// Messages dropped because their MAC did not check.
    let messagesUnauthenticated = Atomic<UInt64>(0)
    /// The observations of this replica's values and commits (see `changes(of:)`).
    let observations = ObservationHub()
    /// Whether observations wait: the replica is wiped or new and has no peer's state yet,
    /// so its values would flicker empty. Set when the replica opens and when a state
    /// arrives.
    let observationsHeld = Atomic<Bool>(false)

    init(
        id: ReplicaID, path: String, configuration: Configuration, transport: any Transport,
        storageFaults: StorageFaults? = nil, observability: Observability = Observability()
    ) {
        self.id = id
        metrics = ReplicaMetrics(replica: id, observability: observability)
        authenticator = configuration.encryption.map(MessageAuthenticator.init)
        self.storageFaults = storageFaults
        self.path = path
        self.configuration = configuration
        self.transport = transport
    }

    /// `replica r<id>`.
    public var description: String { "replica \(id)" }

    // MARK: Lifecycle (driven by Cluster)

    /// Opens the replica's store and starts its core. `members` lists the whole cluster.
    func open(
        members: [ReplicaID], epoch: UInt64, bootstrapping: Bool, incarnationFloor: UInt64 = 0,
        bootIdentity: String = BootIdentity.current
    ) throws(ConcordError) {
        let storage = try Storage(path: path, replica: id, configuration: configuration, faults: storageFaults)
        let opened: ReplicaCore
        let step: ReplicaCore.Step
        let commit: Storage.Commit?
        do {
            let persisted = try storage.loadReplicaState(of: id)
            opened = ReplicaCore(
                id: id, persisted: persisted, bootstrapping: bootstrapping, incarnationFloor: incarnationFloor,
                configuration: configuration, retransmitTimeoutMicroseconds: transport.retransmitTimeoutMicroseconds,
                bootIdentity: bootIdentity)
            step = opened.open(members: members, epoch: epoch)
            commit = try storage.commit(step.batch, step.what)
            // The boot mark must reach the device before any later commit can be lost
            // with it (see `BootIdentity`).
            if configuration.durability != .full { try storage.sync("record the boot of replica \(id)") }
        } catch {
            storage.environment.close()
            throw error
        }
        condition.withLock {
            core = opened
            store = storage
            readableStorage.withLock { $0 = storage }
            transport.attach(self, as: id)
            metrics.lifecycle(
                up: true,
                opened.isBootstrapping
                    ? (opened.recoversFromPowerLoss
                        ? "opened; recovers what its last opening may have lost, writing under its writer id meanwhile"
                        : "opened empty; waits for a peer's state, writing under its writer id meanwhile")
                    : "opened", incarnation: opened.incarnation)
            finish(
                step, .success(()), committed: commit, on: opened, storage, nowMicroseconds: transport.nowMicroseconds)
        }
    }

    /// How the replica goes down.
    enum Shutdown {
        /// A clean close: the store records that it lost nothing.
        case clean
        /// A crash: memory is gone, the files are as the last commit left them.
        case crash
    }

    /// Closes the replica's store and drops everything it holds in memory.
    /// - Returns: whether a commit since the last flush remains (what a power loss of the
    ///   replica's machine could take; see `Cluster.crash(_:losingUnsyncedCommits:)`).
    @discardableResult
    func close(_ shutdown: Shutdown = .clean) -> Bool {
        let unsynced: Bool = condition.withLock {
            if shutdown == .clean, let core, let store {
                // Best effort: if the mark stays, the next opening recovers only when it
                // finds another boot, which a clean close in this boot does not make.
                run(core.close(), on: core, store, nowMicroseconds: transport.nowMicroseconds)
            }
            transport.detach(id)
            readableStorage.withLock { $0 = nil }
            // A crash keeps no promise: its waiting writers learn the store went down.
            if shutdown == .clean, let failure = store?.flushBeforeClosing() {
                metrics.logger.error(
                    "the last commits could not be flushed before closing", metadata: ["error": "\(failure)"])
            }
            store?.environment.close()
            if store != nil { metrics.lifecycle(up: false, shutdown == .clean ? "closed" : "crashed") }
            let unsynced = store.map { $0.flushes?.hasUnflushedCommits ?? committedSinceSync } ?? false
            store = nil
            core = nil
            committedSinceSync = false
            return unsynced
        }
        condition.broadcast()
        return unsynced
    }

    /// The incarnation of the open replica (0 while down).
    var incarnation: UInt64 { condition.withLock { core?.incarnation ?? 0 } }

    /// Whether the replica is open (not crashed, removed or closed).
    public var isRunning: Bool { condition.withLock { core != nil } }

    /// Whether the calling thread runs a transaction's closure on this replica (and so
    /// holds its lock).
    var isInsideTransaction: Bool { transactionThread.load(ordering: .relaxed) == currentThreadID() }

    /// Throws when the calling thread is inside a transaction's closure of this replica:
    /// the call would wait forever for the lock that transaction holds.
    func checkNotInsideTransaction(_ call: String) throws(ConcordError) {
        guard !isInsideTransaction else {
            throw ConcordError(
                .reentrantCall,
                "\(call) on \(self) was called from inside a transaction's closure on the same replica; "
                    + "use the transaction's own update and read instead, or call it after the closure returns")
        }
    }

    /// Runs `body` on the open core under the replica's lock; `call` names the caller in
    /// the error thrown from inside a transaction.
    func withCore<R>(_ call: String, _ body: (ReplicaCore) throws(ConcordError) -> R) throws(ConcordError) -> R {
        try checkNotInsideTransaction(call)
        condition.lock()
        defer { condition.unlock() }
        guard let core else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        return try body(core)
    }

    /// Runs `body` on the core if the replica is running (a crashed one learns the
    /// membership when it restarts).
    func ifRunning(_ body: (ReplicaCore) -> ReplicaCore.Step) {
        condition.withLock {
            if let core, let store { run(body(core), on: core, store, nowMicroseconds: transport.nowMicroseconds) }
        }
        condition.broadcast()
    }

    // MARK: Driving the core

    /// Commits a step's batch, lets the core take it, and performs its output. Called with
    /// the lock held.
    func run(_ step: ReplicaCore.Step, on core: ReplicaCore, _ store: Storage, nowMicroseconds now: UInt64) {
        // The words name the purpose and the replica, not the step: an autoclosure over the
        // step copied it (a dozen of its arrays retained and released) on every commit.
        let (purpose, replica) = (step.purpose, step.replica)
        let result = Result { () throws(ConcordError) in
            try store.commit(step.batch, ReplicaCore.Step.describe(purpose, at: replica))
        }
        if case .success(let commit?) = result {
            committedSinceSync = true
            metrics.detected(step.batch.conflictKinds)
            finish(step, .success(()), committed: commit, on: core, store, nowMicroseconds: now)
        } else {
            finish(step, result.map { _ in () }, committed: nil, on: core, store, nowMicroseconds: now)
        }
    }

    /// Lets the core take a committed (or failed) step at `now` — the time the step was
    /// planned at — and performs its output. `commit` is the step's commit (nil when it
    /// failed, or wrote nothing). Called with the lock held.
    private func finish(
        _ step: ReplicaCore.Step, _ result: Result<Void, ConcordError>, committed commit: Storage.Commit?,
        on core: ReplicaCore, _ store: Storage, nowMicroseconds now: UInt64
    ) {
        let output = core.finish(step, result: result, nowMicroseconds: now, reading: store) {
            [transport, id] peer in transport.canReach(from: id, to: peer)
        }
        if case .success = result { publishToObservers(step, committed: commit, core: core, store) }
        for message in output.messages {
            transport.send(authenticator?.signed(message.bytes) ?? message.bytes, from: id, to: message.to)
        }
        if let time = output.wakeAtMicroseconds { transport.scheduleTick(for: id, at: time) }
        metrics.publish(core.counters, lastFailure: core.lastFailure)
        if step.purpose == .collection && metrics.isEnabled {
            let status = core.status(nowMicroseconds: now) { [transport, id] peer in
                transport.canReach(from: id, to: peer)
            }
            metrics.sample(status, mapUsedBytes: store.mapUsedBytes(), configuration: configuration)
        }
    }

    // MARK: Reading

    /// Reads the value of `key` from this replica's latest committed snapshot.
    ///
    /// A key never written reads as the type's initial value. No network is involved.
    /// - Throws: `ConcordError.unavailable` while the replica is down; `.corrupted` if the
    ///   stored bytes do not decode; `.storage` on an LMDB failure.
    /// - Complexity: one LMDB lookup and one decode of the object's state.
    public func read<T: CRDT>(_ key: Key<T>) throws(ConcordError) -> T.Value {
        let start = metrics.start()
        do {
            let value = try state(of: key).value
            metrics.succeeded(.read, type: T.self, startedAt: start)
            return value
        } catch {
            metrics.failed(.read, error, startedAt: start)
            throw error
        }
    }

    /// Reads `key` once this replica has seen `clock` (typically a clock returned by a
    /// commit at another replica), giving read-your-writes across replicas.
    ///
    /// - Parameter timeoutMicroseconds: how long to wait (default
    ///   `Configuration.readTimeoutMicroseconds`).
    /// - Throws: `ConcordError.timeout` if the clock is not reached in time (in manual mode
    ///   someone must call `Cluster.step()`/`synchronize()` for it to advance).
    public func read<T: CRDT>(
        _ key: Key<T>, after clock: VectorClock, timeoutMicroseconds: UInt64? = nil
    ) throws(ConcordError) -> T.Value {
        try wait(for: clock, timeoutMicroseconds: timeoutMicroseconds ?? configuration.readTimeoutMicroseconds)
        return try read(key)
    }

    /// Blocks until this replica's clock dominates `clock`.
    /// - Throws: `ConcordError.timeout` after `timeoutMicroseconds`.
    public func wait(for clock: VectorClock, timeoutMicroseconds: UInt64) throws(ConcordError) {
        try checkNotInsideTransaction("wait(for:)")
        let deadline = Date(timeIntervalSinceNow: Double(timeoutMicroseconds) / 1_000_000)
        condition.lock()
        defer { condition.unlock() }
        while true {
            guard let core else { throw ConcordError(.unavailable, "\(self) is down") }
            if core.clock.dominates(clock) { return }
            if !condition.wait(until: deadline) {
                if let core = self.core, core.clock.dominates(clock) { return }
                throw ConcordError(
                    .timeout,
                    "\(self) has not seen \(clock) within \(timeoutMicroseconds) µs (it has \(self.core?.clock ?? VectorClock()))"
                )
            }
        }
    }

    /// The full CRDT state of `key` (for inspection, dumps and tests).
    /// - Throws: as `read(_:)`.
    /// - Complexity: one LMDB lookup in a pooled read transaction and one decode; it takes
    ///   neither the replica's transaction lock nor a copy of the stored bytes' owner.
    public func state<T: CRDT>(of key: Key<T>) throws(ConcordError) -> T {
        guard let storage = readableStorage.withLock({ $0 }) else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        let object = key.object
        do {
            return try storage.read("read \(object)") { txn -> T in
                try Self.load(object, in: storage, txn) ?? T()
            }
        } catch  where storage.environment.isClosed {
            // Closed between taking the store and reading it: the replica went down, or its
            // store was compacted and reopened (then read the new one).
            if let reopened = readableStorage.withLock({ $0 }), !reopened.environment.isClosed {
                return try state(of: key)
            }
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
    }

    /// Decodes the stored state of `object` straight from the map as a `T` (nil: never
    /// written). Decoding as the key's own type checks the stored type code, with no
    /// registry lookup and no existential.
    ///
    /// It takes the object's key rather than the `Key`: a caller's closure then captures one
    /// array, not the key's strings as well, and the object's key names a failure alike. A
    /// plain store's record is decoded in place by `Storage.objectState(_:as:_:)`, and a
    /// failure named after it returns.
    static func load<T: CRDT>(
        _ object: ObjectKey, in storage: Storage, _ txn: borrowing some ReadableTransaction & ~Copyable
    ) throws -> T? {
        switch try storage.objectState(object, as: T.self, txn) {
        case nil: return nil
        case .success(let state)?: return state
        case .failure(let error)?: throw ConcordError.corrupted(error, "the state of \(object)")
        }
    }

    /// This replica's vector clock: which transactions it has seen.
    /// - Throws: `ConcordError.unavailable` while down.
    public var clock: VectorClock {
        get throws(ConcordError) { try withCore("clock") { $0.clock } }
    }

    /// The id the next transaction here takes its dot under: this replica's own, or while a
    /// wiped, new or recovering replica catches up, the writer of its incarnation (see
    /// `ReplicaID`), which no earlier incarnation used. A commit's dot is `(writer,
    /// clock[writer])` in the clock the commit returns.
    /// - Throws: `ConcordError.unavailable` while down.
    public var writer: ReplicaID {
        get throws(ConcordError) { try withCore("writer") { $0.writer ?? $0.id } }
    }

    // MARK: Writing

    /// Performs one operation as an atomic local transaction and returns the commit's clock.
    ///
    /// - Throws: `ConcordError.operationRejected` when the CRDT refuses the operation
    ///   (nothing is written); `.bootstrapping` while a wiped, new or recovering replica
    ///   catches up, for types that need the complete state (`CRDT.operationsNeedCompleteState`:
    ///   bounded counters, remove-wins sets and maps; other types are written at once);
    ///   `.unavailable`, `.storage`, `.corrupted`.
    /// - Complexity: one LMDB write transaction (one fsync under `.full` durability).
    @discardableResult
    public func update<T: CRDT>(_ key: Key<T>, _ operation: T.Operation) throws(ConcordError) -> VectorClock {
        let start = metrics.start()
        do {
            let clock = try typedTransaction { (transaction) throws(ConcordError) in
                try transaction.update(key, operation)
            }
            metrics.succeeded(.update, type: T.self, startedAt: start)
            return clock
        } catch {
            metrics.failed(.update, error, startedAt: start)
            throw error
        }
    }

    /// Runs `body` as one atomic multi-key transaction and returns the commit's clock.
    ///
    /// The transaction reads its own writes; all its updates commit together in one LMDB
    /// write transaction with its log entry and the replica's clock, or — if `body` throws —
    /// none of them does. Remote replicas see all of it or none of it. Transactions at one
    /// replica are serialized; reads elsewhere never wait for them.
    /// - Throws: whatever `body` throws (nothing is written), or the errors of `update`.
    @discardableResult
    public func transaction(_ body: (Transaction) throws -> Void) throws -> VectorClock {
        let start = metrics.start()
        do {
            let clock = try runTransaction(body)
            metrics.succeeded(.transaction, type: Transaction.self, startedAt: start)
            return clock
        } catch {
            metrics.failed(.transaction, error, startedAt: start)
            throw error
        }
    }

    /// `transaction(_:)` without its metrics (`update` and `compareAndSwap` count as
    /// themselves). Under `.groupCommit` it returns once the commit is on the device,
    /// waiting for it without the replica's lock (see `Durability.groupCommit`).
    func runTransaction(_ body: (Transaction) throws -> Void) throws -> VectorClock {
        try checkNotInsideTransaction("transaction")
        let (clock, flush) = try commitTransaction(body)
        if let flush { try flush.store.waitUntilFlushed(flush.sequence) }
        return clock
    }

    /// Runs and commits a transaction under the replica's lock. Returns its clock and,
    /// under `.groupCommit` when it wrote something, the store and the commit's number to
    /// wait for.
    private func commitTransaction(
        _ body: (Transaction) throws -> Void
    ) throws -> (VectorClock, flush: (store: Storage, sequence: UInt64)?) {
        condition.lock()
        defer { condition.unlock() }
        guard let core, let store else {
            throw ConcordError(.unavailable, "\(self) is down (crashed, removed or closed); restart it first")
        }
        let now = transport.nowMicroseconds
        let transaction = Transaction(core: core, storage: store, time: now)
        transactionThread.store(currentThreadID(), ordering: .relaxed)
        defer {
            transactionThread.store(0, ordering: .relaxed)
            transaction.isOpen = false
            transaction.endHeldWrite()
            metrics.detected(transaction.recordedConflicts)
        }
        try body(transaction)
        let step = try core.commit(transaction.working, nowMicroseconds: now)
        // A failed commit changes nothing, in the store or in memory: the caller sees the error.
        // Not `step.what`: an autoclosure over the step copied it (see `run`).
        let purpose = step.purpose
        let commit = try store.commit(
            step.batch, ReplicaCore.Step.describe(purpose, at: id), in: &transaction.held)
        if commit != nil { committedSinceSync = true }
        finish(step, .success(()), committed: commit, on: core, store, nowMicroseconds: now)
        condition.broadcast()
        return (core.clock, commit?.flushSequence.map { (store, $0) })
    }

    /// Typed-throws variant used by `update`.
    private func typedTransaction(
        _ body: (Transaction) throws(ConcordError) -> Void
    ) throws(ConcordError) -> VectorClock {
        do {
            return try runTransaction { (transaction: Transaction) throws in try body(transaction) }
        } catch let error as ConcordError {
            throw error
        } catch {
            throw ConcordError(.operationRejected, "\(error)")
        }
    }

    // MARK: Replication (driven by the transport)

    /// Takes one message from a peer (`TransportEndpoint`).
    package func receive(_ bytes: [UInt8]) {
        metrics.received(bytes: bytes.count)
        var message = bytes
        if let authenticator {
            guard let verified = authenticator.verified(bytes) else {
                messagesUnauthenticated.add(1, ordering: .relaxed)
                metrics.unauthenticated(bytes: bytes.count)
                return
            }
            message = verified
        }
        condition.withLock {
            guard let core, let store else { return }
            let now = transport.nowMicroseconds
            run(core.receive(message, nowMicroseconds: now, reading: store), on: core, store, nowMicroseconds: now)
        }
        condition.broadcast()
    }

    /// Runs the anti-entropy round (`TransportEndpoint`).
    package func tick() {
        condition.withLock {
            guard let core, let store else { return }
            let now = transport.nowMicroseconds
            run(core.tick(nowMicroseconds: now, reading: store), on: core, store, nowMicroseconds: now)
        }
    }
}

#if canImport(Glibc)
    import Glibc
    /// An id of the calling thread, unique among live threads.
    func currentThreadID() -> UInt { UInt(pthread_self()) }
#elseif canImport(Darwin)
    import Darwin
    /// An id of the calling thread, unique among live threads.
    func currentThreadID() -> UInt { UInt(bitPattern: pthread_self()) }
#endif

/// An open local transaction: updates and reads of any number of keys, committed together.
///
/// Only valid inside the closure passed to `Replica.transaction`; using it afterwards throws.
public final class Transaction {
    let storage: Storage
    /// The replica's core, which says which updates must wait while it bootstraps (the
    /// transaction runs under the replica's lock).
    let core: ReplicaCore
    let context: UpdateContext
    // Used only by the thread running the transaction, under the replica's lock: the
    // runtime's exclusivity checks are left out (see `ReplicaCore`).
    @exclusivity(unchecked) var working = WorkingSet()
    /// States this transaction has read but not updated, so that a read followed by an
    /// update (compare-and-swap) looks the object up once. Nothing else can change them
    /// meanwhile: the transaction holds the replica's lock, which remote applies take too.
    @exclusivity(unchecked) var readStates: [ObjectKey: any CRDT] = [:]
    @exclusivity(unchecked) var isOpen = true
    /// The kinds of the conflicts recorded while it ran (refused operations), for metrics.
    @exclusivity(unchecked) var recordedConflicts: [ConflictKind] = []
    /// The LMDB write transaction the objects are read through and the commit is written
    /// into, begun at the first read of the store; nil before it and once ended (see
    /// `endHeldWrite`).
    @exclusivity(unchecked) var held: HeldWrite?

    init(core: ReplicaCore, storage: Storage, time: UInt64) {
        self.storage = storage
        self.core = core
        // While bootstrapping without a writer id every update is refused (`refusal(of:)`).
        self.context = UpdateContext(replica: core.writer ?? core.id, timeMicroseconds: time)
    }

    private func checkOpen() throws(ConcordError) {
        guard isOpen else {
            throw ConcordError(.invalidArgument, "a transaction was used after its closure returned")
        }
    }

    /// The state of `key` as this transaction sees it: its working copy, or else `stored`.
    private func current<T: CRDT>(_ key: Key<T>, remember: Bool) throws(ConcordError) -> T {
        if let copy = try workingCopy(of: key) { return copy.state }
        return try stored(key, remember: remember)
    }

    /// The state of `key` before this transaction updated it: one it read before, or the
    /// stored state, read through the held write (remembered if `remember`).
    private func stored<T: CRDT>(_ key: Key<T>, remember: Bool = false) throws(ConcordError) -> T {
        if !readStates.isEmpty, let read = readStates[key.object] {
            guard let state = read as? T else {
                throw ConcordError(.typeMismatch, "\(key) is held as \(type(of: read)) in this transaction")
            }
            return state
        }
        let object = key.object
        let held: HeldWrite
        if let open = self.held { held = open } else { held = try beginHeldWrite() }
        let state = try storage.read("read \(object)", in: held) { txn -> T in
            try Replica.load(object, in: storage, txn) ?? T()
        }
        if remember { readStates[key.object] = state }
        return state
    }

    /// The transaction's working copy of `key`, if it updated it.
    /// - Throws: `ConcordError.typeMismatch` when the key is held as another type.
    private func workingCopy<T: CRDT>(of key: Key<T>) throws(ConcordError) -> WorkingCopy<T>? {
        guard let object = working[key.object] else { return nil }
        guard let copy = object as? WorkingCopy<T> else {
            throw ConcordError(.typeMismatch, "\(key) is held as \(object.stateType) in this transaction")
        }
        return copy
    }

    /// Begins the write transaction this transaction reads through and commits into. No
    /// other writer of the store can run meanwhile (the replica's lock is held), so what is
    /// read stays current even when the held write is ended early (`endHeldWrite`).
    private func beginHeldWrite() throws(ConcordError) -> HeldWrite {
        let held = try storage.beginWrite("begin a transaction at replica \(core.id)")
        self.held = held
        return held
    }

    /// Aborts the held write transaction, if any; the next read of the store begins another.
    /// Called when the transaction ends without committing into it, and before a write of
    /// its own (a refusal recorded as a conflict).
    func endHeldWrite() {
        if let held = held.take() { held.abort() }
    }

    /// Applies `operation` to `key` within the transaction.
    /// - Throws: `ConcordError.operationRejected` when the CRDT refuses it, `.bootstrapping`
    ///   when the type needs the complete state and the replica is catching up (the
    ///   transaction is unchanged and may go on).
    public func update<T: CRDT>(_ key: Key<T>, _ operation: T.Operation) throws(ConcordError) {
        try checkOpen()
        if let refusal = core.refusal(of: T.self) { throw refusal }
        // One lookup of the key: a working copy is updated in place, a new one added once.
        let copy = try workingCopy(of: key)
        var state: T
        if let copy {
            state = copy.state
        } else {
            state = try stored(key)
        }
        let delta: T
        do {
            delta = try state.apply(operation, context: context)
        } catch {
            throw ConcordError(
                .operationRejected, "\(key): \(error.message)",
                underlying: recordRefusal(of: operation, on: key.object, error: error) ?? "\(error)")
        }
        if let copy {
            copy.update(state: state, delta: delta)
        } else {
            working.put(WorkingCopy(key: key.object, state: state, delta: delta))
        }
    }

    /// Reads `key` as this transaction sees it (its own writes included).
    public func read<T: CRDT>(_ key: Key<T>) throws(ConcordError) -> T.Value {
        try checkOpen()
        return try current(key, remember: true).value
    }

    /// The full state of `key` as this transaction sees it.
    public func state<T: CRDT>(of key: Key<T>) throws(ConcordError) -> T {
        try checkOpen()
        return try current(key, remember: true)
    }
}
