/// A counter that never goes below zero (AntidoteDB's counter_b): an escrow of decrement
/// rights.
///
/// Each replica holds rights: an increment at `r` gives `r` as many rights, a transfer
/// moves rights from one replica to another, and a decrement consumes the rights of the
/// replica that makes it. A replica only spends rights it holds in its own state, and only
/// it spends them, so no interleaving of concurrent decrements can take the value below zero.
///
/// State (Balegas et al., "Extending Eventually Consistent Cloud Databases for Enforcing
/// Numeric Invariants", SRDS 2015): a matrix `R` where `R[i][i]` is the sum of increments at
/// `i` and `R[i][j]` (i ≠ j) the sum of rights transferred from `i` to `j`, and a vector `U`
/// of decrements per replica; all joined by pointwise maximum (each entry is written only by
/// its replica `i`, and only grows).
///
/// `BoundedCounter` is a `CRDT` but deliberately not a `ResettableCRDT`: an observed reset
/// would remove increments whose rights other replicas may be spending concurrently, and
/// the value could then go below zero. A map cannot hold it as a removable field.
public struct BoundedCounter: CRDT, CustomStringConvertible {
    /// The operations of a bounded counter. Amounts are non-negative.
    public enum Operation: Sendable, Hashable {
        /// Adds the amount to the counter and to the rights of the replica making it.
        case increment(Int64)
        /// Subtracts the amount, spending the rights of the replica making it.
        case decrement(Int64)
        /// Moves the amount of rights from the replica making it to another replica.
        case transfer(Int64, to: ReplicaID)
    }

    /// A pair of distinct replicas: rights move from `source` to `destination`.
    struct Link: Hashable, Sendable, Comparable {
        var source: ReplicaID
        var destination: ReplicaID

        static func < (lhs: Link, rhs: Link) -> Bool {
            (lhs.source, lhs.destination) < (rhs.source, rhs.destination)
        }
    }

    /// `R[i][i]`: the sum of increments made at each replica.
    var increments: VectorClock
    /// `R[i][j]`, i ≠ j: the sum of rights transferred from `i` to `j` (no zero entries).
    var transfers: [Link: UInt64]
    /// `U[i]`: the sum of decrements made at each replica.
    var decrements: VectorClock

    /// `BoundedCounter` (no value type).
    public static var typeCode: CRDTTypeCode { CRDTTypeCode(.boundedCounter) }

    /// False: it keeps no metadata that `compactObserved()` removes.
    public static var compactsObservedMetadata: Bool { false }

    /// The counter at zero; no replica holds rights.
    public init() {
        increments = VectorClock()
        transfers = [:]
        decrements = VectorClock()
    }

    private var exactValue: Int128 {
        Int128(clamping: increments.entries.reduce(UInt128(0)) { $0 + UInt128($1.counter) })
            - Int128(clamping: decrements.entries.reduce(UInt128(0)) { $0 + UInt128($1.counter) })
    }

    /// The sum of the increments minus the sum of the decrements: never below zero in a state
    /// that replicas reach by causal delivery. (A lone delta, which need not be causally
    /// complete, reads as 0 rather than negative.)
    /// - Complexity: O(n + t) in the numbers of replicas and transfer links.
    public var value: Int64 { Int64(clamping: Swift.max(0, exactValue)) }

    private func exactRights(of replica: ReplicaID) -> Int128 {
        var rights = Int128(increments[replica]) - Int128(decrements[replica])
        for (link, amount) in transfers {
            if link.destination == replica { rights += Int128(amount) }
            if link.source == replica { rights -= Int128(amount) }
        }
        return rights
    }

    /// The rights `replica` holds in this state: what it may decrement or transfer here.
    /// Its increments plus the rights transferred to it, minus what it transferred away and
    /// decremented. Clamped into `Int64`.
    /// - Complexity: O(t) in the number of transfer links.
    public func rights(of replica: ReplicaID) -> Int64 { Int64(clamping: exactRights(of: replica)) }

    /// Performs an operation at `context.replica` and returns its delta: the one matrix or
    /// vector entry it changed.
    ///
    /// - Throws: `CRDTError.insufficientRights` for a decrement or transfer beyond the
    ///   replica's rights; `.invalidArgument` for a negative amount or a transfer to the
    ///   replica itself; `.overflow` when an increment would take the value past
    ///   `Int64.max`. The state is then unchanged.
    /// - Complexity: O(n + t).
    public mutating func apply(_ operation: Operation, context: UpdateContext) throws(CRDTError) -> BoundedCounter {
        let replica = context.replica
        var delta = BoundedCounter()
        switch operation {
        case .increment(let amount):
            try Self.requireNonNegative(amount, operation)
            guard exactValue + Int128(amount) <= Int128(Int64.max),
                exactRights(of: replica) + Int128(amount) <= Int128(Int64.max),
                case (let total, false) = increments[replica].addingReportingOverflow(amount.magnitude)
            else {
                throw CRDTError(.overflow, "incrementing \(value) by \(amount) passes Int64.max; nothing was changed")
            }
            guard amount > 0 else { return delta }
            increments[replica] = total
            delta.increments[replica] = total
        case .decrement(let amount):
            try Self.requireNonNegative(amount, operation)
            try requireRights(amount, at: replica, operation)
            guard case (let total, false) = decrements[replica].addingReportingOverflow(amount.magnitude) else {
                throw CRDTError(.overflow, "the decrements of \(replica) pass UInt64.max; nothing was changed")
            }
            guard amount > 0 else { return delta }
            decrements[replica] = total
            delta.decrements[replica] = total
        case .transfer(let amount, let destination):
            guard destination != replica else {
                throw CRDTError(.invalidArgument, "\(replica) cannot transfer rights to itself; nothing was changed")
            }
            try Self.requireNonNegative(amount, operation)
            try requireRights(amount, at: replica, operation)
            let link = Link(source: replica, destination: destination)
            guard case (let total, false) = transfers[link, default: 0].addingReportingOverflow(amount.magnitude) else {
                throw CRDTError(
                    .overflow, "the transfers \(replica) → \(destination) pass UInt64.max; nothing was changed")
            }
            guard amount > 0 else { return delta }
            transfers[link] = total
            delta.transfers[link] = total
        }
        return delta
    }

    private static func requireNonNegative(_ amount: Int64, _ operation: Operation) throws(CRDTError) {
        guard amount >= 0 else {
            throw CRDTError(
                .invalidArgument, "\(operation): a bounded counter's amounts are non-negative; nothing was changed")
        }
    }

    private func requireRights(_ amount: Int64, at replica: ReplicaID, _ operation: Operation) throws(CRDTError) {
        let available = exactRights(of: replica)
        guard Int128(amount) <= available else {
            throw CRDTError(
                .insufficientRights,
                "\(operation) at \(replica) needs \(amount) rights and \(replica) holds \(available); nothing was changed. Transfer rights to \(replica) first"
            )
        }
    }

    /// Pointwise maximum of every matrix and vector entry. - Complexity: O(n + t).
    public mutating func join(_ other: BoundedCounter) {
        increments.merge(other.increments)
        decrements.merge(other.decrements)
        transfers.merge(other.transfers, uniquingKeysWith: Swift.max)
    }

    /// Encodes the increments (a vector clock), the transfers as (source, destination, amount)
    /// sorted by source then destination, then the decrements (a vector clock); zero entries
    /// are omitted. - Complexity: O(n + t log t).
    public func encode(to writer: inout ByteWriter) {
        increments.encode(to: &writer)
        writer.writeCount(transfers.count)
        for (link, amount) in transfers.sorted(by: { $0.key < $1.key }) {
            writer.writeVarUInt(link.source.rawValue)
            writer.writeVarUInt(link.destination.rawValue)
            writer.writeVarUInt(amount)
        }
        decrements.encode(to: &writer)
    }

    /// Decodes a canonical encoding.
    /// - Throws: `CodecError` on truncated input; `.inconsistent` for entries that are zero,
    ///   repeated or out of order, or a transfer from a replica to itself.
    /// - Complexity: O(n + t).
    public init(from reader: inout ByteReader) throws(CodecError) {
        let increments = try VectorClock(from: &reader)
        let count = try reader.readCount(minimumElementSize: 3)
        var transfers: [Link: UInt64] = [:]
        transfers.reserveCapacity(count)
        var previous: Link?
        for _ in 0..<count {
            let link = Link(
                source: ReplicaID(try reader.readVarUInt()), destination: ReplicaID(try reader.readVarUInt()))
            let amount = try reader.readVarUInt()
            guard link.source != link.destination else {
                throw reader.error(.inconsistent, "a transfer from \(link.source) to itself")
            }
            guard amount > 0 else {
                throw reader.error(.inconsistent, "the transfer \(link.source) → \(link.destination) is zero")
            }
            if let previous, previous >= link {
                throw reader.error(
                    .inconsistent, "transfers out of order or repeated at \(link.source) → \(link.destination)")
            }
            transfers[link] = amount
            previous = link
        }
        let decrements = try VectorClock(from: &reader)
        self.increments = increments
        self.transfers = transfers
        self.decrements = decrements
    }

    /// `BoundedCounter(increments, transfers, decrements)`.
    public var description: String {
        let links = transfers.sorted { $0.key < $1.key }.map { "\($0.key.source)→\($0.key.destination): \($0.value)" }
        return "BoundedCounter(+\(increments) transfers [\(links.joined(separator: ", "))] −\(decrements))"
    }
}
