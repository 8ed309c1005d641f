/// The delta (or full state) of one object inside a log entry or a message.
struct ObjectDelta: Sendable, Equatable {
    var key: ObjectKey
    var state: any CRDT
    /// The state's bytes as a message carried them (set by decoding, nil otherwise): a
    /// receiver that stores exactly these bytes has nothing to join.
    var encodedState: ArraySlice<UInt8>?

    static func == (lhs: ObjectDelta, rhs: ObjectDelta) -> Bool {
        lhs.key == rhs.key && lhs.state.serialized() == rhs.state.serialized()
    }

    func encode(to writer: inout ByteWriter) {
        writer.writeBytes(key.bytes)
        state.encode(to: &writer)
    }

    init(key: ObjectKey, state: any CRDT) {
        self.key = key
        self.state = state
    }

    /// Decodes a count-prefixed list of objects in strictly increasing key order.
    static func decodeList(from reader: inout ByteReader, in what: String) throws(CodecError) -> [ObjectDelta] {
        let count = try reader.readCount(minimumElementSize: 4)
        var objects: [ObjectDelta] = []
        objects.reserveCapacity(count)
        var decoder = CRDTRegistry.Decoder()
        for _ in 0..<count {
            let object = try ObjectDelta(from: &reader, decoder: &decoder)
            if let last = objects.last, !(last.key < object.key) {
                throw reader.error(.inconsistent, "\(what) objects out of order or repeated at \(object.key)")
            }
            objects.append(object)
        }
        return objects
    }

    /// Decodes one object, its state with `decoder`.
    init(from reader: inout ByteReader, decoder: inout CRDTRegistry.Decoder) throws(CodecError) {
        key = try ObjectKey(bytes: reader.readBytes())
        let start = reader.offset
        state = try decoder.decode(key.type, from: &reader)
        encodedState = reader.bytes(in: start..<reader.offset)
    }
}

/// A delta interval: the join, per object, of the deltas of whole transactions.
///
/// `from` is what a receiver must already have seen to apply it (the causal delta-merging
/// condition); `to` is what the receiver has seen after applying it. One local transaction
/// is the interval (clock before, clock after) holding its own deltas; intervals shipped to
/// peers join consecutive log entries, never splitting one.
struct DeltaInterval: Sendable, Equatable {
    var from: VectorClock
    var to: VectorClock
    /// How many transactions it joins (for reports).
    var transactions: UInt64
    /// When it was created or received, in microseconds (for lag reports).
    var timeMicroseconds: UInt64
    /// Sorted by key, one entry per object (empty when `encodedObjects` holds them).
    var objects: [ObjectDelta]
    /// The objects still encoded, as a log entry stored them (their count, then each
    /// object): an interval shipped straight from one log entry is sent without decoding
    /// and encoding its objects again. Only outgoing intervals have it; decoding a message
    /// always fills `objects`.
    var encodedObjects: EncodedObjects?

    /// Objects kept in their encoded form (see `encodedObjects`).
    struct EncodedObjects: Sendable, Equatable {
        /// How many objects `bytes` holds.
        var count: Int
        /// The count, then each object, as `DeltaInterval.encode` writes them.
        var bytes: [UInt8]

        init(count: Int, bytes: [UInt8]) {
            self.count = count
            self.bytes = bytes
        }

        /// Encodes `objects`.
        init(_ objects: [ObjectDelta]) {
            var writer = ByteWriter()
            writer.writeCount(objects.count)
            for object in objects { object.encode(to: &writer) }
            self.init(count: objects.count, bytes: writer.bytes)
        }
    }

    /// How many objects it carries.
    var objectCount: Int { encodedObjects?.count ?? objects.count }

    func encode(to writer: inout ByteWriter) {
        Self.encodeHeader(from: from, to: to, transactions: transactions, timeMicroseconds: timeMicroseconds, &writer)
        if let encodedObjects {
            writer.writeRaw(encodedObjects.bytes)
            return
        }
        writer.writeCount(objects.count)
        for object in objects { object.encode(to: &writer) }
    }

    init(from: VectorClock, to: VectorClock, transactions: UInt64, timeMicroseconds: UInt64, objects: [ObjectDelta]) {
        self.from = from
        self.to = to
        self.transactions = transactions
        self.timeMicroseconds = timeMicroseconds
        self.objects = objects
    }

    init(from reader: inout ByteReader) throws(CodecError) {
        try self.init(keepingObjectsEncoded: &reader, decodingObjects: true)
    }

    /// Decodes the clocks and counts of a stored interval and keeps its objects encoded
    /// (see `encodedObjects`): they were checked when they were written, and a receiver
    /// decodes and checks them again.
    init(keepingObjectsEncoded reader: inout ByteReader) throws(CodecError) {
        try self.init(keepingObjectsEncoded: &reader, decodingObjects: false)
    }

    private init(keepingObjectsEncoded reader: inout ByteReader, decodingObjects: Bool) throws(CodecError) {
        from = try VectorClock(from: &reader)
        to = try VectorClock(from: &reader)
        guard to.dominates(from) else { throw reader.error(.inconsistent, "interval ends before it starts") }
        transactions = try reader.readVarUInt()
        timeMicroseconds = try reader.readVarUInt()
        if decodingObjects {
            objects = try ObjectDelta.decodeList(from: &reader, in: "interval")
            return
        }
        var counting = reader
        let count = try counting.readCount(minimumElementSize: 4)
        objects = []
        encodedObjects = EncodedObjects(count: count, bytes: try reader.readRaw(count: reader.remaining))
    }

    func encodedBytes() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.capacity(forObjects: objects.count))
        encode(to: &writer)
        return writer.bytes
    }

    /// The clocks, the transaction count and the time: what precedes the objects.
    private static func encodeHeader(
        from: VectorClock, to: VectorClock, transactions: UInt64, timeMicroseconds: UInt64,
        _ writer: inout ByteWriter
    ) {
        from.encode(to: &writer)
        to.encode(to: &writer)
        writer.writeVarUInt(transactions)
        writer.writeVarUInt(timeMicroseconds)
    }

    /// A first buffer for an interval of `count` objects. Two clocks, a key and a delta: a
    /// single small update's entry is about 170 bytes, which outgrew 128 and cost a second
    /// malloc and a copy.
    private static func capacity(forObjects count: Int) -> Int { 256 + (count > 1 ? 128 * count : 0) }

    /// The encoding of the interval of one local transaction from `from` to `to`, straight
    /// from its working copies (in key order), as `encodedBytes()` of the interval with
    /// their deltas would be, without making that interval's `ObjectDelta` existentials;
    /// `state` receives each object's serialized state, in the same order (see
    /// `WorkingObject.encodeDelta(to:)`).
    static func encodedBytes(
        from: VectorClock, to: VectorClock, timeMicroseconds: UInt64, working objects: [WorkingObject],
        state: (WorkingObject, [UInt8]) -> Void
    ) -> [UInt8] {
        var writer = ByteWriter(capacity: capacity(forObjects: objects.count))
        encodeHeader(from: from, to: to, transactions: 1, timeMicroseconds: timeMicroseconds, &writer)
        writer.writeCount(objects.count)
        for object in objects {
            writer.writeBytes(object.key.bytes)
            state(object, object.encodeDelta(to: &writer))
        }
        return writer.bytes
    }

    init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        self = try DeltaInterval(from: &reader)
        try reader.finish()
    }
}
