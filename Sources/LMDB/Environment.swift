import CLMDB
import Locking

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`, with its named databases.
///
/// Open it with ``open(path:options:)``; read with ``read(_:)`` and write with ``write(_:)``, each of which
/// lends a transaction to a closure, as GRDB's `DatabaseQueue` does.
///
/// ## Concurrency
///
/// An environment is `Sendable`: call it from any thread.
/// - Reads run in parallel and never wait for the writer (LMDB's MVCC). Read transactions are pooled (reset,
///   then renewed), so a `read` costs about as much as raw LMDB.
/// - Writes are serialized by a lock: one write transaction at a time, as LMDB requires.
/// - Growing the memory map (`mdb_env_set_mapsize`) needs every transaction of the process to be over, so a
///   growth waits for the reads in progress and holds new ones back for its duration. That is the only time a
///   read waits. A read-write lock implements this; `read` takes it shared.
///
/// ## Rules, and why
///
/// - One `Environment` per directory per process: LMDB's locks break if a process opens a file twice, so
///   ``open(path:options:)`` returns the instance already open.
/// - No `write` inside a `write` on the same thread: it would wait for itself. It throws ``LMDBError/invalid``.
/// - A `write` may run inside a `read`, but cannot grow the map there (that would wait for the enclosing read):
///   it throws ``LMDBError/mapFull`` instead.
/// - ``close()`` must not be called from inside `read` or `write`: it waits for them to end.
public final class Environment: @unchecked Sendable {
    /// The directory, with symbolic links resolved (`realpath`): the key under which it is registered.
    public let path: String
    /// The options it was opened with.
    public let options: EnvironmentOptions
    /// The largest key LMDB accepts here, in bytes (`mdb_env_get_maxkeysize`; 511 by default).
    public let maximumKeySizeBytes: Int

    /// Identifies this instance in the ``Database`` values it opens.
    let serial: UInt64
    /// The `MDB_env`. Valid while `closed` is false; `close` sets it only with every lock held exclusively.
    private let handle: OpaquePointer
    private let closed = Atomic<Bool>(false)

    /// Held shared by every `read` (and environment-wide call), exclusively to resize the map or close.
    /// Always taken before `writeLock`.
    private let mapLock = ReadWriteLock()
    /// Serializes write transactions (and `mdb_dbi_open`); held from `beginWrite` to the held write's end.
    let writeLock = PlainMutex()
    /// The current map size; read and written under `writeLock`.
    private var mapSizeBytes: Int

    /// Reset read transactions ready for `mdb_txn_renew`; guarded by `poolLock` (which makes
    /// the runtime's exclusivity check, twice per read, redundant: it is left out).
    @exclusivity(unchecked) private var pool: [OpaquePointer] = []
    private let poolLock = PlainMutex()
    private let poolCapacity: Int

    /// Databases opened so far, by name; guarded by `databaseLock`.
    private var databases: [String?: Database] = [:]
    private let databaseLock = PlainMutex()

    private static let serials = Atomic<UInt64>(0)

    /// Opens the environment in the directory at `path` (`mdb_env_create`, `mdb_env_set_mapsize`,
    /// `mdb_env_set_maxdbs`, `mdb_env_set_maxreaders`, `mdb_env_open` with `MDB_NOTLS`), creating the
    /// directory first if ``EnvironmentOptions/createDirectory`` (and not read-only).
    ///
    /// One environment per directory per process: if this process has the directory open already (compared
    /// by real path), this returns that same instance.
    ///
    /// - Throws: ``LMDBError/invalid`` if the directory's `data.mdb` is not an LMDB environment, or if it is
    ///   open already with options that conflict (anything but the map sizes and `createDirectory`);
    ///   ``LMDBError/invalidArgument`` for options out of range; ``LMDBError/notADirectory``,
    ///   ``LMDBError/permissionDenied``, ``LMDBError/noSuchFile`` and other `errno` codes from creating or
    ///   opening files, with the path in the message; ``LMDBError/versionMismatch``.
    /// - Complexity: a few system calls (`mkdir`, `open`, `mmap`); returning an open instance costs a lock.
    public static func open(path: String, options: EnvironmentOptions = .init()) throws -> Environment {
        try options.validate()
        if options.createDirectory && !options.readOnly { try FileSystem.createDirectories(path) }
        let resolved = try FileSystem.realPath(path)
        guard FileSystem.isDirectory(resolved) else {
            throw LMDBError.notADirectory.with("\(path) is not a directory: an environment is a directory")
        }
        return try EnvironmentRegistry.shared.withLock { entries throws(LMDBError) -> Environment in
            entries = entries.filter { $0.value.environment != nil }
            if let existing = entries[resolved]?.environment, !existing.isClosed {
                guard existing.options.isCompatible(with: options) else {
                    throw LMDBError.invalid.with(
                        "\(resolved) is open already in this process with other options (\(existing.options)); "
                            + "one environment per directory per process: reuse it or close it first")
                }
                return existing
            }
            let environment = try Environment(resolvedPath: resolved, options: options)
            entries[resolved] = WeakEnvironment(environment: environment)
            return environment
        }
    }

    private init(resolvedPath: String, options: EnvironmentOptions) throws(LMDBError) {
        var created: OpaquePointer?
        try check(mdb_env_create(&created), "mdb_env_create")
        guard let handle = created else { throw LMDBError.outOfMemory.with("mdb_env_create returned no handle") }
        do throws(LMDBError) {
            try check(mdb_env_set_mapsize(handle, options.mapSizeBytes), "mdb_env_set_mapsize for \(resolvedPath)")
            try check(mdb_env_set_maxdbs(handle, MDB_dbi(options.maximumDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(handle, UInt32(options.maximumReaders)), "mdb_env_set_maxreaders")
            let rc = mdb_env_open(handle, resolvedPath, options.flags, 0o664)
            if rc == MDB_INVALID {
                throw LMDBError.invalid.with(
                    "\(LMDBError.describe(rc)): \(resolvedPath)/data.mdb is not an LMDB environment")
            }
            try check(rc, "mdb_env_open \(resolvedPath)")
        } catch {
            mdb_env_close(handle)
            throw error
        }
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        self.handle = handle
        self.path = resolvedPath
        self.options = options
        self.maximumKeySizeBytes = Int(mdb_env_get_maxkeysize(handle))
        self.mapSizeBytes = info.me_mapsize
        self.poolCapacity = max(1, min(16, options.maximumReaders / 4))
        self.serial = Environment.serials.add(1, ordering: .relaxed).newValue
        pool.reserveCapacity(poolCapacity)
    }

    deinit {
        // Nobody can be inside `read` or `write`: they hold a reference.
        if !closed.load(ordering: .acquiring) { closeHandle() }
    }

    /// Whether ``close()`` was called. Every later call throws ``LMDBError/invalid``.
    ///
    /// - Complexity: O(1), one atomic load.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Closes the environment (`mdb_env_close`) after the reads and the write in progress end; idempotent.
    /// Later calls on it throw ``LMDBError/invalid``, and ``open(path:options:)`` opens the directory anew.
    /// `deinit` closes too.
    ///
    /// Must not be called from inside ``read(_:)`` or ``write(_:)`` of this environment (it would wait for
    /// itself): that traps.
    /// - Complexity: waits for transactions in progress; then O(pooled read transactions).
    public func close() {
        precondition(
            !ThreadActivity.current.isActive(in: ObjectIdentifier(self)),
            "Environment.close() called inside read or write of \(path): it would wait for itself")
        mapLock.lockExclusive()
        writeLock.lock()
        if !closed.load(ordering: .acquiring) {
            closeHandle()
            closed.store(true, ordering: .releasing)
        }
        writeLock.unlock()
        mapLock.unlock()
        // Only now: until the handle is closed, an `open` of this path must get this instance, not a second
        // handle on the same files (LMDB's rule).
        EnvironmentRegistry.shared.withLock { entries in
            if let entry = entries[path], entry.environment == nil || entry.environment === self {
                entries[path] = nil
            }
        }
    }

    private func closeHandle() {
        poolLock.withLock {
            for transaction in pool { mdb_txn_abort(transaction) }
            pool.removeAll()
        }
        mdb_env_close(handle)
    }

    func closedError(_ operation: String) -> LMDBError {
        LMDBError.invalid.with("\(operation) on \(path): the environment is closed")
    }

    func access(_ transaction: OpaquePointer) -> _TransactionAccess {
        _TransactionAccess(
            transaction: transaction, environmentSerial: serial, maximumKeySizeBytes: maximumKeySizeBytes)
    }

    /// Runs `body` with the raw handle, the environment open and the map stable: under the shared map lock,
    /// unless this thread holds the write lock (which already keeps resizes and `close` out).
    func withOpenHandle<R>(_ operation: String, _ body: (OpaquePointer) throws -> R) throws -> R {
        let holdsWriteLock = ThreadActivity.current.isWriting(in: ObjectIdentifier(self))
        if !holdsWriteLock { mapLock.lockShared() }
        defer { if !holdsWriteLock { mapLock.unlock() } }
        guard !closed.load(ordering: .acquiring) else { throw closedError(operation) }
        return try body(handle)
    }
}

// MARK: - Databases

extension Environment {
    /// The database called `name` (`nil`: the main, unnamed database), opened with `mdb_dbi_open` in a write
    /// transaction of its own (a read transaction if read-only) and cached: later calls for the same name
    /// cost a dictionary lookup.
    ///
    /// Named databases are entries of the main database: do not also store keys of your own there if you use
    /// named databases, and keep ``EnvironmentOptions/maximumDatabases`` large enough.
    /// - Parameter create: create the database if it does not exist (`MDB_CREATE`); ignored when read-only.
    /// - Throws: ``LMDBError/notFound`` if it does not exist and `create` is false (or read-only);
    ///   ``LMDBError/dbsFull`` past ``EnvironmentOptions/maximumDatabases``; ``LMDBError/invalid`` if closed,
    ///   or when called inside a ``write(_:)`` for a database not opened yet (open databases up front).
    /// - Complexity: a dictionary lookup once opened; the first time, a write transaction and commit.
    public func database(_ name: String?, create: Bool = true) throws -> Database {
        if let cached = databaseLock.withLock({ databases[name] }) { return cached }
        guard !isClosed else { throw closedError("database(\(name ?? "nil"))") }
        let handle: MDB_dbi
        if options.readOnly {
            handle = try withOpenHandle("database(\(name ?? "nil"))") { environment in
                try writeLock.withLock {  // mdb_dbi_open must not run in two transactions at once
                    var transaction: OpaquePointer?
                    try check(mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &transaction), "mdb_txn_begin")
                    guard let transaction else { throw LMDBError.invalidArgument.with("mdb_txn_begin: no txn") }
                    let handle: MDB_dbi
                    do {
                        handle = try access(transaction).openDatabase(name, create: false, path: path)
                    } catch {
                        mdb_txn_abort(transaction)
                        throw error
                    }
                    try check(mdb_txn_commit(transaction), "mdb_txn_commit after mdb_dbi_open")
                    return handle
                }
            }
        } else {
            guard !ThreadActivity.current.isWriting(in: ObjectIdentifier(self)) else {
                throw LMDBError.invalid.with(
                    "database('\(name ?? "nil")') called inside write on \(path): opening a database takes a "
                        + "write transaction of its own; open databases before the write")
            }
            let path = self.path
            handle = try write { transaction in
                try transaction._access.openDatabase(name, create: create, path: path)
            }
        }
        let database = Database(handle: handle, environmentSerial: serial, name: name)
        databaseLock.withLock { databases[name] = database }
        return database
    }
}

// MARK: - Read

extension Environment {
    /// Runs `body` with a read-only snapshot and returns its result.
    ///
    /// The transaction comes from a pool of reset read transactions (`mdb_txn_renew`, then `mdb_txn_reset`
    /// when `body` returns), falling back to `mdb_txn_begin(MDB_RDONLY)`. It never waits for the writer; it
    /// waits only while the map is being resized. Reads may nest, and may run inside ``write(_:)`` (they then
    /// see the committed state, not the write's own changes: use the write transaction for those).
    ///
    /// Keep `body` short: a long read pins its snapshot's pages, so the data file grows while it runs.
    /// - Throws: ``LMDBError/invalid`` if closed; ``LMDBError/readersFull`` when every reader slot is taken;
    ///   ``LMDBError/mapResized`` when another process grew the map while this thread is inside another read
    ///   (otherwise that is handled: `mdb_env_set_mapsize(0)` and retry); whatever `body` throws.
    /// - Complexity: O(1) plus `body`: about 0.1–0.3 µs over raw LMDB (two uncontended locks and a renew).
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        let id = ObjectIdentifier(self)
        let activity = ThreadActivity.current
        // A thread inside `write` holds the write lock, which keeps resizes out already; taking the map lock
        // there could deadlock with a resize waiting for the write lock.
        let takesMapLock = !activity.isWriting(in: id)
        var transaction: OpaquePointer?
        var resizes = 0
        while true {
            if takesMapLock { mapLock.lockShared() }
            guard !closed.load(ordering: .acquiring) else {
                if takesMapLock { mapLock.unlock() }
                throw closedError("read")
            }
            let rc = acquireReadTransaction(&transaction)
            if rc == 0 { break }
            if takesMapLock { mapLock.unlock() }
            if rc == MDB_MAP_RESIZED && takesMapLock && activity.readDepth(in: id) == 0 && resizes < 8 {
                resizes += 1
                try adoptResizedMap()
                continue
            }
            throw LMDBError(rc, "beginning a read transaction on \(path)")
        }
        guard let transaction else { preconditionFailure("read transaction without handle") }
        activity.enterRead(id)
        defer {
            activity.exitRead(id)
            releaseReadTransaction(transaction)
            if takesMapLock { mapLock.unlock() }
        }
        return try body(ReadTransaction(access(transaction)))
    }

    /// A renewed pooled read transaction, or a new one; returns the LMDB code.
    @inline(__always)
    private func acquireReadTransaction(_ transaction: inout OpaquePointer?) -> Int32 {
        poolLock.lock()
        let pooled = pool.popLast()
        poolLock.unlock()
        if let pooled {
            let rc = mdb_txn_renew(pooled)
            if rc == 0 {
                transaction = pooled
                return 0
            }
            mdb_txn_abort(pooled)  // a failed renew leaves it reset; free it, it may be stale
            return rc
        }
        return mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &transaction)
    }

    /// Resets the transaction back into the pool, or aborts it when the pool is full.
    @inline(__always)
    private func releaseReadTransaction(_ transaction: OpaquePointer) {
        mdb_txn_reset(transaction)
        poolLock.lock()
        if pool.count < poolCapacity {
            pool.append(transaction)
            poolLock.unlock()
        } else {
            poolLock.unlock()
            mdb_txn_abort(transaction)
        }
    }
}

// MARK: - Write

extension Environment {
    private enum WriteOutcome<R> {
        case committed(R)
        case mapFull(LMDBError)
        case mapResized(LMDBError)
    }

    /// Runs `body` in a write transaction (`mdb_txn_begin`), commits it (`mdb_txn_commit`) if `body` returns,
    /// and aborts it (`mdb_txn_abort`) if `body` throws, rethrowing the error. Write transactions are
    /// serialized: this waits for the one in progress.
    ///
    /// When the map is full (`MDB_MAP_FULL` from a put or from the commit), the transaction is aborted, the
    /// map doubled (`mdb_env_set_mapsize`, up to ``EnvironmentOptions/maximumMapSizeBytes``) and **`body`
    /// runs again** from the start. So `body` must only touch the transaction: side effects outside it (a
    /// counter, a network call) would happen twice. Growth waits for the reads in progress to end.
    ///
    /// - Throws: ``LMDBError/invalid`` when called inside a `write` on this environment on the same thread
    ///   (it would deadlock), or if closed; ``LMDBError/mapFull`` past the ceiling, or when the map must grow
    ///   inside a ``read(_:)`` on the same thread; every earlier commit stays intact.
    ///   ``LMDBError/permissionDenied`` if read-only; whatever `body` throws.
    /// - Complexity: `body`, plus the commit: with ``SyncMode/full``, two device flushes (about 0.7 ms
    ///   here); with ``SyncMode/noSync``, one `pwrite` per dirty page.
    public func write<R>(_ body: (inout WriteTransaction) throws -> R) throws -> R {
        let id = ObjectIdentifier(self)
        let activity = ThreadActivity.current
        try refuseNestedWrite("write", activity, id)
        activity.enterWrite(id)
        defer { activity.exitWrite(id) }
        var resizes = 0
        while true {
            writeLock.lock()
            let sizeAtStart = mapSizeBytes
            let outcome: WriteOutcome<R>
            do {
                outcome = try writeOnce(body)
            } catch {
                writeLock.unlock()
                throw error
            }
            writeLock.unlock()
            switch outcome {
            case .committed(let result):
                return result
            case .mapFull(let error):
                guard activity.readDepth(in: id) == 0 else {
                    throw LMDBError.mapFull.with(
                        "\(error.message); the map of \(path) cannot grow while this thread is inside read on "
                            + "it (growth waits for every read): write outside the read")
                }
                try growMap(from: sizeAtStart, after: error)
            case .mapResized(let error):
                guard activity.readDepth(in: id) == 0, resizes < 8 else { throw error }
                resizes += 1
                try adoptResizedMap()
            }
        }
    }

    /// Throws ``LMDBError/invalid`` when this thread already writes in this environment: LMDB has one write
    /// transaction at a time, so `call` would wait for itself.
    func refuseNestedWrite(_ call: String, _ activity: ThreadActivity, _ id: ObjectIdentifier) throws(LMDBError) {
        guard !activity.isWriting(in: id) else {
            throw LMDBError.invalid.with(
                "\(call) called inside a write on \(path) on the same thread: LMDB has one write transaction at a "
                    + "time, so this would wait for itself; do the work in the outer transaction")
        }
    }

    /// One attempt, under the write lock.
    private func writeOnce<R>(_ body: (inout WriteTransaction) throws -> R) throws -> WriteOutcome<R> {
        guard let transaction = try beginWriteTransaction() else {
            return .mapResized(LMDBError(MDB_MAP_RESIZED, "mdb_txn_begin (write) on \(path)"))
        }
        var writer = WriteTransaction(access(transaction))
        let result: R
        do {
            result = try body(&writer)
        } catch {
            mdb_txn_abort(transaction)
            if writer.sawMapFull || (error as? LMDBError) == .mapFull {
                return .mapFull((error as? LMDBError) ?? LMDBError(MDB_MAP_FULL, "put in \(path)"))
            }
            throw error
        }
        if writer.sawMapFull {  // the closure swallowed the error; the transaction is unusable
            mdb_txn_abort(transaction)
            return .mapFull(LMDBError(MDB_MAP_FULL, "put in \(path)"))
        }
        let commit = mdb_txn_commit(transaction)  // frees the transaction, also on failure
        if commit == MDB_MAP_FULL { return .mapFull(LMDBError(commit, "mdb_txn_commit on \(path)")) }
        try check(commit, "mdb_txn_commit on \(path)")
        return .committed(result)
    }

    /// `mdb_txn_begin` of a write transaction, under the write lock; nil when another process grew the map
    /// (`MDB_MAP_RESIZED`: adopt its size, then begin again).
    func beginWriteTransaction() throws -> OpaquePointer? {
        guard !closed.load(ordering: .acquiring) else { throw closedError("write") }
        var begun: OpaquePointer?
        let rc = mdb_txn_begin(handle, nil, 0, &begun)
        if rc == MDB_MAP_RESIZED { return nil }
        if rc == EACCES && options.readOnly {
            throw LMDBError.permissionDenied.with("write on \(path), which was opened read-only")
        }
        try check(rc, "mdb_txn_begin (write) on \(path)")
        guard let transaction = begun else { throw LMDBError.invalidArgument.with("mdb_txn_begin: no txn") }
        return transaction
    }

    /// Doubles the map (up to the ceiling), unless another writer grew it since `sizeAtStart`.
    private func growMap(from sizeAtStart: Int, after error: LMDBError) throws {
        try withEverythingStopped("growing the map") {
            guard mapSizeBytes <= sizeAtStart else { return }  // another writer grew it meanwhile
            let ceiling = options.maximumMapSizeBytes
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            let doubled = mapSizeBytes.multipliedReportingOverflow(by: 2)
            let target = (doubled.overflow ? ceiling : min(doubled.partialValue, ceiling)) / pageSize * pageSize
            guard target > mapSizeBytes else {
                throw LMDBError.mapFull.with(
                    "\(error.message); the map of \(path) is at its ceiling of \(mapSizeBytes) bytes "
                        + "(maximumMapSizeBytes \(ceiling)): raise it, or delete data")
            }
            try check(mdb_env_set_mapsize(handle, target), "mdb_env_set_mapsize(\(target)) on \(path)")
            mapSizeBytes = currentMapSize()
        }
    }

    /// Takes the map size another process set (`mdb_env_set_mapsize(0)` after `MDB_MAP_RESIZED`).
    func adoptResizedMap() throws {
        try withEverythingStopped("adopting a map resized by another process") {
            try check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize(0) on \(path)")
            mapSizeBytes = currentMapSize()
        }
    }

    /// Runs `body` with no transaction of this process active: map lock exclusive (no reader), then the
    /// write lock (no writer). The caller must hold neither.
    private func withEverythingStopped(_ operation: String, _ body: () throws -> Void) throws {
        mapLock.lockExclusive()
        writeLock.lock()
        defer {
            writeLock.unlock()
            mapLock.unlock()
        }
        guard !closed.load(ordering: .acquiring) else { throw closedError(operation) }
        try body()
    }

    private func currentMapSize() -> Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }
}

/// A weak reference to an open environment, for the registry.
struct WeakEnvironment {
    weak var environment: Environment?
}

/// The environments open in this process, by real path: LMDB allows one handle per file per process.
enum EnvironmentRegistry {
    static let shared = Mutex<[String: WeakEnvironment]>([:])
}
