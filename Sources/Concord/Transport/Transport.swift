/// What a replica needs from the network that carries its messages: the time, a way to
/// send, timers, and whether a peer can be reached right now. `Network` implements it.
protocol Transport: AnyObject, Sendable {
    /// Microseconds: simulated time in manual mode, real time in background mode.
    var nowMicroseconds: UInt64 { get }
    /// How long a sender waits for an acknowledgement before it resends.
    var retransmitTimeoutMicroseconds: UInt64 { get }
    /// Hands encoded bytes to the network (which may drop, duplicate, delay or hold them).
    func send(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID)
    /// Asks for `tick()` of `replica` at `timeMicroseconds` (or as soon as possible).
    func scheduleTick(for replica: ReplicaID, at timeMicroseconds: UInt64)
    /// Whether a message sent now from `sender` can reach `receiver` (link up, not
    /// clogged, receiver running). Retransmission only targets reachable peers, so a
    /// partitioned cluster quiesces; healing a link schedules ticks again.
    func canReach(from sender: ReplicaID, to receiver: ReplicaID) -> Bool
}
