/// The links of the in-memory bus and their faults: partitions (cuts), clogs (held
/// messages), and per-link or global drop, duplicate, delay and reorder settings.
///
/// A value type owned by `Network` and used under its lock. It decides what becomes of a
/// message; the `Scheduler` decides when.
struct SimulatedLinks {
    struct Link: Hashable {
        let from: ReplicaID
        let to: ReplicaID
    }

    /// What became of a message handed to a link.
    enum Fate: Equatable {
        /// A partition cut the link: lost.
        case cut
        /// The link is clogged: held until it is unclogged.
        case held
        /// Lost to the drop probability.
        case dropped
        /// To be delivered at these times (two when duplicated).
        case delivered(atMicroseconds: [UInt64])
    }

    var globalFaults = Network.Faults.none
    private(set) var linkFaults: [Link: Network.Faults] = [:]
    private(set) var cuts: Set<Link> = []
    private(set) var clogged: [Link: [[UInt8]]] = [:]
    /// The latest delivery time per link, so links without reordering stay FIFO.
    private var lastDelivery: [Link: UInt64] = [:]

    mutating func setFaults(_ faults: Network.Faults?, on link: Link) {
        linkFaults[link] = faults
    }

    mutating func cut(between side: [ReplicaID], and otherSide: [ReplicaID]) {
        for a in side {
            for b in otherSide where a != b {
                cuts.insert(Link(from: a, to: b))
                cuts.insert(Link(from: b, to: a))
            }
        }
    }

    mutating func removeCuts() { cuts.removeAll() }

    func isCut(_ link: Link) -> Bool { cuts.contains(link) }

    func isClogged(_ link: Link) -> Bool { clogged[link] != nil }

    mutating func clog(_ link: Link) {
        if clogged[link] == nil { clogged[link] = [] }
    }

    /// Unclogs `link` and returns the messages it held, in order.
    mutating func unclog(_ link: Link) -> [[UInt8]] {
        clogged.removeValue(forKey: link) ?? []
    }

    /// The clogged links in a stable order.
    var cloggedLinks: [Link] { clogged.keys.sorted { ($0.from, $0.to) < ($1.from, $1.to) } }

    /// Decides the fate of a message sent now on `link` (cut, clog, drop, duplication, delay).
    mutating func send(_ bytes: [UInt8], on link: Link, scheduler: inout Scheduler) -> Fate {
        if cuts.contains(link) { return .cut }
        if clogged[link] != nil {
            clogged[link]!.append(bytes)
            return .held
        }
        return transmit(on: link, scheduler: &scheduler)
    }

    /// The fate of a message that leaves a link now (sent, or released from a clog).
    mutating func transmit(on link: Link, scheduler: inout Scheduler) -> Fate {
        let faults = linkFaults[link] ?? globalFaults
        if scheduler.random.chance(faults.drop) { return .dropped }
        let copies = scheduler.random.chance(faults.duplicate) ? 2 : 1
        var times: [UInt64] = []
        for _ in 0..<copies {
            var time =
                scheduler.nowMicroseconds + scheduler.latencyMicroseconds()
                + UInt64.random(in: faults.delayMicroseconds, using: &scheduler.random)
            if !faults.reorder {
                time = max(time, lastDelivery[link] ?? 0)
                lastDelivery[link] = time
            }
            times.append(time)
        }
        return .delivered(atMicroseconds: times)
    }
}
