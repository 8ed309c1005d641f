/// Where an observed change came from.
public enum ChangeOrigin: String, Sendable, Hashable, CustomStringConvertible {
    /// The value when the observation started (delivered first, once).
    case initial
    /// A transaction committed at this replica.
    case local
    /// A delta interval from a peer.
    case remote
    /// A peer's full state (a wiped, new or lagging replica catching up).
    case stateTransfer = "state transfer"
    /// The replica was reopened after a crash or a close.
    case restart

    /// The raw value: `initial`, `local`, `remote`, `state transfer`, `restart`.
    public var description: String { rawValue }
}

/// One delivered change of an observed value: the value, the replica clock of the committed
/// snapshot it was read from, and where the latest change it includes came from.
///
/// Intermediate states may be coalesced: a change stands for every commit since the previous
/// delivery, and `origin` is that of the last of them.
public struct Change<Value: Sendable>: Sendable {
    /// The value in the snapshot.
    public let value: Value
    /// The replica's clock in the same snapshot: every transaction the value reflects.
    public let clock: VectorClock
    /// Where the last change folded into this delivery came from.
    public let origin: ChangeOrigin
    /// Transactions that an earlier delivery of this observation reflected are gone: the
    /// replica was wiped, or lost unflushed commits in a power loss, before any peer had
    /// them. Only then is `clock` not above the previous delivery's.
    public let lostTransactions: Bool

    init(value: Value, clock: VectorClock, origin: ChangeOrigin, lostTransactions: Bool = false) {
        self.value = value
        self.clock = clock
        self.origin = origin
        self.lostTransactions = lostTransactions
    }
}

extension Change: Equatable where Value: Equatable {}

extension Change: CustomStringConvertible {
    /// `<value> at <clock> (<origin>)`.
    public var description: String {
        "\(value) at \(clock) (\(origin)\(lostTransactions ? ", lost transactions" : ""))"
    }
}
