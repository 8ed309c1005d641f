/// What every message says about its sender, in front of the payload.
struct Envelope: Sendable, Equatable {
    var sender: ReplicaID
    /// Increments each time the sender's replica is opened, so peers can tell a restarted
    /// replica (whose clock may have moved back under `.noSync`) from a delayed message.
    var incarnation: UInt64
    var clock: VectorClock
    /// The sender was wiped or is new and asks for a full state before it writes.
    var wantsState: Bool
    /// The receiver's incarnation as the sender knows it: a restarted or wiped replica
    /// learns from it that a peer has heard of its new incarnation.
    var receiverIncarnation: UInt64 = 0
    /// How many replicas the sender knew to have been removed: a report from an earlier
    /// membership may predate transactions a removed replica left behind, so compaction
    /// counts only reports from the current one.
    var epoch: UInt64 = 0
    /// The sender is bootstrapping and has not yet seen the receiver echo its incarnation:
    /// the receiver answers with a clock message (which carries the echo).
    var wantsEcho = false
    /// The sender is a wiped or new replica that has not finished bootstrapping (so it has
    /// compacted nothing since it opened).
    var senderBootstrapping = false

    init(sender: ReplicaID, incarnation: UInt64, clock: VectorClock, wantsState: Bool) {
        self.sender = sender
        self.incarnation = incarnation
        self.clock = clock
        self.wantsState = wantsState
    }

    func encode(to writer: inout ByteWriter) {
        sender.encode(to: &writer)
        writer.writeVarUInt(incarnation)
        clock.encode(to: &writer)
        writer.writeBool(wantsState)
        writer.writeVarUInt(receiverIncarnation)
        writer.writeVarUInt(epoch)
        writer.writeBool(wantsEcho)
        writer.writeBool(senderBootstrapping)
    }

    init(from reader: inout ByteReader) throws(CodecError) {
        sender = try ReplicaID(from: &reader)
        incarnation = try reader.readVarUInt()
        clock = try VectorClock(from: &reader)
        wantsState = try reader.readBool()
        receiverIncarnation = try reader.readVarUInt()
        epoch = try reader.readVarUInt()
        wantsEcho = try reader.readBool()
        senderBootstrapping = try reader.readBool()
    }
}

/// What replicas say to each other. Every message carries the sender's clock, which is how
/// peers learn what it has (acknowledgement) and how stability is computed.
struct Message: Sendable, Equatable {
    enum Payload: Sendable, Equatable {
        /// "I have this clock" (acknowledgement, heartbeat, hello after a restart).
        case clock
        /// A delta interval to apply when its `from` is covered.
        case interval(DeltaInterval)
        /// Every object's full state, as of `Message.clock`: for peers that lag past the log.
        case state(objects: [ObjectDelta])
        /// `state`, with the objects still encoded as the store holds them, so a state
        /// transfer is sent without decoding and encoding every object. Only outgoing
        /// messages have it: decoding always gives `state`.
        case encodedState(DeltaInterval.EncodedObjects)
    }

    /// 2: adds the sender's membership epoch (compaction waits for reports from the
    /// current membership).
    static let wireVersion: UInt8 = 2

    /// What the message says about its sender (and what the sender knows of the receiver).
    var envelope: Envelope
    var payload: Payload

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.writeByte(Self.wireVersion)
        switch payload {
        case .clock: writer.writeByte(1)
        case .interval: writer.writeByte(2)
        case .state, .encodedState: writer.writeByte(3)
        }
        envelope.encode(to: &writer)
        switch payload {
        case .clock: break
        case .interval(let interval): interval.encode(to: &writer)
        case .state(let objects):
            writer.writeCount(objects.count)
            for object in objects { object.encode(to: &writer) }
        case .encodedState(let objects):
            writer.writeRaw(objects.bytes)
        }
        return writer.bytes
    }

    init(sender: ReplicaID, incarnation: UInt64, clock: VectorClock, wantsState: Bool = false, payload: Payload) {
        envelope = Envelope(sender: sender, incarnation: incarnation, clock: clock, wantsState: wantsState)
        self.payload = payload
    }

    /// The sender.
    var sender: ReplicaID { envelope.sender }
    /// The sender's clock when it sent the message.
    var clock: VectorClock { envelope.clock }

    /// Reads what every message starts with: the version, the kind and the envelope.
    static func readPrefix(_ reader: inout ByteReader) throws(CodecError) -> (kind: UInt8, envelope: Envelope) {
        let version = try reader.readByte()
        guard version == wireVersion else {
            throw CodecError(.unsupportedVersion, offset: 0, "wire version \(version), expected \(wireVersion)")
        }
        let kind = try reader.readByte()
        return (kind, try Envelope(from: &reader))
    }

    /// The fields in front of a message's payload, and an interval's `to` clock: enough to
    /// recognize a duplicate without decoding its objects.
    struct Header {
        var envelope: Envelope
        var intervalTo: VectorClock?

        /// Decodes the header; `nil` from a header that is fine but not an interval's is
        /// not possible: a malformed header throws, and the full decode reports it.
        init(decoding bytes: [UInt8]) throws(CodecError) {
            var reader = ByteReader(bytes)
            let kind: UInt8
            (kind, envelope) = try Message.readPrefix(&reader)
            if kind == 2 {
                let from = try VectorClock(from: &reader)
                let to = try VectorClock(from: &reader)
                guard to.dominates(from), envelope.clock.dominates(to) else {
                    throw reader.error(.inconsistent, "interval clocks out of order")
                }
                intervalTo = to
            } else {
                intervalTo = nil
            }
        }
    }

    /// Decodes a message strictly: an unknown version or kind, a truncated or inconsistent
    /// body, or trailing bytes throw.
    init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        let kind: UInt8
        (kind, envelope) = try Self.readPrefix(&reader)
        switch kind {
        case 1:
            payload = .clock
        case 2:
            let interval = try DeltaInterval(from: &reader)
            guard envelope.clock.dominates(interval.to) else {
                throw reader.error(.inconsistent, "interval reaches past the sender's clock")
            }
            payload = .interval(interval)
        case 3:
            payload = .state(objects: try ObjectDelta.decodeList(from: &reader, in: "state"))
        default:
            throw CodecError(.unknownTag, offset: 1, "unknown message kind \(kind)")
        }
        try reader.finish()
    }
}
