/// The identity of a replica: a small number, unique within a cluster.
///
/// Replica ids order the replicas (the order breaks last-writer-wins ties) and name the
/// entries of vector clocks and the dots of causal contexts.
///
/// Members number from 1 and stay below 2^32. A larger number names a *writer*: the id
/// under which a replica that lost its state stamps its transactions until it has caught
/// up, so that it never takes a dot its earlier incarnation may have used. Its low 32 bits
/// are the replica's and its high 32 bits the incarnation's: `r2.7` is replica 2 writing
/// while its 7th opening catches up.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw number.
    public let rawValue: UInt64

    /// Creates a replica id from its raw number.
    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// Orders replica ids by their raw numbers.
    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// The member this id belongs to: itself, or for a writer the replica that wrote.
    public var member: ReplicaID { ReplicaID(rawValue & 0xFFFF_FFFF) }

    /// `<number>` for a member, `<member>.<incarnation>` for a writer: how clocks in JSON and
    /// the command line name their entries.
    public var label: String {
        rawValue >> 32 == 0 ? "\(rawValue)" : "\(rawValue & 0xFFFF_FFFF).\(rawValue >> 32)"
    }

    /// `r<number>` for a member, `r<member>.<incarnation>` for a writer, for logs and reports.
    public var description: String { "r" + label }
}

extension ReplicaID: ExpressibleByIntegerLiteral {
    /// Creates a replica id from an integer literal, for tests and examples.
    public init(integerLiteral value: UInt64) {
        self.init(value)
    }
}

/// A dot: the `counter`-th event of a replica. Dots name individual updates, so a
/// causal context can say exactly which updates a state has seen.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The replica that made the event.
    public var replica: ReplicaID
    /// The event's number at that replica, counting from 1.
    public var counter: UInt64

    /// Creates the dot `(replica, counter)`.
    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    /// Orders by replica, then counter.
    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }

    /// `(r<replica>, <counter>)`.
    public var description: String { "(\(replica), \(counter))" }
}

/// What an operation needs to know about where and when it runs.
///
/// Operations are pure: the replica and the time come from the caller (the engine uses
/// its clock; the simulator uses simulated time), so a replay is deterministic.
public struct UpdateContext: Sendable, Hashable {
    /// The replica applying the operation.
    public var replica: ReplicaID
    /// Wall-clock time in microseconds since the Unix epoch (or simulated time). Only
    /// `LWWRegister` reads it, through a hybrid logical clock, so a clock that steps
    /// back never makes a later assignment lose to an earlier one.
    public var timeMicroseconds: UInt64

    /// Creates a context for `replica` at `timeMicroseconds`.
    public init(replica: ReplicaID, timeMicroseconds: UInt64 = 0) {
        self.replica = replica
        self.timeMicroseconds = timeMicroseconds
    }
}
