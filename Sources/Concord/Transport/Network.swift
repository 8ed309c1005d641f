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

    /// A replica that receives through this bus, held weakly (a dropped cluster must not
    /// be kept alive by its bus).
    private struct Endpoint {
        weak var replica: (any TransportEndpoint)?
    }

    private typealias Link = SimulatedLinks.Link

    private let condition = NSCondition()
    private var scheduler: Scheduler
    private var links = SimulatedLinks()
    private let antiEntropyMicroseconds: UInt64
    private var endpoints: [ReplicaID: Endpoint] = [:]
    private var stats = Statistics()
    private var running = true

    /// The seed of every random choice of this bus (`Configuration.seed`).
    public let seed: UInt64

    init(configuration: Configuration) {
        seed = configuration.seed
        scheduler = Scheduler(configuration: configuration)
        antiEntropyMicroseconds = configuration.antiEntropyIntervalMicroseconds
    }

    /// How messages move: `.manual` (stepped by the caller) or `.background`.
    public var mode: DeliveryMode { scheduler.mode }

    // MARK: Public controls

    /// Faults applied to every link that has no settings of its own.
    public var faults: Faults {
        get { condition.withLock { links.globalFaults } }
        set { condition.withLock { links.globalFaults = newValue } }
    }

    /// Sets (or, with `nil`, clears) the faults of the link from `sender` to `receiver`.
    public func setFaults(_ faults: Faults?, from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock { links.setFaults(faults, on: Link(from: sender, to: receiver)) }
    }

    /// Cuts every link between a replica in `side` and one in `otherSide`, both ways.
    /// Links to replicas in neither stay up; calls add up. Messages sent across a cut are
    /// lost, and retransmission waits until `heal()`.
    public func partition(_ side: [ReplicaID], _ otherSide: [ReplicaID]) {
        condition.withLock { links.cut(between: side, and: otherSide) }
    }

    /// Restores every cut and clogged link (held messages go on their way) and wakes every
    /// replica to resend what its peers lack.
    public func heal() {
        condition.withLock {
            links.removeCuts()
            for link in links.cloggedLinks { release(link) }
        }
        wakeAll()
    }

    /// Holds every message from `sender` to `receiver` until `unclog` (FoundationDB's
    /// clogging): nothing is lost, it just waits.
    public func clog(from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock { links.clog(Link(from: sender, to: receiver)) }
    }

    /// Releases a clogged link: its held messages are delivered in order.
    public func unclog(from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock { release(Link(from: sender, to: receiver)) }
        scheduleTick(for: sender, at: nowMicroseconds)
    }

    /// The links currently clogged, as (sender, receiver) pairs.
    public var cloggedLinks: [(from: ReplicaID, to: ReplicaID)] {
        condition.withLock { links.cloggedLinks.map { ($0.from, $0.to) } }
    }

    /// Whether the link from `sender` to `receiver` is cut by a partition.
    public func isCut(from sender: ReplicaID, to receiver: ReplicaID) -> Bool {
        condition.withLock { links.isCut(Link(from: sender, to: receiver)) }
    }

    /// What the network has done so far.
    public var statistics: Statistics { condition.withLock { stats } }

    /// Events waiting (deliveries and timers).
    public var pendingEvents: Int { condition.withLock { scheduler.queue.count } }

    /// Puts raw bytes on the link from `sender` to `receiver` as if `sender` had sent
    /// them, with the link's faults (for tests of hostile or damaged input).
    public func inject(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID) {
        send(bytes, from: sender, to: receiver)
    }

    // MARK: Transport

    package var nowMicroseconds: UInt64 {
        condition.withLock { scheduler.nowMicroseconds }
    }

    package var retransmitTimeoutMicroseconds: UInt64 {
        4 * condition.withLock { scheduler.maximumLatencyMicroseconds } + 2 * antiEntropyMicroseconds
    }

    package func attach(_ endpoint: any TransportEndpoint, as replica: ReplicaID) {
        condition.withLock { endpoints[replica] = Endpoint(replica: endpoint) }
    }

    package func detach(_ replica: ReplicaID) {
        condition.withLock {
            endpoints[replica] = nil
            scheduler.removeAll {
                if case .tick(let id) = $0 { return id == replica }
                return false
            }
        }
    }

    package func send(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID) {
        condition.withLock {
            stats.sent += 1
            stats.bytes += UInt64(bytes.count)
            let link = Link(from: sender, to: receiver)
            enqueue(bytes, on: link, fate: links.send(bytes, on: link, scheduler: &scheduler))
        }
        condition.signal()
    }

    /// Queues the deliveries of a message whose fate is decided. Called with the lock held.
    private func enqueue(_ bytes: [UInt8], on link: Link, fate: SimulatedLinks.Fate) {
        switch fate {
        case .cut:
            stats.cut += 1
        case .held:
            break
        case .dropped:
            stats.dropped += 1
        case .delivered(let times):
            if times.count > 1 { stats.duplicated += UInt64(times.count - 1) }
            for time in times { scheduler.push(.deliver(bytes: bytes, from: link.from, to: link.to), at: time) }
        }
    }

    /// Sends on the messages a clogged link held. Called with the lock held.
    private func release(_ link: Link) {
        for bytes in links.unclog(link) {
            enqueue(bytes, on: link, fate: links.transmit(on: link, scheduler: &scheduler))
        }
    }

    package func scheduleTick(for replica: ReplicaID, at timeMicroseconds: UInt64) {
        condition.withLock { scheduler.push(.tick(replica), at: timeMicroseconds) }
        condition.signal()
    }

    package func canReach(from sender: ReplicaID, to receiver: ReplicaID) -> Bool {
        condition.withLock {
            let link = Link(from: sender, to: receiver)
            return endpoints[receiver] != nil && !links.isCut(link) && !links.isClogged(link)
        }
    }

    /// Wakes every attached replica (after a membership change, a restart or a heal).
    func wakeAll() {
        let replicas = condition.withLock { endpoints.keys.sorted() }
        for replica in replicas { scheduleTick(for: replica, at: nowMicroseconds) }
    }

    // MARK: Driving

    /// Manual mode: performs the next event (a delivery or a timer), advancing simulated
    /// time to it. Returns false when nothing is left to do.
    ///
    /// `Cluster.step()` calls this.
    @discardableResult
    public func step() -> Bool {
        let next: (Scheduler.Event, (any TransportEndpoint)?)? = condition.withLock {
            guard let event = scheduler.pop() else { return nil }
            stats.events += 1
            return (event, endpoint(for: event))
        }
        guard let (event, endpoint) = next else { return false }
        deliver(event, to: endpoint)
        return true
    }

    /// Manual mode: steps until nothing more can happen (`Cluster.synchronize()` calls this).
    /// Always terminates: what cannot cross a partition waits for `heal()`; with loss
    /// configured, replicas resend until every reachable peer has everything.
    ///
    /// - Parameter maximumSteps: a safety bound.
    /// - Throws: `ConcordError.didNotQuiesce` past `maximumSteps` (a bug: please report it
    ///   with the seed the message names).
    public func synchronize(maximumSteps: Int = 50_000_000) throws(ConcordError) {
        var steps = 0
        while step() {
            steps += 1
            if steps >= maximumSteps {
                throw ConcordError(.didNotQuiesce, "no quiescence after \(steps) steps (seed \(seed))")
            }
        }
    }

    /// The endpoint an event goes to; counts a delivery to a replica that is down. Called
    /// with the lock held.
    private func endpoint(for event: Scheduler.Event) -> (any TransportEndpoint)? {
        switch event {
        case .deliver(_, _, let to):
            guard let endpoint = endpoints[to]?.replica else {
                stats.undeliverable += 1
                return nil
            }
            stats.delivered += 1
            return endpoint
        case .tick(let id):
            return endpoints[id]?.replica
        }
    }

    /// Hands an event to its replica, without the lock held (the replica sends and
    /// schedules through this bus while it handles it).
    private func deliver(_ event: Scheduler.Event, to endpoint: (any TransportEndpoint)?) {
        guard let endpoint else { return }
        switch event {
        case .deliver(let bytes, _, _): endpoint.receive(bytes)
        case .tick: endpoint.tick()
        }
    }

    /// Background mode: starts the delivery thread.
    func startBackground() {
        guard case .background = scheduler.mode else { return }
        let thread = Thread { [weak self] in self?.runBackground() }
        thread.name = "concord.network"
        thread.start()
    }

    private func runBackground() {
        while true {
            condition.lock()
            var due: (Scheduler.Event, (any TransportEndpoint)?)?
            while running && due == nil {
                // One reading of the clock per round: time moves between two readings.
                let now = scheduler.nowMicroseconds
                if let time = scheduler.queue.nextTime, time <= now {
                    if let event = scheduler.pop() {
                        stats.events += 1
                        due = (event, endpoint(for: event))
                    }
                } else if let time = scheduler.queue.nextTime {
                    let wait = Double(time - now) / 1_000_000
                    _ = condition.wait(until: Date(timeIntervalSinceNow: max(wait, 0.000_05)))
                } else {
                    condition.wait()
                }
            }
            let stop = !running
            condition.unlock()
            if stop { return }
            if let (event, endpoint) = due { deliver(event, to: endpoint) }
        }
    }

    /// Stops the delivery thread (background mode) and drops every pending event.
    func shutDown() {
        condition.withLock {
            running = false
            scheduler.removeAll()
        }
        condition.broadcast()
    }
}
