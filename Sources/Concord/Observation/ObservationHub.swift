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
    init?(_ step: borrowing ReplicaCore.Step, clock: VectorClock) {
        guard let origin = Self.origin(of: step.purpose) else { return nil }
        self.origin = origin
        objects = step.changedObjects
        touchesEverything = Self.touchesEverything(step.purpose)
        guard touchesEverything || !objects.isEmpty else { return nil }
        self.clock = clock
    }

    /// Where a step of `purpose` comes from, for observers; nil when its commit changes no
    /// value (membership, garbage collection, a close).
    static func origin(of purpose: ReplicaCore.Step.Purpose) -> ChangeOrigin? {
        switch purpose {
        case .transaction: .local
        case .interval, .message: .remote
        case .state: .stateTransfer
        case .open: .restart
        case .membership, .collection, .close: nil
        }
    }

    /// Whether a step of `purpose` may change any object, or make them readable again.
    static func touchesEverything(_ purpose: ReplicaCore.Step.Purpose) -> Bool {
        purpose == .state || purpose == .open
    }
}

/// What the hub calls: a registered observation.
protocol ObservationSubscriber: AnyObject, Sendable {
    /// The objects it watches, through the hub's signals (`ObservationHub.signals(for:)`,
    /// taken when it was made); nil: every commit reaches it through `receive`.
    var watchedObjects: [ObjectKey]? { get }
    /// Takes note of a commit (only for subscribers that watch every commit). Called with
    /// the replica's lock held: it never runs user code and never waits.
    func receive(_ event: CommitEvent)
    /// The observation ends: `nil` when the cluster closed, an error when the replica was
    /// removed.
    func end(_ error: ConcordError?)
}

extension ObservationSubscriber {
    /// Subscribers that watch objects hear of commits through the objects' signals.
    func receive(_ event: CommitEvent) {}
}

/// A replica's registered observations. With none, a commit pays one atomic load
/// (`isActive`). With some, a commit raises one signal per written object that anyone
/// observes, however many observe it, under a lock no user code ever holds.
final class ObservationHub: Sendable {
    private struct Registry {
        /// The signal of each observed object, and how many observations hold it.
        var objects: [ObjectKey: (signal: ObservationSignal, holders: Int)] = [:] {
            didSet { few = objects.count <= Self.fewObjects ? objects.map { ($0.key, $0.value.signal) } : [] }
        }
        /// `objects`' signals while there are at most `fewObjects`: a commit finds its
        /// objects' signals here by comparing keys, cheaper than hashing each key (about 300
        /// instructions per key in a callgrind profile of an observed update).
        private(set) var few: [(object: ObjectKey, signal: ObservationSignal)] = []
        static let fewObjects = 8
        /// The subscribers that see every commit (commit feeds).
        var everyCommit: [ObjectIdentifier: any ObservationSubscriber] = [:]
        /// Every registered subscriber, to end them all.
        var all: [ObjectIdentifier: any ObservationSubscriber] = [:]
        /// Set once the replica is removed or its cluster closed: later registrations end at once.
        var ended: ConcordError??

        /// The signal of `object`, if anyone observes it.
        func signal(of object: ObjectKey) -> ObservationSignal? {
            guard objects.count <= Self.fewObjects else { return objects[object]?.signal }
            for entry in few where entry.object == object { return entry.signal }
            return nil
        }
    }

    private let count = Atomic<Int>(0)
    private let registry = Mutex(Registry())

    /// Whether anyone observes (one relaxed atomic load).
    var isActive: Bool { count.load(ordering: .relaxed) > 0 }

    /// How many objects have a signal (one each, however many observe it).
    var observedObjects: Int { registry.withLock { $0.objects.count } }

    /// The signal of `object`, if anyone observes it (not held: for tests).
    func signal(of object: ObjectKey) -> ObservationSignal? {
        registry.withLock { $0.signal(of: object) }
    }

    /// The signals a commit of each of `objects` raises, held until a subscriber that
    /// watches them is removed (`remove` lets them go).
    func signals(for objects: [ObjectKey]) -> [ObservationSignal] {
        registry.withLock { registry in
            objects.map { object in
                var entry = registry.objects[object] ?? (ObservationSignal(), 0)
                entry.holders += 1
                registry.objects[object] = entry
                return entry.signal
            }
        }
    }

    func add(_ subscriber: any ObservationSubscriber) {
        let ended: ConcordError?? = registry.withLock { registry in
            if let ended = registry.ended { return ended }
            let id = ObjectIdentifier(subscriber)
            registry.all[id] = subscriber
            if subscriber.watchedObjects == nil { registry.everyCommit[id] = subscriber }
            count.store(registry.all.count, ordering: .relaxed)
            return nil
        }
        if let ended { subscriber.end(ended) }
    }

    func remove(_ subscriber: any ObservationSubscriber) {
        registry.withLock { registry in
            let id = ObjectIdentifier(subscriber)
            registry.all[id] = nil
            registry.everyCommit[id] = nil
            for object in subscriber.watchedObjects ?? [] {
                guard var entry = registry.objects[object] else { continue }
                entry.holders -= 1
                registry.objects[object] = entry.holders > 0 ? entry : nil
            }
            count.store(registry.all.count, ordering: .relaxed)
        }
    }

    /// Hands a committed step to the observations it concerns, `clock` being the replica's
    /// clock after it. Called with the replica's lock held, right after the commit, so
    /// observations see commits in their order.
    func publish(_ step: borrowing ReplicaCore.Step, clock: VectorClock) {
        guard let origin = CommitEvent.origin(of: step.purpose) else { return }
        // Inside the registry's lock: a raise is an atomic increment (it wakes parked
        // consumers only), `receive` only appends to a bounded buffer. A `CommitEvent`, with
        // its array of objects, is built only for commit feeds.
        registry.withLock { registry in
            if !registry.everyCommit.isEmpty, let event = CommitEvent(step, clock: clock) {
                for subscriber in registry.everyCommit.values { subscriber.receive(event) }
            }
            if CommitEvent.touchesEverything(step.purpose) {
                for entry in registry.objects.values { entry.signal.raise(origin) }
            } else if !registry.objects.isEmpty {
                step.forEachChangedObject { object in registry.signal(of: object)?.raise(origin) }
            }
        }
    }

    /// Ends every observation, and any registered later: `nil` when the cluster closed, an
    /// error when the replica was removed.
    func endAll(_ error: ConcordError?) {
        let all: [any ObservationSubscriber] = registry.withLock { registry in
            registry.ended = .some(error)
            defer {
                registry.all = [:]
                registry.everyCommit = [:]
                count.store(0, ordering: .relaxed)
            }
            return Array(registry.all.values)
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

/// What commits tell the observers of one object (or one commit feed): a count of the
/// commits that raised it, the origin of the last, and the consumers parked until the next.
///
/// A raise is one atomic increment and one load, however many observe the object, unless a
/// consumer is parked: a stalled consumer (one that never pulls) or a busy one (still looking,
/// see `ObservationWatch.next(_:)`) costs the writers nothing more. Only a raise that finds
/// consumers parked takes the lock, to wake them.
final class ObservationSignal: Sendable {
    private let raises = Atomic<UInt64>(0)
    /// The origin of the last raise (an index into `origins`).
    private let lastOrigin = Atomic<UInt8>(0)
    static let origins: [ChangeOrigin] = [.initial, .local, .remote, .stateTransfer, .restart]
    /// How many consumers wait in `waiters` (changed under its lock). A consumer counts
    /// itself before its last look at `raises`, a raise counts before it looks here, both
    /// sequentially consistent: one of the two always sees the other, so no raise is lost and
    /// no raise takes the lock while nobody waits.
    private let parked = Atomic<Int>(0)
    private let waiters = Mutex<[ObjectIdentifier: ObservationWaiter]>([:])

    /// Marks a change from `origin` and wakes the consumers parked on it.
    func raise(_ origin: ChangeOrigin) {
        lastOrigin.store(UInt8(Self.origins.firstIndex(of: origin) ?? 0), ordering: .relaxed)
        raises.wrappingAdd(1, ordering: .sequentiallyConsistent)
        guard parked.load(ordering: .sequentiallyConsistent) > 0 else { return }
        let woken = waiters.withLock { waiters in
            defer {
                waiters = [:]
                parked.store(0, ordering: .relaxed)
            }
            return Array(waiters.values)
        }
        for waiter in woken { waiter.wake() }
    }

    /// How many raises there have been.
    var count: UInt64 { raises.load(ordering: .sequentiallyConsistent) }

    /// How many consumers are parked on it.
    var parkedConsumers: Int { parked.load(ordering: .relaxed) }

    /// The origin of the last raise.
    var origin: ChangeOrigin { Self.origins[Int(lastOrigin.load(ordering: .relaxed))] }

    /// Parks `waiter` until the next raise (the caller looks at `count` afterwards).
    func park(_ waiter: ObservationWaiter) {
        waiters.withLock { waiters in
            if waiters.updateValue(waiter, forKey: ObjectIdentifier(waiter)) == nil {
                parked.wrappingAdd(1, ordering: .sequentiallyConsistent)
            }
        }
    }

    /// Takes `waiter` back (woken by another signal, or it found a change itself).
    func unpark(_ waiter: ObservationWaiter) {
        waiters.withLock { waiters in
            if waiters.removeValue(forKey: ObjectIdentifier(waiter)) != nil {
                parked.wrappingSubtract(1, ordering: .relaxed)
            }
        }
    }
}

/// One parked consumer, resumed once, by whichever comes first: a raise of a signal it
/// watches, the observation's end, or its task's cancellation.
final class ObservationWaiter: Sendable {
    private let state = Mutex<(continuation: UnsafeContinuation<Void, Never>?, woken: Bool)>((nil, false))

    /// Resumes the consumer (at once if it has not suspended yet; nothing if already woken).
    func wake() {
        let continuation = state.withLock { state in
            defer { state = (nil, true) }
            return state.continuation
        }
        continuation?.resume()
    }

    /// Suspends the consumer until `wake` (at once when it came first).
    func suspend() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let woken = state.withLock { state in
                if !state.woken { state.continuation = continuation }
                return state.woken
            }
            if woken { continuation.resume() }
        }
    }
}

/// The consuming half of an observation: the signals it watches, the raises it has seen,
/// how it ended, and the consumer that may be parked.
final class ObservationWatch: Sendable {
    enum Ending: Sendable {
        case finished
        case failed(ConcordError)
    }

    private let signals: [ObservationSignal]
    /// The raises of each signal at the last look (none before the first: the initial
    /// value is pending).
    private let seen: Mutex<(looked: Bool, raises: [UInt64])>
    private let state = Mutex<(waiter: ObservationWaiter?, ending: Ending?)>((nil, nil))
    /// How long `next(_:)` keeps looking before it parks.
    private let spin: Duration

    init(_ signals: [ObservationSignal], spinningMicroseconds: UInt64) {
        self.signals = signals
        seen = Mutex((false, Array(repeating: 0, count: signals.count)))
        spin = .microseconds(Int64(clamping: spinningMicroseconds))
    }

    /// Takes what is pending: the origin of a change raised since the last look (`.initial`
    /// at the first), or nil when nothing was.
    ///
    /// A look that finds the replica down or still waiting for a state takes the change as
    /// well: only a new commit (or the reopening) makes the consumer look again.
    func take() -> ChangeOrigin? {
        seen.withLock { seen in
            var origin: ChangeOrigin? = seen.looked ? nil : .initial
            seen.looked = true
            for index in signals.indices {
                let raises = signals[index].count
                guard raises != seen.raises[index] else { continue }
                seen.raises[index] = raises
                if origin == nil { origin = signals[index].origin }
            }
            return origin
        }
    }

    private var isPending: Bool {
        seen.withLock { seen in
            !seen.looked || signals.indices.contains { signals[$0].count != seen.raises[$0] }
        }
    }

    var ending: Ending? { state.withLock { $0.ending } }

    /// Ends the observation and wakes the consumer.
    func end(_ ending: Ending) {
        let waiter = state.withLock { state in
            if state.ending == nil { state.ending = ending }
            return state.waiter
        }
        waiter?.wake()
    }

    /// The next element `poll` finds, waiting for one; nil once the observation ended or
    /// the task is cancelled.
    ///
    /// A consumer that finds nothing keeps looking, yielding its thread between looks, for
    /// up to the configured spin (`Configuration.observationSpinMicroseconds`), and only then
    /// parks: a writer that commits within that time wakes nobody.
    func next<Element>(_ poll: () throws(ConcordError) -> Element?) async throws(ConcordError) -> Element? {
        let clock = ContinuousClock()
        var deadline: ContinuousClock.Instant?
        while true {
            if let element = try poll() { return element }
            if ending != nil || Task.isCancelled { return nil }
            let now = clock.now
            let until = deadline ?? now.advanced(by: spin)
            if now < until {
                deadline = until
                await Task.yield()
            } else {
                deadline = nil
                await park()
            }
            if Task.isCancelled { return nil }
        }
    }

    /// Waits until a watched signal is raised, the observation ends, or the task is cancelled.
    private func park() async {
        let waiter = ObservationWaiter()
        state.withLock { $0.waiter = waiter }
        for signal in signals { signal.park(waiter) }
        // After parking (see `ObservationSignal.parked`): a raise from here on wakes it.
        if isPending || ending != nil { waiter.wake() }
        await withTaskCancellationHandler {
            await waiter.suspend()
        } onCancel: {
            waiter.wake()
        }
        for signal in signals { signal.unpark(waiter) }
        state.withLock { $0.waiter = nil }
    }
}
