import CLMDB

/// How much a commit waits for the disk.
///
/// LMDB never corrupts the environment on a crash of the process; what these settings trade is the loss of
/// the most recent commits on a crash of the *operating system* or a power loss.
public enum SyncMode: Sendable, Hashable {
    /// Each commit flushes data and meta pages to the device (`fsync`) before it returns. A commit that
    /// returned survives a power loss. Costs two device flushes per commit.
    case full
    /// `MDB_NOMETASYNC`: the meta page is not flushed at commit, saving one flush. A power loss may undo the
    /// last commit, never more, and never corrupts.
    case noMetaSync
    /// `MDB_NOSYNC`: no flush at commit; the operating system writes when it likes. A power loss may undo any
    /// commits since the last ``Environment/sync(force:)``; with ``EnvironmentOptions/writeMap`` as well, it
    /// may also corrupt the environment.
    case noSync

    /// The `mdb_env_open` flags of this setting.
    var flags: UInt32 {
        switch self {
        case .full: 0
        case .noMetaSync: UInt32(MDB_NOMETASYNC)
        case .noSync: UInt32(MDB_NOSYNC)
        }
    }
}

/// The settings of an ``Environment``, given once at ``Environment/open(path:options:)``.
public struct EnvironmentOptions: Sendable, Hashable {
    /// The initial size of the memory map (`mdb_env_set_mapsize`). The map grows by doubling on
    /// `MDB_MAP_FULL`; an existing environment keeps its larger size.
    public var mapSizeBytes: Int
    /// The ceiling for automatic growth: past it a write throws ``LMDBError/mapFull``.
    public var maximumMapSizeBytes: Int
    /// The number of named databases the environment may hold (`mdb_env_set_maxdbs`).
    public var maximumDatabases: Int
    /// The size of the reader table (`mdb_env_set_maxreaders`): how many read transactions may be live at
    /// once across every process using the environment.
    public var maximumReaders: Int
    /// How much a commit waits for the disk.
    public var syncMode: SyncMode
    /// `MDB_WRITEMAP`: write through a writable memory map instead of `pwrite`. Commits are much faster
    /// (no copy per dirty page), but a stray write through a bad pointer in this process can corrupt the
    /// file, and with ``SyncMode/noSync`` a power loss can corrupt it too. The data file is as large as
    /// the map (sparse where the file system allows).
    public var writeMap: Bool
    /// `MDB_RDONLY`: open for reading only; every write throws ``LMDBError/permissionDenied``.
    public var readOnly: Bool
    /// Creates the directory (and missing parents) before opening, unless ``readOnly``.
    public var createDirectory: Bool
    /// `MDB_NOLOCK`: no lock file is opened or created. Only for files nobody else opens meanwhile —
    /// reading a backup in place, for instance, without writing a `lock.mdb` into it.
    public var noLock: Bool

    /// Creates options; every argument has the default documented on its property.
    ///
    /// - Complexity: O(1).
    public init(
        mapSizeBytes: Int = 64 << 20,
        maximumMapSizeBytes: Int = 1 << 40,
        maximumDatabases: Int = 16,
        maximumReaders: Int = 126,
        syncMode: SyncMode = .full,
        writeMap: Bool = false,
        readOnly: Bool = false,
        createDirectory: Bool = true,
        noLock: Bool = false
    ) {
        self.mapSizeBytes = mapSizeBytes
        self.maximumMapSizeBytes = maximumMapSizeBytes
        self.maximumDatabases = maximumDatabases
        self.maximumReaders = maximumReaders
        self.syncMode = syncMode
        self.writeMap = writeMap
        self.readOnly = readOnly
        self.createDirectory = createDirectory
        self.noLock = noLock
    }

    /// The `mdb_env_open` flags for these options; `MDB_NOTLS` always, so read transactions are not tied to
    /// a thread and can be pooled.
    var flags: UInt32 {
        var flags = UInt32(MDB_NOTLS) | syncMode.flags
        if writeMap { flags |= UInt32(MDB_WRITEMAP) }
        if readOnly { flags |= UInt32(MDB_RDONLY) }
        if noLock { flags |= UInt32(MDB_NOLOCK) }
        return flags
    }

    /// Throws ``LMDBError/invalidArgument`` when a setting is out of range.
    func validate() throws(LMDBError) {
        func fail(_ what: String) -> LMDBError { LMDBError.invalidArgument.with("invalid EnvironmentOptions: \(what)") }
        guard mapSizeBytes > 0 else { throw fail("mapSizeBytes must be positive (is \(mapSizeBytes))") }
        guard maximumMapSizeBytes >= mapSizeBytes else {
            throw fail("maximumMapSizeBytes (\(maximumMapSizeBytes)) is below mapSizeBytes (\(mapSizeBytes))")
        }
        guard (0...32_767).contains(maximumDatabases) else {
            throw fail("maximumDatabases must be in 0...32767 (is \(maximumDatabases))")
        }
        guard (1...65_536).contains(maximumReaders) else {
            throw fail("maximumReaders must be in 1...65536 (is \(maximumReaders))")
        }
    }

    /// Whether an environment opened with `self` can serve a request for `other`: everything but the map
    /// sizes (which grow anyway) and `createDirectory` (already done) must agree.
    func isCompatible(with other: EnvironmentOptions) -> Bool {
        syncMode == other.syncMode && writeMap == other.writeMap && readOnly == other.readOnly && noLock == other.noLock
            && maximumDatabases == other.maximumDatabases && maximumReaders == other.maximumReaders
    }
}
