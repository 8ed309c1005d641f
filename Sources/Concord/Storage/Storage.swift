import Foundation
import LMDB

/// A replica's on-disk schema: one LMDB environment with three named databases.
///
/// - `objects`: object key → `CRDT.serialized()` state.
/// - `log`: 8-byte big-endian log index → encoded `DeltaInterval` (local transactions and
///   applied remote intervals, kept until every member has them).
/// - `meta`: the format version, the replica's identity, clock, incarnation, log floor,
///   peers' clocks, whether the replica still waits for a state transfer, and whether it is
///   open (so the next opening knows whether the last one ended in a clean close).
///
/// - `conflicts`: 8-byte big-endian sequence number → conflict record (see
///   `Storage+Conflicts`); absent in stores made before it, which read as holding none.
///
/// Every change of objects, log and clock happens in one LMDB write transaction.
///
/// A class: reads hand it into closures and hold it past the replica's lock, and a copy of
/// a struct of ten references and databases took about a sixth of a read's instructions.
final class Storage: Sendable {
    /// The on-disk format this build writes.
    /// 2: `RWSet` states carry supersession clocks.
    /// 3: a local commit writes no clock record. The replica's clock is the recorded one
    ///    joined with the end (`to`) of the log's last entry (`storedClock`): a local
    ///    transaction's entry ends at the whole clock after it, and every other step that
    ///    moves the clock, or deletes log entries, records it.
    static let formatVersion: UInt64 = 3
    /// The formats this build reads. A store of format 2 is the same but for the clock
    /// record, which it keeps current: the rule of format 3 reads its clock as it is.
    /// Opening one for writing records format 3, so that an older build refuses it rather
    /// than read a clock the log has moved past.
    static let readableFormatVersions: ClosedRange<UInt64> = 2...3
    /// The format named in a sealed record's associated data (`Sealer`): the record
    /// layout, the same in formats 2 and 3, so a store's records need no resealing when
    /// it is opened by a newer build.
    static let sealedRecordFormat: UInt8 = 2

    enum MetaKey {
        static let format: [UInt8] = Array("format".utf8)
        static let replica: [UInt8] = Array("replica".utf8)
        static let clock: [UInt8] = Array("clock".utf8)
        static let incarnation: [UInt8] = Array("incarnation".utf8)
        static let logFloor: [UInt8] = Array("log-floor".utf8)
        static let peers: [UInt8] = Array("peers".utf8)
        static let needsState: [UInt8] = Array("needs-state".utf8)
        /// From a replica's opening until its clean close: the boot of the machine that
        /// opened it (`BootIdentity`). Found at the next opening, the replica was not closed
        /// cleanly; found with another boot's identity, the machine went down meanwhile and
        /// commits not yet flushed may be gone.
        static let openedInBoot: [UInt8] = Array("opened-in-boot".utf8)
        /// In an encrypted store, in the clear: the key check (`KeyCheck`).
        static let encryption: [UInt8] = Array("encryption".utf8)
        /// The secret object keys are hashed with, sealed (a store made with
        /// `Encryption.hidesObjectKeys` only).
        static let objectKeySecret: [UInt8] = Array("object-key-secret".utf8)
    }

    let environment: Environment
    /// The replica the store belongs to.
    let replica: ReplicaID
    /// Faults injected into this store's commits (tests and the simulator).
    let faults: StorageFaults?
    let objects: Database
    let log: Database
    let meta: Database
    /// The conflict records (nil only in a read-only store made before they existed).
    let conflicts: Database?
    /// The most conflict records kept (`Configuration.conflictRecordBound`).
    let conflictRecordBound: Int
    /// Conflicts recorded in this store, ever: shared by every copy of this `Storage`.
    let conflictCounter = ConflictCounter()
    /// Seals and opens its records when the store is encrypted (nil: plain). Set only while
    /// the store opens (`loadObjectKeyHiding`), before any other thread can see it: so the
    /// runtime's exclusivity check, made at each of its reads (twice per read of an object),
    /// is left out.
    @exclusivity(unchecked) nonisolated(unsafe) private(set) var sealer: Sealer?
    /// Under `.groupCommit`, the flushes its writers share (nil otherwise).
    let flushes: GroupCommit?
    /// The clock after the last commit the replica noted while observed (`snapshotClock`).
    let committedClock = CommittedClock()

    /// What `commit` committed.
    struct Commit {
        /// The commit's LMDB transaction id: a read transaction with this id sees this commit
        /// and nothing later (`ReadableTransaction.id`).
        let transaction: UInt64
        /// Under `.groupCommit`, the commit's number, to wait for with `waitUntilFlushed`; nil
        /// otherwise.
        let flushSequence: UInt64?
    }

    /// Opens (creating when absent) the environment at `path` and checks its format
    /// version and identity.
    ///
    /// With `configuration.encryption`, records are sealed, and the store's key check must
    /// open with the key (a new store records one); without, the store must be plain.
    /// `sealer` overrides that (a rekey passes one that also opens the old key's records).
    init(
        path: String, replica: ReplicaID, configuration: Configuration, faults: StorageFaults? = nil,
        sealer: Sealer? = nil, rekeying: Bool = false
    ) throws(ConcordError) {
        self.replica = replica
        self.faults = faults
        self.sealer =
            sealer
            ?? configuration.encryption.map {
                Sealer(replica: replica, current: $0)
            }
        conflictRecordBound = configuration.conflictRecordBound
        var options = EnvironmentOptions()
        options.mapSizeBytes = configuration.mapSizeBytes
        options.maximumMapSizeBytes = configuration.maximumMapSizeBytes
        options.maximumDatabases = 8
        switch configuration.durability {
        case .full:
            options.syncMode = .full
        case .noSync:
            options.syncMode = .noSync
        case .noSyncWriteMap:
            options.syncMode = .noSync
            options.writeMap = true
        case .groupCommit:
            options.syncMode = .noSync
        }
        flushes = configuration.durability == .groupCommit ? GroupCommit() : nil
        do {
            environment = try Environment.open(path: path, options: options)
            objects = try environment.database("objects")
            log = try environment.database("log")
            meta = try environment.database("meta")
            conflicts = try Self.openConflicts(in: environment)
        } catch let error as LMDBError {
            throw .storage(error, "cannot open the store of replica \(replica) at \(path)")
        } catch {
            throw ConcordError(
                .storage, "cannot open the store of replica \(replica) at \(path)", underlying: "\(error)")
        }
        do {
            try checkIdentity(replica, path: path, rekeying: rekeying)
            try loadObjectKeyHiding(refusingVisibleKeys: !rekeying)
            try loadConflictCount()
        } catch {
            environment.close()
            throw error
        }
    }

    /// Opens the store at `path` for reading only, as a process that does not own the cluster
    /// does (the owner may write meanwhile: every read is an LMDB snapshot). Nothing is
    /// written — with `inPlaceCopy` (a backup's files, which nobody else opens), not even
    /// LMDB's lock file.
    /// - Throws: `ConcordError.unavailable` when there is no store at `path`;
    ///   `.formatVersionMismatch`, `.invalidArgument` (another replica's store), `.corrupted`
    ///   or `.storage` as `init(path:replica:configuration:faults:)`.
    init(readingAt path: String, replica: ReplicaID, inPlaceCopy: Bool = false, encryption: Encryption? = nil)
        throws(ConcordError)
    {
        self.replica = replica
        self.faults = nil
        flushes = nil
        sealer = encryption.map { Sealer(replica: replica, current: $0) }
        conflictRecordBound = Configuration().conflictRecordBound
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            throw ConcordError(.unavailable, "replica \(replica) has no store at \(path)")
        }
        var options = EnvironmentOptions()
        options.maximumDatabases = 8
        options.readOnly = true
        options.createDirectory = false
        options.noLock = inPlaceCopy
        do {
            environment = try Environment.open(path: path, options: options)
            do {
                objects = try environment.database("objects", create: false)
                log = try environment.database("log", create: false)
                meta = try environment.database("meta", create: false)
                conflicts = try Self.openConflicts(in: environment)
            } catch {
                environment.close()
                throw error
            }
        } catch let error as LMDBError where error.code == LMDBError.notFound.code {
            throw ConcordError(
                .corrupted, "the store of replica \(replica) at \(path) lacks one of its tables",
                underlying: error.description)
        } catch let error as LMDBError {
            throw .storage(error, "cannot open the store of replica \(replica) at \(path) for reading")
        } catch {
            throw ConcordError(
                .storage, "cannot open the store of replica \(replica) at \(path) for reading",
                underlying: "\(error)")
        }
        do {
            try checkStoredIdentity(replica, path: path)
            try loadObjectKeyHiding(refusingVisibleKeys: false)
            try loadConflictCount()
        } catch {
            environment.close()
            throw error
        }
    }

    /// Checks the format version, the replica id and the key of a store opened for reading.
    private func checkStoredIdentity(_ replica: ReplicaID, path: String) throws(ConcordError) {
        let (format, stored, check) = try read("read the identity of replica \(replica)'s store") { txn in
            (
                try txn.get(MetaKey.format, in: meta), try txn.get(MetaKey.replica, in: meta),
                try txn.get(MetaKey.encryption, in: meta)
            )
        }
        guard let format else {
            throw ConcordError(
                .corrupted, "the store at \(path) records no format version; it is not a replica's store")
        }
        try Self.checkIdentity(format: format, owner: stored, of: replica, path: path)
        _ = try checkKey(check, isNew: false, rekeying: false)
    }

    /// Checks a store's recorded format version and owner against this build and `replica`;
    /// returns the version.
    /// - Throws: `.formatVersionMismatch`; `.invalidArgument` for another replica's store;
    ///   `.corrupted` when either does not decode.
    @discardableResult
    private static func checkIdentity(format: [UInt8], owner: [UInt8]?, of replica: ReplicaID, path: String)
        throws(ConcordError) -> UInt64
    {
        let version = try decode("the format version", format) { (r: inout ByteReader) throws(CodecError) in
            try r.readVarUInt()
        }
        guard readableFormatVersions.contains(version) else {
            throw ConcordError(
                .formatVersionMismatch,
                "the store at \(path) has format version \(version); this build reads versions "
                    + "\(readableFormatVersions.lowerBound) to \(readableFormatVersions.upperBound)")
        }
        let stored = try decode("the replica id", owner ?? []) { (r: inout ByteReader) throws(CodecError) in
            try ReplicaID(from: &r)
        }
        guard stored == replica else {
            throw ConcordError(.invalidArgument, "the store at \(path) belongs to replica \(stored), not \(replica)")
        }
        return version
    }

    private func checkIdentity(_ replica: ReplicaID, path: String, rekeying: Bool) throws(ConcordError) {
        try write("initialize the store of replica \(replica)") { txn in
            let check = try txn.get(MetaKey.encryption, in: meta)
            if let format = try txn.get(MetaKey.format, in: meta) {
                let version = try Self.checkIdentity(
                    format: format, owner: try txn.get(MetaKey.replica, in: meta), of: replica, path: path)
                if version < Self.formatVersion {
                    // Read as it is (see `readableFormatVersions`); from now on written as the current format.
                    try txn.put(Self.formatVersion.encodedBytes(), forKey: MetaKey.format, in: meta)
                }
                if let first = try checkKey(check, isNew: false, rekeying: rekeying) {
                    try txn.put(first.encoded(), forKey: MetaKey.encryption, in: meta)
                }
            } else {
                try txn.put(UInt64(Self.formatVersion).encodedBytes(), forKey: MetaKey.format, in: meta)
                try txn.put(replica.encodedBytes(), forKey: MetaKey.replica, in: meta)
                if let first = try checkKey(check, isNew: true, rekeying: rekeying) {
                    try txn.put(first.encoded(), forKey: MetaKey.encryption, in: meta)
                    if let sealer, sealer.hidesObjectKeys {
                        let secret = ObjectKeyHiding.newSecret()
                        try txn.put(
                            sealer.seal(secret, .meta, key: MetaKey.objectKeySecret), forKey: MetaKey.objectKeySecret,
                            in: meta)
                    }
                }
            }
        }
    }

    /// Reads the secret an encrypted store hashes its object keys with, if it has one.
    /// - Throws: `.invalidArgument` when hiding object keys was asked of a store that keeps
    ///   them visible (and `refusingVisibleKeys`); `.corrupted` when the secret does not open.
    private func loadObjectKeyHiding(refusingVisibleKeys: Bool) throws(ConcordError) {
        guard let sealer else { return }
        let name = "the store of replica \(replica.rawValue)"
        let secret = try read("read the object key secret of \(name)") { txn in
            try value(MetaKey.objectKeySecret, in: .meta, txn, what: "the object key secret of \(name)")
        }
        guard let secret else {
            if refusingVisibleKeys && sealer.hidesObjectKeys {
                throw ConcordError(
                    .invalidArgument,
                    "\(name) keeps its object keys visible: hiding them is chosen when a store is made "
                        + "(open it without hidesObjectKeys, or copy the data into a new cluster)")
            }
            return
        }
        guard secret.count == ObjectKeyHiding.secretBytes else {
            throw ConcordError(
                .corrupted,
                "the object key secret of \(name) has \(secret.count) bytes, not \(ObjectKeyHiding.secretBytes)")
        }
        self.sealer = sealer.hidingObjectKeys(ObjectKeyHiding(secret: secret))
    }

    /// Checks the store's key check `stored` (nil: a plain store) against this storage's
    /// sealer; returns the check to record in a new encrypted store.
    /// - Throws: `.keyMismatch`: a key for a plain store, none for an encrypted one, one that
    ///   does not open it, or a rekey left unfinished (unless `rekeying`).
    private func checkKey(_ stored: [UInt8]?, isNew: Bool, rekeying: Bool) throws(ConcordError) -> KeyCheck? {
        let name = "the store of replica \(replica.rawValue)"
        guard let stored else {
            guard let sealer else { return nil }
            if isNew { return KeyCheck.make(for: sealer) }
            if rekeying { return nil }
            throw ConcordError(
                .keyMismatch,
                "\(name) is not encrypted, and a key ('\(sealer.current.keyID)') was given; open it without one, "
                    + "or encrypt it with a rekey (concord rekey DIR --to KEY_FILE)")
        }
        let check = try KeyCheck(decoding: stored)
        guard let sealer else {
            throw ConcordError(
                .keyMismatch,
                "\(name) is encrypted with key '\(check.keyID)'; give that key (--key-file, Configuration.encryption)")
        }
        if rekeying { return nil }
        if let from = check.rekeyingFrom {
            throw ConcordError(
                .keyMismatch,
                "\(name) is being rekeyed from '\(from.isEmpty ? "no key" : from)' to '\(check.keyID)' and the rekey "
                    + "did not finish; run the same rekey again to finish it")
        }
        guard check.opens(with: sealer) else {
            throw ConcordError(
                .keyMismatch,
                "the key given ('\(sealer.current.keyID)') does not open \(name), encrypted with key '\(check.keyID)'; "
                    + "nothing was changed")
        }
        return nil
    }

    static func decode<R>(
        _ what: String, _ bytes: [UInt8], _ body: (inout ByteReader) throws(CodecError) -> R
    ) throws(ConcordError) -> R {
        var reader = ByteReader(bytes)
        do {
            let value = try body(&reader)
            try reader.finish()
            return value
        } catch {
            throw .corrupted(error, what)
        }
    }

    /// Runs a write transaction, mapping LMDB errors to `ConcordError`. The body may run
    /// more than once (when the map grows), so it only touches the transaction.
    func write<R>(_ what: @autoclosure () -> String, _ body: (inout WriteTransaction) throws -> R) throws(ConcordError)
        -> R
    {
        try Self.mappingErrors(what) { try environment.write(body) }
    }

    /// Runs `body`, passing `ConcordError`s through and turning anything else (LMDB's
    /// errors above all) into `ConcordError.storage` naming `what` failed.
    private static func mappingErrors<R>(_ what: () -> String, _ body: () throws -> R) throws(ConcordError) -> R {
        do {
            return try body()
        } catch {
            throw mapped(error, what)
        }
    }

    /// `error` as a `ConcordError`: itself if it is one, else `.storage` naming `what` failed.
    private static func mapped(_ error: any Error, _ what: () -> String) -> ConcordError {
        switch error {
        case let error as ConcordError: error
        case let error as LMDBError: .storage(error, "cannot \(what())")
        default: ConcordError(.storage, "cannot \(what())", underlying: "\(error)")
        }
    }

    /// Runs a read transaction, mapping LMDB errors to `ConcordError`.
    func read<R>(_ what: @autoclosure () -> String, _ body: (borrowing ReadTransaction) throws -> R)
        throws(ConcordError) -> R
    {
        try Self.mappingErrors(what) { try environment.read(body) }
    }

    /// Commits `batch` in one LMDB write transaction: all of it, or (on an error) none of it.
    /// - Returns: the commit; nil for an empty batch (nothing is committed).
    /// - Throws: `ConcordError.storage` naming `what` failed.
    @discardableResult
    func commit(_ batch: StorageBatch, _ what: @autoclosure () -> String) throws(ConcordError) -> Commit? {
        var none: HeldWrite?
        return try commit(batch, what(), in: &none)
    }

    /// Begins the write transaction a local transaction reads its objects through
    /// (`read(_:in:_:)`) and then commits into (`commit(_:_:in:)`): one LMDB transaction
    /// for the whole of it, instead of a read transaction per object and a write after.
    /// - Throws: `ConcordError.storage` naming `what` failed; `.unavailable` once closed.
    func beginWrite(_ what: @autoclosure () -> String) throws(ConcordError) -> HeldWrite {
        try Self.mappingErrors(what) { try environment.beginWrite() }
    }

    /// Reads through the held write transaction `held` (which sees its own writes),
    /// mapping LMDB errors to `ConcordError`.
    func read<R>(
        _ what: @autoclosure () -> String, in held: HeldWrite, _ body: (borrowing WriteTransaction) throws -> R
    ) throws(ConcordError) -> R {
        try Self.mappingErrors(what) { try held.read(body) }
    }

    /// Commits `batch` in the held write transaction `held` (then nil) and ends it; with no
    /// held write, in a write transaction of its own. All of it, or (on an error) none of it;
    /// a full map grows (`HeldWrite.commit(writing:)`).
    /// - Returns: the commit; nil for an empty batch (nothing is committed).
    /// - Throws: `ConcordError.storage` naming `what` failed.
    @discardableResult
    func commit(
        _ batch: StorageBatch, _ what: @autoclosure () -> String, in held: inout HeldWrite?
    ) throws(ConcordError) -> Commit? {
        let transaction = held.take()
        guard !batch.isEmpty else {
            transaction?.abort()
            return nil
        }
        if let fault = faults?.takeFault(for: replica) {
            transaction?.abort()
            throw .storage(fault, "cannot \(what()) (injected fault)")
        }
        let id: UInt64
        if let transaction {
            do {
                id = try transaction.commit { txn in try put(batch, in: &txn) }
            } catch {
                throw Self.mapped(error, what)
            }
        } else {
            id = try write(what()) { txn in try put(batch, in: &txn) }
        }
        return Commit(transaction: id, flushSequence: committed(batch))
    }

    /// Puts `batch`'s writes in `txn`; returns `txn`'s id, which is the commit's.
    private func put(_ batch: StorageBatch, in txn: inout WriteTransaction) throws -> UInt64 {
        for write in batch.writes {
            switch write {
            case .put(.objects, let key, let value):
                if let sealer {
                    let storageKey = sealer.storageKey(forObject: key)
                    try txn.put(
                        sealer.sealObject(value, objectKey: key, storageKey: storageKey), forKey: storageKey,
                        in: objects)
                } else {
                    try txn.put(value, forKey: key, in: objects)
                }
            case .put(let table, let key, let value):
                try txn.put(sealed(value, Sealer.Table(table), key: key), forKey: key, in: database(table))
            case .putLogEntry(let index, let value):
                if sealer == nil {
                    try withUnsafeBytes(of: index.bigEndian) { key in
                        try value.withUnsafeBytes { value in try txn.put(value, forKey: key, in: log) }
                    }
                } else {
                    let key = Self.logKey(index)
                    try txn.put(sealed(value, .log, key: key), forKey: key, in: log)
                }
            case .delete(let table, let key): _ = try txn.delete(key, in: database(table))
            case .appendConflict(let value): try appendConflict(value, in: &txn)
            }
        }
        if batch.conflictCount > 0 { try trimConflicts(in: &txn) }
        return txn.id
    }

    /// Counts a committed batch; returns its group-commit number (see `commit(_:_:)`).
    @inline(__always)
    private func committed(_ batch: StorageBatch) -> UInt64? {
        if batch.conflictCount > 0 { conflictCounter.add(UInt64(batch.conflictCount)) }
        return flushes?.noteCommitted()
    }

    /// Under `.groupCommit`, flushes every commit made so far before the environment closes
    /// or is replaced, so that writers still waiting for their flush are answered by this
    /// one instead of finding the store closed. A failure is returned for the caller to
    /// log; the writers whose commits it was to cover get it from `waitUntilFlushed`.
    func flushBeforeClosing() -> ConcordError? {
        guard let flushes else { return nil }
        do {
            try waitUntilFlushed(flushes.lastCommitted)
            return nil
        } catch {
            return error
        }
    }

    /// Under `.groupCommit`, returns once every commit of this store up to and including
    /// `sequence` (the number `commit` returned) has been flushed to the device, flushing
    /// them itself if no other writer is; at once otherwise.
    /// - Throws: `ConcordError.storage` when the flush that covered the commit failed (it
    ///   may not survive a power loss); `.unavailable` when the store closed first.
    func waitUntilFlushed(_ sequence: UInt64) throws(ConcordError) {
        guard let flushes else { return }
        try flushes.waitUntilFlushed(sequence) { () throws(ConcordError) in
            do throws(ConcordError) {
                try sync("flush the commits of replica \(replica) to the device")
            } catch  where environment.isClosed {
                throw ConcordError(
                    .unavailable, "replica \(replica) went down before its commit reached the device; it may be lost",
                    underlying: error.message)
            }
        }
    }

    /// `value`, sealed for `key` in `table` when the store is encrypted.
    @inline(__always)
    func sealed(_ value: [UInt8], _ table: Sealer.Table, key: [UInt8]) -> [UInt8] {
        guard let sealer else { return value }
        return sealer.seal(value, table, key: key)
    }

    /// The plaintext of a stored record of `table` under `key` (the record itself in a
    /// plain store), read from `record` in place. `cached: false` opens a sealed record
    /// whatever the plaintext cache holds (verification).
    /// - Throws: `.corrupted` naming `what` when a sealed record does not open.
    @inline(__always)
    func opened(
        _ record: UnsafeRawBufferPointer, _ table: Sealer.Table, key: [UInt8], cached: Bool = true,
        what: @autoclosure () -> String
    ) throws(ConcordError) -> [UInt8] {
        guard let sealer else { return Array(record) }
        return try sealer.open(recordAt: record, table, key: key, cached: cached, what: what())
    }

    /// The LMDB key of the object whose encoded key is `objectKey` (a hash of it in a store
    /// that hides object keys).
    @inline(__always)
    func storageKey(forObject objectKey: [UInt8]) -> [UInt8] {
        guard let sealer else { return objectKey }
        return sealer.storageKey(forObject: objectKey)
    }

    /// The state of the object `objectKey` from its record (stored under `storageKey`),
    /// read in place.
    /// - Throws: `.corrupted` naming `what` when a sealed record does not open, or holds
    ///   another object.
    @inline(__always)
    func openedObject(
        _ record: UnsafeRawBufferPointer, objectKey: [UInt8], storageKey: [UInt8], what: @autoclosure () -> String
    ) throws(ConcordError) -> [UInt8] {
        guard let sealer else { return Array(record) }
        let opened = try sealer.openObject(recordAt: record, storageKey: storageKey, what: what())
        guard opened.objectKey == objectKey else {
            throw ConcordError(.corrupted, "\(what()) holds the state of another object")
        }
        return opened.state
    }

    /// The key and state of the object stored under `storageKey` (in a scan of the objects).
    /// - Throws: `.corrupted` when the key does not decode or the record does not open.
    func listedObject(_ storageKey: UnsafeRawBufferPointer, _ record: UnsafeRawBufferPointer, cached: Bool = true)
        throws(ConcordError) -> (key: ObjectKey, state: [UInt8])
    {
        guard let sealer else { return (try Self.objectKey(Array(storageKey)), Array(record)) }
        let storageKey = Array(storageKey)
        var named: ObjectKey?
        if sealer.objectKeys == nil { named = try Self.objectKey(storageKey) }
        let what = { named.map { "the state of \($0)" } ?? "the state of object \(Sealer.hex(storageKey))" }
        let opened = try sealer.openObject(recordAt: record, storageKey: storageKey, cached: cached, what: what())
        if let named { return (named, opened.state) }
        return (try Self.objectKey(opened.objectKey), opened.state)
    }

    /// The state of object `key`, or nil when it was never written.
    func objectState(_ key: ObjectKey, _ txn: borrowing some ReadableTransaction & ~Copyable) throws -> [UInt8]? {
        // Plain: a closure that captures nothing (one that captured the key for the words
        // of a failure cost every read of an object a closure context and its retains).
        guard sealer != nil else { return try txn.withValue(forKey: key.bytes, in: objects) { Array($0) } }
        let storageKey = storageKey(forObject: key.bytes)
        return try txn.withValue(forKey: storageKey, in: objects) { (record) throws(ConcordError) in
            try openedObject(record, objectKey: key.bytes, storageKey: storageKey, what: "the state of \(key)")
        }
    }

    /// The state of object `key` decoded as a `T` (nil: never written), or why its bytes do
    /// not decode as one. A plain store decodes the record where it lies in the map, without
    /// copying it first; a sealed store opens it into plaintext, then decodes that.
    /// - Throws: `.corrupted` when a sealed record does not open; LMDB's errors.
    func objectState<T: CRDT>(_ key: ObjectKey, as type: T.Type, _ txn: borrowing some ReadableTransaction & ~Copyable)
        throws -> Result<T, CodecError>?
    {
        // The closure captures nothing, as in `objectState(_:_:)`; the caller names a failure.
        guard sealer != nil else {
            return try txn.withValue(forKey: key.bytes, in: objects) { record in
                Result { () throws(CodecError) in try T(serialized: record) }
            }
        }
        return try objectState(key, txn).map { state in Result { () throws(CodecError) in try T(serialized: state) } }
    }

    /// The plaintext stored under `key` in `table`, or nil when there is none.
    func value(
        _ key: [UInt8], in table: Sealer.Table, _ txn: borrowing some ReadableTransaction & ~Copyable,
        what: @autoclosure () -> String
    ) throws -> [UInt8]? {
        let database: Database
        switch table {
        case .objects: database = objects
        case .log: database = log
        case .meta: database = meta
        case .conflicts:
            guard let conflicts else { return nil }
            database = conflicts
        }
        return try txn.withValue(forKey: key, in: database) { (record) throws(ConcordError) in
            try opened(record, table, key: key, what: what())
        }
    }

    /// Flushes every commit to the device.
    /// - Throws: `ConcordError.storage` naming `what` failed.
    func sync(_ what: @autoclosure () -> String) throws(ConcordError) {
        try Self.mappingErrors(what) { try environment.sync() }
    }

    /// The named database that holds `table`.
    func database(_ table: StorageBatch.Table) -> Database {
        switch table {
        case .objects: objects
        case .log: log
        case .meta: meta
        }
    }

    static func logKey(_ index: UInt64) -> [UInt8] {
        withUnsafeBytes(of: index.bigEndian) { Array($0) }
    }

    /// Decodes the key of the `objects` database.
    static func objectKey(_ bytes: [UInt8]) throws(ConcordError) -> ObjectKey {
        do throws(CodecError) {
            return try ObjectKey(bytes: bytes)
        } catch {
            throw ConcordError.corrupted(error, "an object key")
        }
    }

    static func logIndex(_ key: UnsafeRawBufferPointer) throws(ConcordError) -> UInt64 {
        guard key.count == 8 else {
            throw ConcordError(.corrupted, "a log key is \(key.count) bytes long, not 8; the store is damaged")
        }
        return key.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
