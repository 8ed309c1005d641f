import Foundation

/// The in-memory bus's clock, event queue and randomness.
///
/// In manual mode time is simulated: it jumps to each event as it is performed, and every
/// random choice (latency, faults) comes from one seeded generator, so a run replays
/// exactly. In background mode time is the real monotonic clock since the bus started.
struct Scheduler {
    enum Event {
        case deliver(bytes: [UInt8], from: ReplicaID, to: ReplicaID)
        case tick(ReplicaID)
    }

    let mode: DeliveryMode
    private let manualLatencyMicroseconds: ClosedRange<UInt64>
    var random: SeededRandom
    private(set) var queue = EventQueue<Event>()
    private var simulatedTimeMicroseconds: UInt64 = 1_000_000
    private let startInstant = ContinuousClock.now
    /// Wall-clock microseconds since the Unix epoch when the bus started: background time
    /// counts from here on the monotonic clock, so it reads as wall-clock time (what
    /// `UpdateContext.timeMicroseconds` documents, and what last-writer-wins registers
    /// compare across restarts) yet never steps back within a run.
    private let startWallClockMicroseconds = UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000)

    init(configuration: Configuration) {
        mode = configuration.deliveryMode
        manualLatencyMicroseconds = configuration.latencyMicroseconds
        random = SeededRandom(seed: configuration.seed)
    }

    /// Microseconds: simulated in manual mode (from 1 s), wall-clock since the Unix epoch in
    /// background mode.
    var nowMicroseconds: UInt64 {
        switch mode {
        case .manual:
            return simulatedTimeMicroseconds
        case .background:
            let elapsed = ContinuousClock.now - startInstant
            return startWallClockMicroseconds + UInt64(elapsed.components.seconds) * 1_000_000
                + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
        }
    }

    /// The most a message takes (without extra fault delays).
    var maximumLatencyMicroseconds: UInt64 {
        switch mode {
        case .manual: manualLatencyMicroseconds.upperBound
        case .background(let value): value
        }
    }

    /// A message's latency: drawn from the configured range in manual mode.
    mutating func latencyMicroseconds() -> UInt64 {
        switch mode {
        case .manual: UInt64.random(in: manualLatencyMicroseconds, using: &random)
        case .background(let value): value
        }
    }

    mutating func push(_ event: Event, at time: UInt64) {
        queue.push(event, at: max(time, nowMicroseconds))
    }

    /// Takes the next event; in manual mode time advances to it.
    mutating func pop() -> Event? {
        guard let (time, event) = queue.pop() else { return nil }
        simulatedTimeMicroseconds = max(simulatedTimeMicroseconds, time)
        return event
    }

    mutating func removeAll(where predicate: (Event) -> Bool) {
        queue.removeAll(where: predicate)
    }

    mutating func removeAll() {
        queue = EventQueue()
    }
}
