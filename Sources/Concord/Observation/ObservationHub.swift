import Locking

/// A commit as observers see it (built only while someone observes).
struct CommitEvent {
    /// The replica's clock after the commit.
    let clock: VectorClock
    let origin: ChangeOrigin
    /// The objects the commit wrote.
    let objects: [ObjectKey]
    /// Any object may have changed, or have become readable again: a reopening, or a
    /// state transfer (which ends the hold on a wiped replica's deliveries).
    let touchesEverything: Bool

    /// The event of a committed step (nil: the step changes nothing an observer sees).
    init?(_ step: ReplicaCore.Step, clock: VectorClock) {
        switch step.purpose {
        case .transaction: origin = .local
        case .interval, .message: origin = .remote
        case .state: origin = .stateTransfer
        case .open: origin = .restart
        case .membership, .collection, .close: return nil
        }
        objects = step.changedObjects
        touchesEverything = step.purpose == .state || step.purpose == .open
        guard touchesEverything || !objects.isEmpty else { return nil }
        self.clock = clock
    }
}

/// What the hub calls: a registered observation.
protocol ObservationSubscriber: AnyObject, Sendable {
    /// The objects it watches (nil: every commit reaches it).
    var watchedObjects: [ObjectKey]? { get }
    /// Takes note of a commit. Called with the replica's lock held: it never runs user code
    /// and never waits.
    func receive(_ event: CommitEvent)
    /// The observation ends: `nil` when the cluster closed, an error when the replica was
    /// removed.
    func end(_ error: ConcordError?)
}

/// A replica's registered observations. With none, a commit pays one atomic load
/// (`isActive`); with some, one dictionary lookup per written object, under a lock no
/// user code ever holds.
final class ObservationHub: Sendable {
    private struct Registry {
        var byObject: [ObjectKey: [ObjectIdentifier: any ObservationSubscriber]] = [:]
        var everyCommit: [ObjectIdentifier: any ObservationSubscriber] = [:]
        /// Set once the replica is removed or its cluster closed: later registrations end at once.
        var ended: ConcordError??
    }

    private let count = Atomic<Int>(0)
    private let registry = Mutex(Registry())

    /// Whether anyone observes (one relaxed atomic load).
    var isActive: Bool { count.load(ordering: .relaxed) > 0 }

    func add(_ subscriber: any ObservationSubscriber) {
        let ended: ConcordError?? = registry.withLock { registry in
            if let ended = registry.ended { return ended }
            let id = ObjectIdentifier(subscriber)
            if let objects = subscriber.watchedObjects {
                for object in objects { registry.byObject[object, default: [:]][id] = subscriber }
            } else {
                registry.everyCommit[id] = subscriber
            }
            count.add(1, ordering: .relaxed)
            return nil
        }
        if let ended { subscriber.end(ended) }
    }

    func remove(_ subscriber: any ObservationSubscriber) {
        registry.withLock { registry in
            let id = ObjectIdentifier(subscriber)
            var removed = false
            if let objects = subscriber.watchedObjects {
                for object in objects {
                    removed = registry.byObject[object]?.removeValue(forKey: id) != nil || removed
                    if registry.byObject[object]?.isEmpty == true { registry.byObject[object] = nil }
                }
            } else {
                removed = registry.everyCommit.removeValue(forKey: id) != nil
            }
            if removed { count.subtract(1, ordering: .relaxed) }
        }
    }

    /// Hands a commit to the observations it concerns. Called with the replica's lock held,
    /// right after the commit, so observations see commits in their order.
    func publish(_ event: CommitEvent) {
        // Inside the registry's lock: `receive` only flips a flag (and at most resumes a
        // waiting consumer), and no array of subscribers is built per commit.
        registry.withLock { registry in
            for subscriber in registry.everyCommit.values { subscriber.receive(event) }
            if event.touchesEverything {
                var seen = Set<ObjectIdentifier>()
                for subscribers in registry.byObject.values {
                    for (id, subscriber) in subscribers where seen.insert(id).inserted { subscriber.receive(event) }
                }
            } else if event.objects.count == 1 {
                for subscriber in registry.byObject[event.objects[0]]?.values ?? [:].values {
                    subscriber.receive(event)
                }
            } else {
                var seen = Set<ObjectIdentifier>()
                for object in event.objects {
                    for (id, subscriber) in registry.byObject[object] ?? [:] where seen.insert(id).inserted {
                        subscriber.receive(event)
                    }
                }
            }
        }
    }

    /// Ends every observation, and any registered later: `nil` when the cluster closed, an
    /// error when the replica was removed.
    func endAll(_ error: ConcordError?) {
        let all: [any ObservationSubscriber] = registry.withLock { registry in
            registry.ended = .some(error)
            var all = Array(registry.everyCommit.values)
            var seen = Set<ObjectIdentifier>()
            for subscribers in registry.byObject.values {
                for (id, subscriber) in subscribers where seen.insert(id).inserted { all.append(subscriber) }
            }
            registry.byObject = [:]
            registry.everyCommit = [:]
            count.store(0, ordering: .relaxed)
            return all
        }
        for subscriber in all { subscriber.end(error) }
    }
}

/// Keeps an observation registered while its sequence's iterator lives: dropping the last
/// reference unregisters it.
final class ObservationRegistration<Subscriber: ObservationSubscriber>: Sendable {
    let subscriber: Subscriber
    private let hub: ObservationHub

    init(_ subscriber: Subscriber, in hub: ObservationHub) {
        self.subscriber = subscriber
        self.hub = hub
        hub.add(subscriber)
    }

    deinit { hub.remove(subscriber) }
}

/// The waiting half of an observation: whether something is pending, and the one consumer
/// that may be waiting for it.
///
/// A commit's `raise` on an observation that is already pending is one atomic exchange: a
/// stalled consumer (one that never pulls) costs its writers nothing more. Only a raise that
/// makes it pending takes the lock, to wake a waiting consumer.
final class ObservationSignal: Sendable {
    enum Ending: Sendable {
        case finished
        case failed(ConcordError)
    }

    /// Nothing pending.
    private static let idle: UInt8 = 0
    /// Something may have changed since the last look (at first: the initial value).
    private static let pending: UInt8 = 1
    /// Pending, but the last look found the replica down or still waiting for a state: only
    /// a new commit (or reopening) wakes the consumer again.
    private static let stalled: UInt8 = 2

    private let flag = Atomic<UInt8>(ObservationSignal.pending)
    /// The origin of the last raise (an index into `origins`).
    private let origin = Atomic<UInt8>(0)
    private static let origins: [ChangeOrigin] = [.initial, .local, .remote, .stateTransfer, .restart]
    private let waiting = Mutex<(waiter: UnsafeContinuation<Void, Never>?, ending: Ending?)>((nil, nil))

    /// Marks a change from `origin` and wakes the consumer if it waits.
    func raise(_ origin: ChangeOrigin) {
        self.origin.store(UInt8(Self.origins.firstIndex(of: origin) ?? 0), ordering: .relaxed)
        guard flag.exchange(Self.pending, ordering: .acquiringAndReleasing) != Self.pending else { return }
        wake()
    }

    private func wake() {
        let waiter = waiting.withLock { waiting in
            defer { waiting.waiter = nil }
            return waiting.waiter
        }
        waiter?.resume()
    }

    /// Ends the observation and wakes the consumer.
    func end(_ ending: Ending) {
        waiting.withLock { waiting in
            if waiting.ending == nil { waiting.ending = ending }
        }
        wake()
    }

    /// Takes what is pending: the origin of the last raise, or nil when nothing is (or the
    /// last look stalled).
    func take() -> ChangeOrigin? {
        guard
            flag.compareExchange(expected: Self.pending, desired: Self.idle, ordering: .acquiringAndReleasing).exchanged
        else { return nil }
        return Self.origins[Int(origin.load(ordering: .relaxed))]
    }

    /// Puts back what `take` returned: the replica could not be read (down, or still waiting
    /// for a state). A change raised meanwhile is kept as it is.
    func stall() {
        _ = flag.compareExchange(expected: Self.idle, desired: Self.stalled, ordering: .acquiringAndReleasing)
    }

    var ending: Ending? { waiting.withLock { $0.ending } }

    /// Waits until something is pending, the observation ends, or the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = waiting.withLock { waiting -> Bool in
                    if flag.load(ordering: .acquiring) == Self.pending || waiting.ending != nil || Task.isCancelled {
                        return true
                    }
                    waiting.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            wake()
        }
    }
}
