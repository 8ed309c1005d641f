import LMDB

/// Observing values: every change to a key reaches the application, local or remote, and
/// writers never wait for observers. See `ValueChanges` for the guarantees.
extension Replica {
    /// The changes of `key`'s value at this replica: first its value now, then one change
    /// whenever a commit makes it differ from the last one delivered.
    ///
    /// ```swift
    /// for try await change in replica.changes(of: likes) {
    ///     print(change.value, change.origin)   // 0 initial, 1 local, 3 remote, …
    /// }
    /// ```
    public func changes<T: CRDT>(of key: Key<T>) -> ValueChanges<T.Value> where T.Value: Equatable & Sendable {
        changes(of: key) { $0 }
    }

    /// The changes of a part of `key`'s value — one field of a map, one element's presence
    /// in a set: only changes of `part` are delivered.
    ///
    /// ```swift
    /// let name = replica.changes(of: profile) { $0.register("name", of: String.self) }
    /// ```
    /// `part` runs on the consumer's task, inside a read transaction, never under a lock of
    /// the replica.
    public func changes<T: CRDT, Part: Equatable & Sendable>(
        of key: Key<T>, _ part: @escaping @Sendable (T.Value) -> Part
    ) -> ValueChanges<Part> {
        let object = key.object
        return ValueChanges(replica: self, objects: [object]) { (storage, txn) throws(ConcordError) in
            part(try Self.snapshotState(of: object, as: T.self, in: storage, txn).value)
        }
    }

    /// The changes of several keys read together: `combine` sees the states of `keys` in one
    /// committed snapshot, so an invariant that every transaction keeps across them is never
    /// seen broken.
    ///
    /// ```swift
    /// let balance = replica.changes(of: [checking, savings]) { $0[0] + $0[1] }
    /// ```
    public func changes<T: CRDT, Combined: Equatable & Sendable>(
        of keys: [Key<T>], _ combine: @escaping @Sendable ([T.Value]) -> Combined
    ) -> ValueChanges<Combined> {
        let objects = keys.map(\.object)
        return ValueChanges(replica: self, objects: objects) { (storage, txn) throws(ConcordError) in
            var values: [T.Value] = []
            values.reserveCapacity(objects.count)
            for object in objects {
                values.append(try Self.snapshotState(of: object, as: T.self, in: storage, txn).value)
            }
            return combine(values)
        }
    }

    /// The changes of two keys of any types, read together from one committed snapshot
    /// (see `changes(of:_:)` for keys of one type).
    public func changes<A: CRDT, B: CRDT, Combined: Equatable & Sendable>(
        of first: Key<A>, _ second: Key<B>, _ combine: @escaping @Sendable (A.Value, B.Value) -> Combined
    ) -> ValueChanges<Combined> {
        let (firstObject, secondObject) = (first.object, second.object)
        return ValueChanges(replica: self, objects: [firstObject, secondObject]) {
            (storage, txn) throws(ConcordError) in
            combine(
                try Self.snapshotState(of: firstObject, as: A.self, in: storage, txn).value,
                try Self.snapshotState(of: secondObject, as: B.self, in: storage, txn).value)
        }
    }

    /// The values of `key` as they change: `changes(of:)` without clocks and origins (equal
    /// values are never delivered twice in a row).
    public func values<T: CRDT>(of key: Key<T>) -> some AsyncSequence<T.Value, ConcordError>
    where T.Value: Equatable & Sendable {
        changes(of: key).map(\.value)
    }

    /// Calls `handler` with every change of `key` (as `changes(of:)` delivers them), on the
    /// handler's own actor — `{ @MainActor change in … }` for UI code — until the returned
    /// token is cancelled or released. `onEnd` is called once when the deliveries end on
    /// their own: with nil when the cluster closed, with the error that ended them otherwise.
    public func observe<T: CRDT>(
        _ key: Key<T>, onEnd: (@Sendable (ConcordError?) async -> Void)? = nil,
        _ handler: @escaping @Sendable (Change<T.Value>) async -> Void
    ) -> ObservationToken where T.Value: Equatable & Sendable {
        let changes = changes(of: key)
        return ObservationToken(
            Task {
                var iterator = changes.makeAsyncIterator()
                do throws(ConcordError) {
                    while let change = try await iterator.next() { await handler(change) }
                    if !Task.isCancelled { await onEnd?(nil) }
                } catch {
                    await onEnd?(error)
                }
            })
    }

    /// Every commit at this replica that writes an object in `scope`, once and in order; a
    /// consumer more than `buffer` commits behind gets a `.gap` instead (see `CommitFeed`).
    public func commits(touching scope: CommitScope = .everything, buffer: Int = 1_024) -> CommitFeed {
        CommitFeed(replica: self, scope: scope, buffer: buffer)
    }

    // MARK: Driving observations

    /// The state of `object` in an observed snapshot (the initial state when never written).
    static func snapshotState<T: CRDT>(
        of object: ObjectKey, as type: T.Type, in storage: Storage, _ txn: borrowing ReadTransaction
    ) throws(ConcordError) -> T {
        do {
            return try load(object, in: storage, txn) ?? T()
        } catch let error as ConcordError {
            throw error
        } catch {
            throw ConcordError(.corrupted, "cannot read \(object) for an observation", underlying: "\(error)")
        }
    }

    /// Reads an observed value and the clock from one committed snapshot; nil while the
    /// replica is down or, wiped or new, still waits for a peer's state.
    func observedSnapshot<Value>(_ read: SnapshotRead<Value>) throws(ConcordError) -> (
        value: Value, clock: VectorClock
    )? {
        guard !observationsHeld.load(ordering: .acquiring), let storage = readableStorage.withLock({ $0 }) else {
            return nil
        }
        do {
            return try storage.read("read an observed value at \(self)") { txn in
                (try read(storage, txn), try storage.snapshotClock(txn))
            }
        } catch  where storage.environment.isClosed {
            // Its store was compacted and reopened meanwhile: read the new one. Or it went
            // down: its reopening raises the observation again.
            if let reopened = readableStorage.withLock({ $0 }), !reopened.environment.isClosed {
                return try observedSnapshot(read)
            }
            return nil
        }
    }

    /// Hands a committed step to the observations (called with the lock held, after the
    /// core took the step). While anyone observes, notes the clock after `commit` in `store`,
    /// for the consumers that read the commit's snapshot (`Storage.snapshotClock`).
    func publishToObservers(
        _ step: ReplicaCore.Step, committed commit: Storage.Commit?, core: ReplicaCore, _ store: Storage
    ) {
        if step.purpose == .open || step.purpose == .state {
            observationsHeld.store(core.isBootstrapping && !core.bootstrap.receivedState, ordering: .releasing)
        }
        guard observations.isActive else { return }
        if let commit { store.committedClock.note(core.clock, committedIn: commit.transaction) }
        observations.publish(step, clock: core.clock)
    }
}
