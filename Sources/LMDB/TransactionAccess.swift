import CLMDB

/// The state every transaction kind reads through: the LMDB transaction and what is needed to check
/// arguments against its environment. The implementation of every read call lives here, once, and
/// ``ReadTransaction`` and ``WriteTransaction`` reach it through ``ReadableTransaction``.
///
/// Public only because a public protocol requirement must be; it has no public members.
public struct _TransactionAccess {
    /// The `MDB_txn`, valid for the closure the transaction was handed to.
    let transaction: OpaquePointer
    /// The serial of the environment, to refuse a ``Database`` of another one.
    let environmentSerial: UInt64
    /// `mdb_env_get_maxkeysize`, cached at open.
    let maximumKeySizeBytes: Int

    @inline(__always)
    func validate(_ database: Database) throws(LMDBError) {
        guard database.environmentSerial == environmentSerial else {
            throw LMDBError.badDBI.with(
                "\(database.displayName) belongs to another environment (or to one that was closed since)")
        }
    }

    @inline(__always)
    func validateKey(_ key: UnsafeRawBufferPointer, in database: Database) throws(LMDBError) {
        guard key.count > 0 && key.count <= maximumKeySizeBytes else {
            throw LMDBError.badValueSize.with(
                "a key must be 1...\(maximumKeySizeBytes) bytes long; got \(key.count) bytes in \(database.displayName)"
            )
        }
    }

    /// `mdb_get`, then `body` on the value in the map, valid only during `body`.
    func withValue<R>(
        forKey key: UnsafeRawBufferPointer, in database: Database, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        try validate(database)
        try validateKey(key, in: database)
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var value = MDB_val()
        let rc = mdb_get(transaction, database.handle, &keyValue, &value)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get in \(database.displayName)")
        return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// `mdb_stat` of one database.
    func statistics(in database: Database) throws(LMDBError) -> EnvironmentStatistics {
        try validate(database)
        var stat = MDB_stat()
        try check(mdb_stat(transaction, database.handle, &stat), "mdb_stat of \(database.displayName)")
        return EnvironmentStatistics(stat)
    }

    /// `mdb_dbi_open`: the handle of a named database (or of the main one), created if asked and allowed.
    func openDatabase(_ name: String?, create: Bool, path: String) throws(LMDBError) -> MDB_dbi {
        var handle: MDB_dbi = 0
        let flags = create ? UInt32(MDB_CREATE) : 0
        let rc: Int32 =
            if let name {
                name.withCString { mdb_dbi_open(transaction, $0, flags, &handle) }
            } else {
                mdb_dbi_open(transaction, nil, flags, &handle)
            }
        let displayName = name.map { "'\($0)'" } ?? "(main)"
        if rc == MDB_NOTFOUND {
            throw LMDBError.notFound.with("no database \(displayName) in \(path); open it with create: true")
        }
        try check(rc, "mdb_dbi_open \(displayName) in \(path)")
        return handle
    }
}
