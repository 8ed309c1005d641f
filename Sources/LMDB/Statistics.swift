import CLMDB

/// The B-tree statistics of an environment's main database (`mdb_env_stat`) or of one database (`mdb_stat`).
public struct EnvironmentStatistics: Sendable, Hashable {
    /// The page size of the environment, in bytes.
    public var pageSizeBytes: Int
    /// The depth (height) of the B-tree.
    public var depth: Int
    /// The number of internal (non-leaf) pages.
    public var branchPages: Int
    /// The number of leaf pages.
    public var leafPages: Int
    /// The number of overflow pages (values too large for a leaf page).
    public var overflowPages: Int
    /// The number of entries. For the main database this counts named databases too.
    public var entries: Int

    init(_ stat: MDB_stat) {
        pageSizeBytes = Int(stat.ms_psize)
        depth = Int(stat.ms_depth)
        branchPages = stat.ms_branch_pages
        leafPages = stat.ms_leaf_pages
        overflowPages = stat.ms_overflow_pages
        entries = stat.ms_entries
    }
}

/// Information about an environment (`mdb_env_info`).
public struct EnvironmentInformation: Sendable, Hashable {
    /// The current size of the memory map, in bytes (after any growth).
    public var mapSizeBytes: Int
    /// The number of the last page used in the data file.
    public var lastPageNumber: Int
    /// The ID of the last committed transaction.
    public var lastTransactionID: Int
    /// The size of the reader table.
    public var maximumReaders: Int
    /// The number of reader-table slots in use (pooled read transactions of this process hold one each).
    public var readersUsed: Int

    init(_ info: MDB_envinfo) {
        mapSizeBytes = info.me_mapsize
        lastPageNumber = info.me_last_pgno
        lastTransactionID = info.me_last_txnid
        maximumReaders = Int(info.me_maxreaders)
        readersUsed = Int(info.me_numreaders)
    }
}
