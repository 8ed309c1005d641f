/// What a transport delivers to: one open replica.
package protocol TransportEndpoint: AnyObject, Sendable {
    /// Takes one message addressed to this replica (encoded bytes, possibly damaged).
    func receive(_ bytes: [UInt8])
    /// A timer asked for with `Transport.scheduleTick(for:at:)` fired.
    func tick()
}

/// The only way in and out of a replica: time, sending, timers, and whether a peer can be
/// reached right now. `Network`, the in-memory bus, is one implementation; a transport
/// between processes is another, and the replica core needs no change for it.
package protocol Transport: AnyObject, Sendable {
    /// Microseconds: simulated time in manual mode, real time in background mode.
    var nowMicroseconds: UInt64 { get }
    /// How long a sender waits for an acknowledgement before it resends.
    var retransmitTimeoutMicroseconds: UInt64 { get }
    /// Delivers messages and timers for `replica` to `endpoint` from now on (held weakly).
    func attach(_ endpoint: any TransportEndpoint, as replica: ReplicaID)
    /// `replica` is down: its pending timers are dropped and messages to it are lost until
    /// it is attached again.
    func detach(_ replica: ReplicaID)
    /// Hands encoded bytes to the transport (which may drop, duplicate, delay or hold them).
    func send(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID)
    /// Asks for `tick()` of `replica` at `timeMicroseconds` (or as soon as possible).
    func scheduleTick(for replica: ReplicaID, at timeMicroseconds: UInt64)
    /// Whether a message sent now from `sender` can reach `receiver` (link up, not
    /// clogged, receiver running). Retransmission only targets reachable peers, so a
    /// partitioned cluster quiesces; healing a link schedules ticks again.
    func canReach(from sender: ReplicaID, to receiver: ReplicaID) -> Bool
}
