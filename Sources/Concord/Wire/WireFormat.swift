/// The replication wire format, exposed for validation tools and fuzzers.
public enum WireFormat {
    /// Decodes `bytes` as a replication message the way a receiving replica does, and
    /// throws what a receiver would reject.
    ///
    /// A receiving replica counts such a message and drops it; nothing is applied.
    /// - Throws: `CodecError` for any malformed input (never traps).
    /// - Returns: a one-line summary of the message.
    @discardableResult
    public static func validate(_ bytes: [UInt8]) throws(CodecError) -> String {
        let message = try Message(decoding: bytes)
        let kind: String
        switch message.payload {
        case .clock: kind = "clock"
        case .interval(let interval):
            kind = "interval of \(interval.transactions) transactions, \(interval.objectCount) objects"
        case .state(let objects): kind = "state of \(objects.count) objects"
        case .encodedState(let objects): kind = "state of \(objects.count) objects"
        }
        return "\(kind) from \(message.sender) (incarnation \(message.envelope.incarnation)) at \(message.clock)"
    }

    /// Encodes sample messages (one of each kind) for seed corpora and tests.
    public static func sampleMessages() -> [[UInt8]] {
        let counter = Key<PNCounter>("c", bucket: "b").object
        var delta = PNCounter()
        do {
            delta = try delta.apply(.increment(3), context: UpdateContext(replica: 1))
        } catch {
            preconditionFailure("incrementing an empty counter by 3 cannot fail: \(error)")
        }
        let interval = DeltaInterval(
            from: [1: 1], to: [1: 2, 2: 1], transactions: 2, timeMicroseconds: 7,
            objects: [ObjectDelta(key: counter, state: delta)])
        return [
            Message(sender: 1, incarnation: 1, clock: [1: 2], payload: .clock).encoded(),
            Message(sender: 1, incarnation: 2, clock: [1: 2, 2: 1], payload: .interval(interval)).encoded(),
            Message(
                sender: 2, incarnation: 1, clock: [1: 2, 2: 1], wantsState: true,
                payload: .state(objects: [ObjectDelta(key: counter, state: delta)])
            ).encoded(),
        ]
    }
}
