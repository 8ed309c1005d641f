import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Environment {
    /// Makes the newest commit of the closed environment at `path` vanish, as a power loss
    /// can under ``SyncMode/noSync``: the newer of the two meta pages is overwritten with the
    /// older one, so the environment opens at the snapshot before the last commit.
    ///
    /// LMDB keeps the previous snapshot's pages intact until the commit after the newest one
    /// (that is what makes a crash during a commit safe), so the result is a consistent
    /// environment: exactly the state an operating-system crash leaves when the last commit's
    /// meta page never reached the device. For fault injection in tests and simulations;
    /// never call it on an environment that is open, here or in another process.
    ///
    /// - Returns: whether a commit was discarded (false when the environment has only its
    ///   initial snapshot, or both meta pages already describe the same one).
    /// - Throws: ``LMDBError/noSuchFile`` when `path/data.mdb` does not exist;
    ///   ``LMDBError/invalid`` when it is not an LMDB environment of this build's layout;
    ///   other `errno` codes of the file calls.
    /// - Complexity: two page reads and at most one page write and `fsync`.
    @discardableResult
    public static func discardLastCommit(atPath path: String) throws(LMDBError) -> Bool {
        let file = path + "/data.mdb"
        let descriptor = openForWriting(file)
        guard descriptor >= 0 else { throw LMDBError(errno, "open \(file)") }
        defer { closeFile(descriptor) }
        let first = try MetaPage(readingAt: 0, from: descriptor, file: file)
        let second = try MetaPage(readingAt: off_t(first.pageSize), from: descriptor, file: file)
        guard first.transaction != second.transaction else { return false }
        let (newer, older) = first.transaction > second.transaction ? (first, second) : (second, first)
        guard newer.transaction > 0 else { return false }
        // Keep the newer page's header (its page number); copy the older meta over the rest.
        var page = newer.bytes
        page.replaceSubrange(MetaPage.metaRange, with: older.bytes[MetaPage.metaRange])
        let written = page.withUnsafeBytes {
            pwrite(descriptor, $0.baseAddress, MetaPage.metaRange.upperBound, newer.offset)
        }
        guard written == MetaPage.metaRange.upperBound else { throw LMDBError(errno, "write \(file)") }
        guard fsync(descriptor) == 0 else { throw LMDBError(errno, "fsync \(file)") }
        return true
    }
}

private func openForWriting(_ file: String) -> Int32 { open(file, O_RDWR) }
private func closeFile(_ descriptor: Int32) { _ = close(descriptor) }

/// The start of one of LMDB's two meta pages (LMDB 0.9, 64-bit): a 16-byte page header,
/// then `MDB_meta`: magic, version, address, map size, the free and main databases' roots
/// (48 bytes each), the last page number and the transaction id.
private struct MetaPage {
    static let magic: UInt32 = 0xBEEF_C0DE
    static let metaRange = 16..<152
    static let pageSizeOffset = 40  // mm_dbs[FREE_DBI].md_pad holds the page size
    static let transactionOffset = 144

    let offset: off_t
    let bytes: [UInt8]

    init(readingAt offset: off_t, from descriptor: Int32, file: String) throws(LMDBError) {
        self.offset = offset
        var bytes = [UInt8](repeating: 0, count: Self.metaRange.upperBound)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
        guard read == bytes.count else {
            throw LMDBError(code: MDB_INVALID, message: "\(file) is too short to hold LMDB's meta pages")
        }
        self.bytes = bytes
        guard load(UInt32.self, at: 16) == Self.magic else {
            throw LMDBError(code: MDB_INVALID, message: "\(file) has no LMDB meta page at offset \(offset)")
        }
    }

    var pageSize: Int { Int(load(UInt32.self, at: Self.pageSizeOffset)) }
    var transaction: UInt64 { load(UInt64.self, at: Self.transactionOffset) }

    private func load<T: FixedWidthInteger>(_: T.Type, at position: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: T.self)) }
    }
}
