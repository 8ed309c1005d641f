import LMDB

/// What a replica's store holds about replication, as read when the replica opens.
struct PersistedReplicaState {
    var clock = VectorClock()
    var logFloor = VectorClock()
    var incarnation: UInt64 = 0
    var needsState = false
    /// The boot a replica that was never closed cleanly was opened in (nil after a clean
    /// close).
    var openedInBoot: String?
    var peers: [ReplicaID: PersistedPeer] = [:]
    var logEntries: [ReplicationLog.Entry] = []

    /// What a replica persists about one peer: its incarnation and acknowledged clock.
    struct PersistedPeer: Equatable {
        var incarnation: UInt64
        var acknowledged: VectorClock
    }
}

/// The reads the replica core makes while it plans a step. `Storage` is the real one; unit
/// tests of the core may use another.
protocol ReplicaStoreReader {
    /// The stored states of `keys`, in order, read from one snapshot (nil: never written).
    func objects(_ keys: [ObjectKey]) throws(ConcordError) -> [(any CRDT)?]
    /// The log entries at `indexes`, in that order, read from one snapshot; missing ones
    /// are skipped.
    func logEntries(_ indexes: [UInt64]) throws(ConcordError) -> [DeltaInterval]
    /// The stored bytes (`CRDT.serialized()`) of `keys`, in order, read from one snapshot
    /// (nil: never written).
    func storedStates(_ keys: [ObjectKey]) throws(ConcordError) -> [[UInt8]?]
    /// Every stored object, in key order.
    func allObjects() throws(ConcordError) -> [ObjectDelta]
    /// Every stored object whose key `include` accepts, in key order.
    func allObjects(where include: (ObjectKey) -> Bool) throws(ConcordError) -> [ObjectDelta]
    /// Every stored object, in key order, encoded as a state message carries them.
    func allObjectsEncoded() throws(ConcordError) -> DeltaInterval.EncodedObjects
    /// The log entry at `index` with its objects left encoded (see
    /// `DeltaInterval.encodedObjects`), or nil when it is missing.
    func logEntryKeepingObjectsEncoded(_ index: UInt64) throws(ConcordError) -> DeltaInterval?
}

extension ReplicaStoreReader {
    /// Serializes `objects(keys)` (stores that keep objects decoded).
    func storedStates(_ keys: [ObjectKey]) throws(ConcordError) -> [[UInt8]?] {
        try objects(keys).map { $0?.serialized() }
    }

    /// Filters `allObjects()` (stores that keep objects decoded, such as the tests' in-memory store).
    func allObjects(where include: (ObjectKey) -> Bool) throws(ConcordError) -> [ObjectDelta] {
        try allObjects().filter { include($0.key) }
    }

    /// Encodes `allObjects()` (stores that keep objects decoded).
    func allObjectsEncoded() throws(ConcordError) -> DeltaInterval.EncodedObjects {
        .init(try allObjects())
    }

    /// Reads the entry whole and encodes its objects again (stores that keep entries
    /// decoded, such as the tests' in-memory store).
    func logEntryKeepingObjectsEncoded(_ index: UInt64) throws(ConcordError) -> DeltaInterval? {
        guard var entry = try logEntries([index]).first else { return nil }
        entry.encodedObjects = .init(entry.objects)
        entry.objects = []
        return entry
    }
}

extension Storage: ReplicaStoreReader {
    /// The replica's clock as `txn` sees it (empty in a new store): the recorded clock
    /// joined with the end of the log's last entry (see `formatVersion` 3).
    func storedClock(_ txn: borrowing ReadTransaction) throws -> VectorClock {
        var clock = try recordedClock(txn)
        try txn.forEach(in: log, reverse: true) { key, value in
            let index = try Self.logIndex(key)
            clock.merge(try logEntryEnd(index, key: key, record: value))
            return false
        }
        return clock
    }

    /// The replica's clock as `txn` sees it, as `storedClock` reads it, but taken from
    /// `committedClock` when that holds the clock of `txn`'s snapshot: then nothing is read
    /// from the log's tail, the page the writer writes next.
    func snapshotClock(_ txn: borrowing ReadTransaction) throws -> VectorClock {
        let id = txn.id
        guard let clock = committedClock.clock(committedIn: id) else { return try storedClock(txn) }
        #if DEBUG || CONCORD_INVARIANTS
            // Tests and `make invariants` check every noted clock they use against the store
            // (a store that cannot be read throws, as without the note).
            let stored = try storedClock(txn)
            precondition(stored == clock, "replica \(replica) noted \(clock) for commit \(id), stored \(stored)")
        #endif
        return clock
    }

    /// The clock record: the clock as of the last step that recorded it (a local commit
    /// does not; its log entry's end holds the clock instead).
    func recordedClock(_ txn: borrowing ReadTransaction) throws -> VectorClock {
        guard let bytes = try value(MetaKey.clock, in: .meta, txn, what: "the clock") else { return VectorClock() }
        return try Self.decode("the clock", bytes) { (r: inout ByteReader) throws(CodecError) in
            try VectorClock(from: &r)
        }
    }

    /// The end (`to`) of log entry `index`, read from its stored record without decoding
    /// its objects.
    func logEntryEnd(_ index: UInt64, key: UnsafeRawBufferPointer, record: UnsafeRawBufferPointer)
        throws(ConcordError) -> VectorClock
    {
        let plain = try opened(record, .log, key: Array(key), what: "log entry \(index)")
        var reader = ByteReader(plain)
        do throws(CodecError) {
            _ = try VectorClock(from: &reader)
            return try VectorClock(from: &reader)
        } catch {
            throw .corrupted(error, "log entry \(index)")
        }
    }

    /// Reads the replication metadata and the log's index (not the entries' objects).
    func loadReplicaState(of replica: ReplicaID) throws(ConcordError) -> PersistedReplicaState {
        let log = log
        return try read("load replica \(replica)") { txn in
            var state = PersistedReplicaState()
            state.clock = try recordedClock(txn)
            if let bytes = try value(MetaKey.logFloor, in: .meta, txn, what: "the log floor") {
                state.logFloor = try Self.decode("the log floor", bytes) { (r: inout ByteReader) throws(CodecError) in
                    try VectorClock(from: &r)
                }
            }
            if let bytes = try value(MetaKey.incarnation, in: .meta, txn, what: "the incarnation") {
                state.incarnation = try Self.decode("the incarnation", bytes) {
                    (r: inout ByteReader) throws(CodecError) in try r.readVarUInt()
                }
            }
            if let bytes = try value(MetaKey.needsState, in: .meta, txn, what: "the bootstrap flag") {
                state.needsState = try Self.decode("the bootstrap flag", bytes) {
                    (r: inout ByteReader) throws(CodecError) in try r.readBool()
                }
            }
            if let bytes = try value(MetaKey.openedInBoot, in: .meta, txn, what: "the boot it was opened in") {
                state.openedInBoot = try Self.decode("the boot it was opened in", bytes) {
                    (r: inout ByteReader) throws(CodecError) in try r.readString()
                }
            }
            if let bytes = try value(MetaKey.peers, in: .meta, txn, what: "the peers' clocks") {
                state.peers = try Self.decode("the peers' clocks", bytes) {
                    (r: inout ByteReader) throws(CodecError) in try Self.decodePeers(&r)
                }
            }
            try txn.forEach(in: log) { key, value in
                let index = try Self.logIndex(key)
                let plain = try opened(value, .log, key: Array(key), what: "log entry \(index)")
                let header = try Self.decode("log entry \(index)", plain) {
                    (r: inout ByteReader) throws(CodecError) in try DeltaInterval(from: &r)
                }
                state.logEntries.append(.init(index: index, to: header.to, timeMicroseconds: header.timeMicroseconds))
                return true
            }
            // The clock, as `storedClock` reads it.
            if let last = state.logEntries.last { state.clock.merge(last.to) }
            return state
        }
    }

    static func decodePeers(_ reader: inout ByteReader) throws(CodecError) -> [ReplicaID: PersistedReplicaState
        .PersistedPeer]
    {
        let count = try reader.readCount(minimumElementSize: 3)
        var peers: [ReplicaID: PersistedReplicaState.PersistedPeer] = [:]
        for _ in 0..<count {
            let peer = try ReplicaID(from: &reader)
            let incarnation = try reader.readVarUInt()
            let acknowledged = try VectorClock(from: &reader)
            guard peers.updateValue(.init(incarnation: incarnation, acknowledged: acknowledged), forKey: peer) == nil
            else {
                throw reader.error(.inconsistent, "peer \(peer) listed twice")
            }
        }
        return peers
    }

    static func encodePeers(_ peers: [(ReplicaID, PersistedReplicaState.PersistedPeer)]) -> [UInt8] {
        var writer = ByteWriter()
        let sorted = peers.sorted { $0.0 < $1.0 }
        writer.writeCount(sorted.count)
        for (peer, state) in sorted {
            peer.encode(to: &writer)
            writer.writeVarUInt(state.incarnation)
            state.acknowledged.encode(to: &writer)
        }
        return writer.bytes
    }

    func objects(_ keys: [ObjectKey]) throws(ConcordError) -> [(any CRDT)?] {
        return try read("read \(keys.count) objects") { txn in
            var states: [(any CRDT)?] = []
            states.reserveCapacity(keys.count)
            for key in keys {
                states.append(
                    try objectState(key, txn).map {
                        (bytes) throws(ConcordError) in try Self.decodeObject(key, bytes)
                    })
            }
            return states
        }
    }

    /// Reads `keys` one by one, or, when they are many, sorted, and the store's keys are
    /// in key order, in one cursor pass beside them (a state transfer asks for every object:
    /// a step to the next record costs a fraction of a search from the root).
    func storedStates(_ keys: [ObjectKey]) throws(ConcordError) -> [[UInt8]?] {
        let objects = objects
        return try read("read \(keys.count) objects") { txn in
            let inOrder = sealer?.objectKeys == nil && zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 }
            guard inOrder, keys.count >= 64, keys.count * 4 >= (try txn.count(in: objects)) else {
                var states: [[UInt8]?] = []
                states.reserveCapacity(keys.count)
                for key in keys { states.append(try objectState(key, txn)) }
                return states
            }
            var states = [[UInt8]?](repeating: nil, count: keys.count)
            var index = 0
            try txn.forEach(in: objects, from: keys[0].bytes) { stored, record in
                while index < keys.count && ObjectKey.compare(keys[index].bytes, stored) < 0 { index += 1 }
                guard index < keys.count else { return false }
                if ObjectKey.compare(keys[index].bytes, stored) == 0 {
                    let key = keys[index]
                    states[index] = try openedObject(
                        record, objectKey: key.bytes, storageKey: key.bytes, what: "the state of \(key)")
                    index += 1
                }
                return index < keys.count
            }
            return states
        }
    }

    func logEntryKeepingObjectsEncoded(_ index: UInt64) throws(ConcordError) -> DeltaInterval? {
        try read("read the log") { txn in
            guard let bytes = try value(Self.logKey(index), in: .log, txn, what: "log entry \(index)") else {
                return nil
            }
            return try Self.decode("log entry \(index)", bytes) { (r: inout ByteReader) throws(CodecError) in
                try DeltaInterval(keepingObjectsEncoded: &r)
            }
        }
    }

    /// Reads the log entries at `indexes` in one read transaction (missing ones are skipped).
    func logEntries(_ indexes: [UInt64]) throws(ConcordError) -> [DeltaInterval] {
        return try read("read the log") { txn in
            var entries: [DeltaInterval] = []
            for index in indexes {
                guard let bytes = try value(Self.logKey(index), in: .log, txn, what: "log entry \(index)") else {
                    continue
                }
                entries.append(
                    try Self.decode("log entry \(index)", bytes) { (r: inout ByteReader) throws(CodecError) in
                        try DeltaInterval(from: &r)
                    })
            }
            return entries
        }
    }

    /// Every object, sorted by key (LMDB's order, or sorted here when keys are hidden).
    func allObjects() throws(ConcordError) -> [ObjectDelta] {
        try allObjects { _ in true }
    }

    /// Every object whose key `include` accepts, sorted by key; the others are not decoded.
    func allObjects(where include: (ObjectKey) -> Bool) throws(ConcordError) -> [ObjectDelta] {
        let objects = objects
        let states = try read("read every object") { txn in
            var states: [ObjectDelta] = []
            try txn.forEach(in: objects) { key, value in
                if sealer?.objectKeys == nil {
                    // The key is the object's: ask before opening or copying the state.
                    let objectKey = try Self.objectKey(Array(key))
                    guard include(objectKey) else { return true }
                    let plain = try openedObject(
                        value, objectKey: objectKey.bytes, storageKey: objectKey.bytes,
                        what: "the state of \(objectKey)")
                    states.append(ObjectDelta(key: objectKey, state: try Self.decodeObject(objectKey, plain)))
                    return true
                }
                let (objectKey, plain) = try listedObject(key, value)
                if include(objectKey) {
                    states.append(ObjectDelta(key: objectKey, state: try Self.decodeObject(objectKey, plain)))
                }
                return true
            }
            return states
        }
        guard sealer?.objectKeys != nil else { return states }
        return states.sorted { $0.key < $1.key }
    }

    /// Every object in key order, encoded as a state message carries them (the count, then
    /// each key and state), written from the stored bytes without decoding them: they were
    /// checked when they were written, and the receiver decodes and checks them again. A
    /// state stored in an earlier format version is decoded and encoded in the current one.
    func allObjectsEncoded() throws(ConcordError) -> DeltaInterval.EncodedObjects {
        let objects = objects
        if sealer == nil {
            // A plain store: each key and state is written from the record in place.
            return try read("read every object") { txn in
                let count = try txn.count(in: objects)
                var writer = ByteWriter(capacity: 16 + count * 48)
                writer.writeCount(count)
                var types = RegisteredTypes()
                var written = 0
                try txn.forEach(in: objects) { key, record in
                    written += 1
                    if let code = ObjectKey.typeCode(ofEncoded: key),
                        let start = types.stateStart(in: record, type: code)
                    {
                        writer.writeBytes(key)
                        writer.writeRaw(UnsafeRawBufferPointer(rebasing: record[start...]))
                    } else {
                        let (objectKey, plain) = try listedObject(key, record)
                        writer.writeBytes(objectKey.bytes)
                        try Self.decodeObject(objectKey, plain).encode(to: &writer)
                    }
                    return true
                }
                guard written == count else {
                    throw ConcordError(.corrupted, "the objects database counts \(count) records and holds \(written)")
                }
                return DeltaInterval.EncodedObjects(count: count, bytes: writer.bytes)
            }
        }
        var listed = try read("read every object") { txn in
            var listed: [(key: ObjectKey, state: [UInt8])] = []
            try txn.forEach(in: objects) { key, value in
                listed.append(try listedObject(key, value))
                return true
            }
            return listed
        }
        if sealer?.objectKeys != nil { listed.sort { $0.key < $1.key } }
        var writer = ByteWriter(capacity: 8 + listed.reduce(0) { $0 + $1.key.bytes.count + $1.state.count + 2 })
        writer.writeCount(listed.count)
        var types = RegisteredTypes()
        for (key, stored) in listed {
            writer.writeBytes(key.bytes)
            if let body = types.state(in: stored, key: key) {
                writer.writeRaw(body)
            } else {
                try Self.decodeObject(key, stored).encode(to: &writer)
            }
        }
        return DeltaInterval.EncodedObjects(count: listed.count, bytes: writer.bytes)
    }

    /// Decodes a stored object state and checks it has the key's type.
    static func decodeObject(_ key: ObjectKey, _ bytes: [UInt8]) throws(ConcordError) -> any CRDT {
        let state: any CRDT
        do throws(CodecError) {
            state = try CRDTRegistry.decode(serialized: bytes)
        } catch {
            throw .corrupted(error, "the state of \(key)")
        }
        guard type(of: state).typeCode == key.type else {
            throw ConcordError(.corrupted, "\(key) holds a \(type(of: state).typeCode); the store is damaged")
        }
        return state
    }
}

/// The registered types of the objects of one pass (a state transfer, a compaction), by
/// type code: the registry's lock is taken once per code, and a run of objects of one type
/// costs one comparison.
struct RegisteredTypes {
    private var known: [CRDTTypeCode: (any CRDT.Type)?] = [:]
    private var last: (code: CRDTTypeCode, type: (any CRDT.Type)?)?

    /// The type registered for `code`, or nil.
    mutating func type(for code: CRDTTypeCode) -> (any CRDT.Type)? {
        if let last, last.code == code { return last.type }
        let type: (any CRDT.Type)?
        if let cached = known[code] {
            type = cached
        } else {
            type = CRDTRegistry.type(for: code)
            known[code] = type
        }
        last = (code, type)
        return type
    }

    /// Where the state's encoding starts in stored object bytes (`CRDT.serialized()`: the
    /// format version, the two bytes of the type code, the state) of type `code`; nil when
    /// they are not in that type's current format (an earlier version, another type, damage:
    /// decoding them says which).
    mutating func stateStart(in stored: UnsafeRawBufferPointer, type code: CRDTTypeCode) -> Int? {
        guard stored.count >= 3, stored[1] == code.kind.rawValue, stored[2] == code.valueTag,
            stored[0] == type(for: code)?.formatVersion
        else { return nil }
        return 3
    }

    /// The state's encoding within the stored bytes of `key` (see `stateStart(in:type:)`).
    mutating func state(in stored: [UInt8], key: ObjectKey) -> ArraySlice<UInt8>? {
        stored.withUnsafeBytes { stateStart(in: $0, type: key.type) }.map { stored[$0...] }
    }
}
