import CLMDB

/// The read calls shared by ``ReadTransaction`` and ``WriteTransaction``: a write transaction reads its own
/// uncommitted writes, a read transaction its snapshot.
///
/// Generic code can take `borrowing some ReadableTransaction` to work inside both `read` and `write`.
/// Only this module's transactions conform.
public protocol ReadableTransaction: ~Copyable {
    /// The underlying transaction. An implementation detail of this module; do not use it.
    var _access: _TransactionAccess { get }
}

extension ReadableTransaction where Self: ~Copyable {
    /// The value stored under `key`, copied out of the map (`mdb_get`), or `nil` if there is none.
    ///
    /// - Throws: ``LMDBError/badValueSize`` for an empty key or one longer than
    ///   ``Environment/maximumKeySizeBytes``; ``LMDBError/badDBI`` for a database of another environment;
    ///   any other LMDB error as is. Never throws for a missing key.
    /// - Complexity: O(log n) B-tree search, plus one allocation and copy of the value. On a hot path prefer
    ///   ``withValue(forKey:in:_:)-([UInt8],_,_)``, which copies nothing.
    public func get(_ key: [UInt8], in database: Database) throws -> [UInt8]? {
        try key.withUnsafeBytes { key in
            try _access.withValue(forKey: key, in: database) { Array($0) }
        }
    }

    /// Calls `body` with the value stored under `key`, in place in the memory map (`mdb_get`), and returns
    /// its result; `nil` if there is no such key.
    ///
    /// The buffer is valid only during `body`: copy what you need to keep.
    /// - Throws: as ``get(_:in:)``, and whatever `body` throws.
    /// - Complexity: O(log n) B-tree search; no copy.
    public func withValue<R>(
        forKey key: [UInt8], in database: Database, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        try key.withUnsafeBytes { key in try _access.withValue(forKey: key, in: database, body) }
    }

    /// Calls `body` with the value stored under `key` (given as raw bytes), in place in the memory map
    /// (`mdb_get`), and returns its result; `nil` if there is no such key.
    ///
    /// The buffer is valid only during `body`: copy what you need to keep.
    /// - Throws: as ``get(_:in:)``, and whatever `body` throws.
    /// - Complexity: O(log n) B-tree search; no copy and no allocation.
    public func withValue<R>(
        forKey key: UnsafeRawBufferPointer, in database: Database, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        try _access.withValue(forKey: key, in: database, body)
    }

    /// The transaction's id (`mdb_txn_id`). A read transaction has the id of the last commit its snapshot
    /// holds; a write transaction, the id it gets when it commits. Each commit of an environment has the
    /// next id, so two read transactions of one environment with the same id see the same snapshot.
    /// - Complexity: O(1); reads a field of the transaction.
    public var id: UInt64 { UInt64(mdb_txn_id(_access.transaction)) }

    /// The number of entries in `database` (`mdb_stat`).
    ///
    /// - Throws: ``LMDBError/badDBI`` for a database of another environment.
    /// - Complexity: O(1): LMDB keeps the count in the database record.
    public func count(in database: Database) throws -> Int {
        try _access.statistics(in: database).entries
    }

    /// The B-tree statistics of `database` (`mdb_stat`).
    ///
    /// - Throws: ``LMDBError/badDBI`` for a database of another environment.
    /// - Complexity: O(1).
    public func statistics(in database: Database) throws -> EnvironmentStatistics {
        try _access.statistics(in: database)
    }

    /// Visits the entries whose keys are in `start..<end` in key order (descending if `reverse`), through a
    /// cursor (`mdb_cursor_get` with `MDB_SET_RANGE`, `MDB_NEXT`/`MDB_PREV`); `body` returns `false` to stop.
    ///
    /// A `nil` bound is open; a bound need not be a stored key, and may be longer than any key. Keys compare
    /// as LMDB does (bytewise, a prefix before its extensions). The buffers are valid only during the call
    /// of `body` that receives them.
    /// - Throws: ``LMDBError/badDBI`` for a database of another environment; whatever `body` throws (the
    ///   visit stops there).
    /// - Complexity: O(log n) to position, then O(1) amortized per entry visited; no copies.
    public func forEach(
        in database: Database, from start: [UInt8]? = nil, to end: [UInt8]? = nil, reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try _access.visit(in: database, lower: start, upper: end, prefix: nil, reverse: reverse, body)
    }

    /// Visits the entries whose keys start with `prefix`, in key order (descending if `reverse`); `body`
    /// returns `false` to stop. An empty prefix visits every entry.
    ///
    /// The buffers are valid only during the call of `body` that receives them.
    /// - Throws: ``LMDBError/badDBI`` for a database of another environment; whatever `body` throws.
    /// - Complexity: O(log n) to position, then O(1) amortized per entry visited; no copies.
    public func forEach(
        in database: Database, prefix: [UInt8], reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let upper = reverse ? Cursor.successor(ofPrefix: prefix) : nil
        try _access.visit(
            in: database, lower: prefix.isEmpty ? nil : prefix, upper: upper, prefix: prefix, reverse: reverse, body)
    }
}

/// A read-only snapshot of an environment, lent to the closure of ``Environment/read(_:)``.
///
/// Every read through it sees the environment as of the moment the transaction began, whatever writers
/// commit meanwhile. The read calls are those of ``ReadableTransaction``.
public struct ReadTransaction: ~Copyable, ReadableTransaction {
    /// The underlying transaction. An implementation detail of this module; do not use it.
    public let _access: _TransactionAccess

    init(_ access: _TransactionAccess) { _access = access }
}

/// The one write transaction of an environment, lent to the closure of ``Environment/write(_:)``.
///
/// Reads (those of ``ReadableTransaction``) see this transaction's own writes. Everything is committed
/// when the closure returns and nothing if it throws.
public struct WriteTransaction: ~Copyable, ReadableTransaction {
    /// The underlying transaction. An implementation detail of this module; do not use it.
    public let _access: _TransactionAccess
    /// Set when a put met `MDB_MAP_FULL`: the transaction is then unusable, and `write` grows the map and
    /// runs the closure again even if the closure swallowed the error.
    var sawMapFull = false

    init(_ access: _TransactionAccess) { _access = access }

    /// Stores `value` under `key` in `database` (`mdb_put`).
    ///
    /// - Parameter overwrite: when `false` (`MDB_NOOVERWRITE`), an existing key is left as it is and the call
    ///   throws ``LMDBError/keyExists``.
    /// - Throws: ``LMDBError/keyExists`` as above; ``LMDBError/badValueSize`` for an empty key or one longer
    ///   than ``Environment/maximumKeySizeBytes``; ``LMDBError/mapFull`` when the map is full (``Environment/write(_:)``
    ///   then grows the map and runs its closure again); ``LMDBError/txnFull``; ``LMDBError/badDBI``.
    /// - Complexity: O(log n), plus copying the value into a dirty page.
    public mutating func put(_ value: [UInt8], forKey key: [UInt8], in database: Database, overwrite: Bool = true)
        throws
    {
        try value.withUnsafeBytes { value in
            try key.withUnsafeBytes { key in try put(value, forKey: key, in: database, overwrite: overwrite) }
        }
    }

    /// Stores the bytes of `value` under the bytes of `key` in `database` (`mdb_put`), copying nothing on
    /// the Swift side.
    ///
    /// - Throws: as ``put(_:forKey:in:overwrite:)-([UInt8],_,_,_)``.
    /// - Complexity: O(log n), plus copying the value into a dirty page.
    public mutating func put(
        _ value: UnsafeRawBufferPointer, forKey key: UnsafeRawBufferPointer, in database: Database,
        overwrite: Bool = true
    ) throws {
        try _access.validate(database)
        try _access.validateKey(key, in: database)
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var dataValue = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let flags = overwrite ? 0 : UInt32(MDB_NOOVERWRITE)
        let rc = mdb_put(_access.transaction, database.handle, &keyValue, &dataValue, flags)
        if rc == MDB_MAP_FULL { sawMapFull = true }
        try check(rc, "mdb_put of a \(key.count)-byte key, \(value.count)-byte value in \(database.displayName)")
    }

    /// Deletes the entry under `key` in `database` (`mdb_del`); returns `false` if there was none.
    ///
    /// - Throws: ``LMDBError/badValueSize`` for an empty or too long key; ``LMDBError/mapFull`` (a delete
    ///   can need pages too); ``LMDBError/badDBI``.
    /// - Complexity: O(log n).
    @discardableResult
    public mutating func delete(_ key: [UInt8], in database: Database) throws -> Bool {
        try _access.validate(database)
        return try key.withUnsafeBytes { key in
            try _access.validateKey(key, in: database)
            var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
            let rc = mdb_del(_access.transaction, database.handle, &keyValue, nil)
            if rc == MDB_NOTFOUND { return false }
            if rc == MDB_MAP_FULL { sawMapFull = true }
            try check(rc, "mdb_del in \(database.displayName)")
            return true
        }
    }

    /// Deletes every entry of `database`, keeping the database itself (`mdb_drop` with `del: 0`).
    ///
    /// - Throws: ``LMDBError/badDBI``; ``LMDBError/mapFull``.
    /// - Complexity: O(pages of the database): each page goes back to the free list.
    public mutating func removeAll(in database: Database) throws {
        try _access.validate(database)
        let rc = mdb_drop(_access.transaction, database.handle, 0)
        if rc == MDB_MAP_FULL { sawMapFull = true }
        try check(rc, "mdb_drop (empty) of \(database.displayName)")
    }
}
