import Foundation

/// The in-memory message bus between a cluster's replicas, with fault injection.
///
/// Messages are encoded to bytes on send and decoded on receipt, as on a real network; a
/// message that fails to decode is counted and dropped, never applied. In manual mode one
/// seeded scheduler owns time, delivery order and every fault, so a run replays exactly
/// from `Configuration.seed`; in background mode a thread delivers in real time.
public final class Network: @unchecked Sendable, Transport {
    /// Fault probabilities and delays for a link (or, through `faults`, for every link).
    public struct Faults: Sendable, Hashable {
        /// Probability that a message is lost.
        public var drop: Double
        /// Probability that a message is delivered twice.
        public var duplicate: Double
        /// Whether messages on a link may overtake each other.
        public var reorder: Bool
        /// Extra delay added to every message, drawn from this range (microseconds).
        public var delayMicroseconds: ClosedRange<UInt64>

        /// No faults.
        public static let none = Faults()

        /// Creates fault settings; all default to "no fault".
        public init(
            drop: Double = 0, duplicate: Double = 0, reorder: Bool = false,
            delayMicroseconds: ClosedRange<UInt64> = 0...0
        ) {
            self.drop = min(max(drop, 0), 0.95)
            self.duplicate = min(max(duplicate, 0), 0.95)
            self.reorder = reorder
            self.delayMicroseconds = delayMicroseconds
        }
    }

    /// What the network has done so far.
    public struct Statistics: Sendable, Hashable {
        /// Messages handed to the network.
        public var sent: UInt64 = 0
        /// Messages handed to a receiver.
        public var delivered: UInt64 = 0
        /// Messages lost to the drop probability.
        public var dropped: UInt64 = 0
        /// Extra copies made by the duplicate probability.
        public var duplicated: UInt64 = 0
        /// Messages lost because a partition cut their link.
        public var cut: UInt64 = 0
        /// Messages lost because their receiver was down.
        public var undeliverable: UInt64 = 0
        /// Bytes handed to the network.
        public var bytes: UInt64 = 0
        /// Events (deliveries and timers) processed.
        public var events: UInt64 = 0

        /// All zero.
        public init() {}
    }

    enum Event {
        case deliver(bytes: [UInt8], from: ReplicaID, to: ReplicaID)
        case tick(ReplicaID)
    }

    private struct Link: Hashable {
        let from: ReplicaID
        let to: ReplicaID
    }

    let mode: DeliveryMode
    private let latencyMicroseconds: ClosedRange<UInt64>
    private let antiEntropyMicroseconds: UInt64
    private let condition = NSCondition()
    private var queue = EventQueue<Event>()
    private var random: SeededRandom
    private var simulatedTime: UInt64 = 1_000_000
    private let startInstant = ContinuousClock.now
    private var globalFaults = Faults.none
    private var linkFaults: [Link: Faults] = [:]
    private var cuts: Set<Link> = []
    private var clogged: [Link: [[UInt8]]] = [:]
    private var lastDelivery: [Link: UInt64] = [:]
    private var down: Set<ReplicaID> = []
    private var stats = Statistics()
    private var running = true
    private var thread: Thread?
    /// Delivers an event to the cluster (set by `Cluster`). Called without the lock held.
    var dispatch: (@Sendable (Event) -> Void)?

    init(configuration: Configuration) {
        mode = configuration.deliveryMode
        latencyMicroseconds = configuration.latencyMicroseconds
        antiEntropyMicroseconds = configuration.antiEntropyIntervalMicroseconds
        random = SeededRandom(seed: configuration.seed)
    }

    // MARK: Public controls

    /// Faults applied to every link that has no settings of its own.
    public var faults: Faults {
        get { condition.withLock { globalFaults } }
        set { condition.withLock { globalFaults = newValue } }
    }

    /// Sets (or, with `nil`, clears) the faults of the link from `sender` to `receiver`.
    public func setFaults(_ faults: Faults?, from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock { linkFaults[Link(from: sender, to: receiver)] = faults }
    }

    /// Cuts every link between a replica in `side` and one in `otherSide`, both ways.
    /// Links to replicas in neither stay up; calls add up. Messages sent across a cut are
    /// lost, and retransmission waits until `heal()`.
    public func partition(_ side: [ReplicaID], _ otherSide: [ReplicaID]) {
        condition.withLock {
            for a in side {
                for b in otherSide where a != b {
                    cuts.insert(Link(from: a, to: b))
                    cuts.insert(Link(from: b, to: a))
                }
            }
        }
    }

    /// Restores every cut and clogged link (held messages go on their way) and wakes every
    /// replica to resend what its peers lack.
    public func heal() {
        let replicas: [ReplicaID] = condition.withLock {
            cuts.removeAll()
            let links = clogged.keys.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
            for link in links { releaseClogged(link) }
            return knownReplicas()
        }
        for replica in replicas { scheduleTick(for: replica, at: nowMicroseconds) }
    }

    /// Holds every message from `sender` to `receiver` until `unclog` (FoundationDB's
    /// clogging): nothing is lost, it just waits.
    public func clog(from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock {
            let link = Link(from: sender, to: receiver)
            if clogged[link] == nil { clogged[link] = [] }
        }
    }

    /// Releases a clogged link: its held messages are delivered in order.
    public func unclog(from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock { releaseClogged(Link(from: sender, to: receiver)) }
        scheduleTick(for: sender, at: nowMicroseconds)
    }

    /// The links currently clogged, as (sender, receiver) pairs.
    public var cloggedLinks: [(from: ReplicaID, to: ReplicaID)] {
        condition.withLock {
            clogged.keys.sorted { ($0.from, $0.to) < ($1.from, $1.to) }.map { ($0.from, $0.to) }
        }
    }

    /// Whether the link from `sender` to `receiver` is cut by a partition.
    public func isCut(from sender: ReplicaID, to receiver: ReplicaID) -> Bool {
        condition.withLock { cuts.contains(Link(from: sender, to: receiver)) }
    }

    /// What the network has done so far.
    public var statistics: Statistics { condition.withLock { stats } }

    /// Events waiting (deliveries and timers).
    public var pendingEvents: Int { condition.withLock { queue.count } }

    /// Puts raw bytes on the link from `sender` to `receiver` as if `sender` had sent
    /// them, with the link's faults (for tests of hostile or damaged input).
    public func inject(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID) {
        send(bytes, from: sender, to: receiver)
    }

    // MARK: Transport

    var nowMicroseconds: UInt64 {
        condition.withLock { currentTime() }
    }

    private func currentTime() -> UInt64 {
        switch mode {
        case .manual:
            return simulatedTime
        case .background:
            let elapsed = ContinuousClock.now - startInstant
            return 1_000_000 + UInt64(elapsed.components.seconds) * 1_000_000
                + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
        }
    }

    var retransmitTimeoutMicroseconds: UInt64 {
        let latency: UInt64
        switch mode {
        case .manual: latency = latencyMicroseconds.upperBound
        case .background(let value): latency = value
        }
        return 4 * latency + 2 * antiEntropyMicroseconds
    }

    func send(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock {
            stats.sent += 1
            stats.bytes += UInt64(bytes.count)
            let link = Link(from: sender, to: receiver)
            if cuts.contains(link) {
                stats.cut += 1
                return
            }
            if clogged[link] != nil {
                clogged[link]!.append(bytes)
                return
            }
            enqueue(bytes, on: link)
        }
        condition.signal()
    }

    /// Puts a message on the queue with its link's faults. Called with the lock held.
    private func enqueue(_ bytes: [UInt8], on link: Link) {
        let faults = linkFaults[link] ?? globalFaults
        if random.chance(faults.drop) {
            stats.dropped += 1
            return
        }
        let copies = random.chance(faults.duplicate) ? 2 : 1
        if copies == 2 { stats.duplicated += 1 }
        for _ in 0..<copies {
            var time = currentTime() + latency() + UInt64.random(in: faults.delayMicroseconds, using: &random)
            if !faults.reorder {
                time = max(time, lastDelivery[link] ?? 0)
                lastDelivery[link] = time
            }
            queue.push(.deliver(bytes: bytes, from: link.from, to: link.to), at: time)
        }
    }

    private func latency() -> UInt64 {
        switch mode {
        case .manual: UInt64.random(in: latencyMicroseconds, using: &random)
        case .background(let value): value
        }
    }

    private func releaseClogged(_ link: Link) {
        guard let held = clogged.removeValue(forKey: link) else { return }
        for bytes in held { enqueue(bytes, on: link) }
    }

    func scheduleTick(for replica: ReplicaID, at timeMicroseconds: UInt64) {
        condition.withLock {
            queue.push(.tick(replica), at: max(timeMicroseconds, currentTime()))
        }
        condition.signal()
    }

    func canReach(from sender: ReplicaID, to receiver: ReplicaID) -> Bool {
        condition.withLock {
            let link = Link(from: sender, to: receiver)
            return !down.contains(receiver) && !cuts.contains(link) && clogged[link] == nil
        }
    }

    private var registered: Set<ReplicaID> = []

    private func knownReplicas() -> [ReplicaID] { registered.sorted() }

    // MARK: Cluster hooks

    func register(_ replica: ReplicaID) {
        condition.withLock {
            registered.insert(replica)
            down.remove(replica)
        }
    }

    func markDown(_ replica: ReplicaID) {
        condition.withLock {
            down.insert(replica)
            queue.removeAll {
                if case .tick(let id) = $0 { return id == replica }
                return false
            }
        }
    }

    func unregister(_ replica: ReplicaID) {
        condition.withLock {
            registered.remove(replica)
            down.insert(replica)
        }
    }

    func isDown(_ replica: ReplicaID) -> Bool { condition.withLock { down.contains(replica) } }

    /// Wakes every running replica (after a membership change, a restart or a heal).
    func wakeAll() {
        for replica in condition.withLock({ knownReplicas() }) { scheduleTick(for: replica, at: nowMicroseconds) }
    }

    // MARK: Driving

    /// Manual mode: performs the next event, advancing simulated time to it. Returns false
    /// when nothing is left to do.
    func step() -> Bool {
        let next: Event? = condition.withLock {
            guard let (time, event) = queue.pop() else { return nil }
            simulatedTime = max(simulatedTime, time)
            stats.events += 1
            return event
        }
        guard let next else { return false }
        deliver(next)
        return true
    }

    private func deliver(_ event: Event) {
        if case .deliver(_, _, let to) = event {
            let isDown = condition.withLock {
                if down.contains(to) {
                    stats.undeliverable += 1
                    return true
                }
                stats.delivered += 1
                return false
            }
            if isDown { return }
        }
        dispatch?(event)
    }

    /// Background mode: starts the delivery thread.
    func startBackground() {
        guard case .background = mode else { return }
        let thread = Thread { [weak self] in self?.runBackground() }
        thread.name = "concord.network"
        self.thread = thread
        thread.start()
    }

    private func runBackground() {
        while true {
            condition.lock()
            var due: Event?
            while running && due == nil {
                // One reading of the clock per round: time moves between two readings.
                let now = currentTime()
                if let time = queue.nextTime, time <= now {
                    due = queue.pop()?.event
                    stats.events += 1
                } else if let time = queue.nextTime {
                    let wait = Double(time - now) / 1_000_000
                    _ = condition.wait(until: Date(timeIntervalSinceNow: max(wait, 0.000_05)))
                } else {
                    condition.wait()
                }
            }
            let stop = !running
            condition.unlock()
            if stop { return }
            if let due { deliver(due) }
        }
    }

    /// Stops the delivery thread (background mode) and drops every pending event.
    func shutDown() {
        condition.withLock {
            running = false
            queue = EventQueue()
        }
        condition.broadcast()
    }
}
