import Locking

/// An object a commit wrote, by name.
public struct ChangedObject: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The object's bucket.
    public let bucket: String
    /// Its name in the bucket.
    public let name: String
    /// Its type, as `concord` names it (`PNCounter`, `AWSet<String>`, …).
    public let type: String

    init(_ key: ObjectKey) {
        bucket = key.bucket
        name = key.name
        type = "\(key.type)"
    }

    /// Whether this is the object `key` names.
    public func names<T: CRDT>(_ key: Key<T>) -> Bool {
        bucket == key.bucket && name == key.name && type == "\(T.typeCode)"
    }

    /// Orders by bucket, name, then type.
    public static func < (lhs: ChangedObject, rhs: ChangedObject) -> Bool {
        (lhs.bucket, lhs.name, lhs.type) < (rhs.bucket, rhs.name, rhs.type)
    }

    /// `bucket/name: Type`.
    public var description: String { "\(bucket)/\(name): \(type)" }
}

/// What a commit feed covers.
public enum CommitScope: Sendable, Hashable {
    /// Every object.
    case everything
    /// The objects of one bucket.
    case bucket(String)

    func contains(_ key: ObjectKey) -> Bool {
        switch self {
        case .everything: true
        case .bucket(let bucket): key.bucket == bucket
        }
    }
}

/// One element of a commit feed.
public enum CommitFeedElement: Sendable, CustomStringConvertible {
    /// One commit at the replica: a local transaction, an applied interval of a peer's
    /// transactions, or a state transfer; with the replica's clock after it and the objects
    /// in scope it wrote (sorted).
    case commit(clock: VectorClock, origin: ChangeOrigin, objects: [ChangedObject])
    /// The consumer fell behind by more than its buffer: `missed` commits are not in the
    /// feed; the last of them left the replica at `clock`. Read the objects again to catch up.
    case gap(missed: Int, clock: VectorClock)

    /// One line: `commit <clock> (<origin>): <objects>` or `gap of <n> commits through <clock>`.
    public var description: String {
        switch self {
        case .commit(let clock, let origin, let objects):
            "commit \(clock) (\(origin)): \(objects.map(\.description).joined(separator: ", "))"
        case .gap(let missed, let clock): "gap of \(missed) commits through \(clock)"
        }
    }
}

/// Every commit at one replica that writes an object in scope, once and in commit order,
/// for integrators (indexes, caches, exports).
///
/// A consumer that falls behind by more than `buffer` commits receives one `.gap` in their
/// place instead of slowing the writers: a commit only appends to a bounded buffer. Each
/// iterator is one registration, made when the iterator is made (commits before it are not
/// in the feed) and removed when it is dropped or its task is cancelled. Removing the replica
/// ends the feed with `ConcordError.unavailable`; closing the cluster ends it.
public struct CommitFeed: AsyncSequence, Sendable {
    /// A commit, or a gap.
    public typealias Element = CommitFeedElement
    /// The error that ends the feed (the replica was removed).
    public typealias Failure = ConcordError

    let replica: Replica
    let scope: CommitScope
    let buffer: Int

    /// Registers one consumer of the feed.
    public func makeAsyncIterator() -> Iterator {
        Iterator(
            registration: ObservationRegistration(
                FeedSubscriber(
                    scope: scope, buffer: buffer,
                    spinningMicroseconds: replica.configuration.observationSpinMicroseconds), in: replica.observations))
    }

    /// One consumer of the feed (it may move to another task, to be pulled there).
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let registration: ObservationRegistration<FeedSubscriber>

        /// The next element, waiting for one; nil once the cluster closed or the task is
        /// cancelled.
        /// - Throws: `ConcordError.unavailable` when the replica was removed.
        public mutating func next() async throws(ConcordError) -> CommitFeedElement? {
            try await registration.subscriber.next()
        }

        /// As `next()`.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(ConcordError)
            -> CommitFeedElement?
        {
            try await registration.subscriber.next()
        }

        /// The next element if one is buffered, without suspending (nil: none now).
        /// - Throws: as `next()`.
        public func poll() throws(ConcordError) -> CommitFeedElement? {
            try registration.subscriber.poll()
        }
    }
}

/// A commit feed's registration: a bounded buffer that a commit appends to.
final class FeedSubscriber: ObservationSubscriber, Sendable {
    let watchedObjects: [ObjectKey]? = nil
    private let scope: CommitScope
    private let capacity: Int
    private let signal = ObservationSignal()
    private let watch: ObservationWatch
    private let elements = Mutex<[CommitFeedElement]>([])

    init(scope: CommitScope, buffer: Int, spinningMicroseconds: UInt64) {
        self.scope = scope
        capacity = max(1, buffer)
        watch = ObservationWatch([signal], spinningMicroseconds: spinningMicroseconds)
        _ = watch.take()  // a feed has no initial element
    }

    func receive(_ event: CommitEvent) {
        let objects = event.objects.filter(scope.contains)
        guard !objects.isEmpty else { return }
        elements.withLock { elements in
            if elements.count >= capacity {
                // Full: the commit joins the gap at the end (the one element over capacity).
                if case .gap(let missed, _) = elements.last {
                    elements[elements.count - 1] = .gap(missed: missed + 1, clock: event.clock)
                } else {
                    elements.append(.gap(missed: 1, clock: event.clock))
                }
            } else {
                elements.append(
                    .commit(clock: event.clock, origin: event.origin, objects: objects.sorted().map(ChangedObject.init))
                )
            }
        }
        signal.raise(event.origin)
    }

    func end(_ error: ConcordError?) { watch.end(error.map { .failed($0) } ?? .finished) }

    func poll() throws(ConcordError) -> CommitFeedElement? {
        _ = watch.take()
        if let element = elements.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return element }
        if case .failed(let error) = watch.ending { throw error }
        return nil
    }

    func next() async throws(ConcordError) -> CommitFeedElement? {
        try await watch.next(poll)
    }
}
