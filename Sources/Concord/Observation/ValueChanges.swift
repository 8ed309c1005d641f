import LMDB
import Locking

/// Reads an observed value from one committed snapshot of a replica's store.
typealias SnapshotRead<Value> = @Sendable (Storage, borrowing ReadTransaction) throws(ConcordError) -> Value

/// One observation of a value: the registered subscriber behind a `ValueChanges` iterator.
///
/// A commit only raises the signals of the objects it wrote (one atomic increment each, shared
/// by every observation of the object; under the replica's lock, no user code, no waiting);
/// the consumer then reads the value itself, from the latest committed snapshot, when it
/// asks for the next change. So a slow consumer costs the writers nothing and holds a count
/// per watched object, never a queue; intermediate states are coalesced; and every delivery
/// is a committed state, read with the clock of the same snapshot.
final class ValueObserver<Value: Equatable & Sendable>: ObservationSubscriber, @unchecked Sendable {
    let watchedObjects: [ObjectKey]?
    private let replica: Replica
    private let read: SnapshotRead<Value>
    private let watch: ObservationWatch
    /// The last delivery (guarded by `consumer`: one consumer at a time).
    private let consumer = Mutex<(value: Value, clock: VectorClock)?>(nil)

    init(replica: Replica, objects: [ObjectKey], read: @escaping SnapshotRead<Value>) {
        self.replica = replica
        self.watchedObjects = objects
        self.read = read
        watch = ObservationWatch(
            replica.observations.signals(for: objects),
            spinningMicroseconds: replica.configuration.observationSpinMicroseconds)
    }

    func end(_ error: ConcordError?) { watch.end(error.map { .failed($0) } ?? .finished) }

    /// The next change if one is ready, without waiting: nil when nothing changed since the
    /// last delivery, the replica is down, or a wiped replica still waits for its state.
    /// - Throws: the error that ended the observation (the replica was removed), or a read's
    ///   failure (`.corrupted`, `.storage`), which ends it too.
    func poll() throws(ConcordError) -> Change<Value>? {
        try consumer.withLock { (delivered) throws(ConcordError) -> Change<Value>? in
            while let origin = watch.take() {
                let snapshot: (value: Value, clock: VectorClock)?
                do throws(ConcordError) {
                    snapshot = try replica.observedSnapshot(read)
                } catch {
                    watch.end(.failed(error))
                    throw error
                }
                guard let snapshot else {
                    // Down for good (removed) ends the observation now; down for a while
                    // (a crash, a wipe) waits for the reopening.
                    if case .failed(let error) = watch.ending { throw error }
                    return nil
                }
                // The first delivery is the initial value, whatever happened before it.
                guard let last = delivered else {
                    delivered = snapshot
                    return Change(value: snapshot.value, clock: snapshot.clock, origin: .initial)
                }
                if last.value == snapshot.value { continue }
                delivered = snapshot
                return Change(
                    value: snapshot.value, clock: snapshot.clock, origin: origin,
                    lostTransactions: !snapshot.clock.dominates(last.clock))
            }
            if case .failed(let error) = watch.ending { throw error }
            return nil
        }
    }

    /// The next change, waiting for one; nil once the cluster closed or the task is
    /// cancelled.
    func next() async throws(ConcordError) -> Change<Value>? {
        try await watch.next(poll)
    }
}

/// The changes of a value at one replica, as an asynchronous sequence: first the current
/// value, then a change whenever a commit (local, remote, a state transfer, a reopening)
/// makes it differ from the last one delivered.
///
/// Each iterator is one observation, registered when it is made and unregistered when it is
/// dropped or its task is cancelled. Its guarantees:
/// 1. The initial value comes first, once.
/// 2. Only committed states are delivered, never part of a transaction, at most once per
///    commit, each with the replica clock of the snapshot it was read from. Clocks never go
///    backwards, except when transactions an earlier delivery reflected are gone (a wipe, or a
///    power loss under `.noSync`), which the change says (`Change.lostTransactions`).
/// 3. Intermediate states may be coalesced, but once the replica stops changing, the last
///    value delivered equals `read`. Nothing is delivered when the value did not change (an
///    add of a present element, a compaction, garbage collection).
/// 4. A slow or stalled consumer never blocks a writer and holds a count per watched object
///    and one value; with no observation a commit pays one atomic load, and with any number
///    of observations of an object, one lookup and one atomic increment for it. No user code
///    runs under a lock of the replica.
/// 5. Cancelling the task, or dropping the iterator, unregisters the observation.
/// 6. Nothing is delivered while the replica is down; after a restart, one change if the
///    value differs. A wiped or new replica delivers nothing while it waits for a peer's
///    state (no empty value flickers), then one change when the state arrives. Removing the
///    replica ends the sequence with `ConcordError.unavailable`; closing the cluster ends it.
/// 7. `Iterator.poll()` never suspends: with manual delivery, after `synchronize()` it
///    returns the final change, and the same seed gives the same deliveries.
public struct ValueChanges<Value: Equatable & Sendable>: AsyncSequence, Sendable {
    /// One change.
    public typealias Element = Change<Value>
    /// The error that ends the sequence (the replica was removed, or a read failed).
    public typealias Failure = ConcordError

    let replica: Replica
    let objects: [ObjectKey]
    let read: SnapshotRead<Value>

    /// Registers one observation; its first change is the value now.
    public func makeAsyncIterator() -> Iterator {
        Iterator(
            registration: ObservationRegistration(
                ValueObserver(replica: replica, objects: objects, read: read), in: replica.observations))
    }

    /// One observation of the value (it may move to another task, to be pulled there).
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let registration: ObservationRegistration<ValueObserver<Value>>

        /// The next change, waiting for one; nil once the cluster closed or the task is
        /// cancelled.
        /// - Throws: `ConcordError.unavailable` when the replica was removed; `.corrupted` or
        ///   `.storage` when the value cannot be read. The sequence ends after an error.
        public mutating func next() async throws(ConcordError) -> Change<Value>? {
            try await registration.subscriber.next()
        }

        /// As `next()`.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(ConcordError) -> Change<Value>? {
            try await registration.subscriber.next()
        }

        /// The next change if one is ready, without suspending (nil: none now).
        /// - Throws: as `next()`.
        public func poll() throws(ConcordError) -> Change<Value>? {
            try registration.subscriber.poll()
        }
    }
}

/// A running callback observation (see `Replica.observe(_:onEnd:_:)`). Cancelling it, or
/// releasing the last reference to it, stops the deliveries.
public final class ObservationToken: Sendable {
    private let task: Task<Void, Never>

    init(_ task: Task<Void, Never>) {
        self.task = task
    }

    /// Stops the deliveries; a handler already running finishes.
    public func cancel() { task.cancel() }

    deinit { task.cancel() }
}
