import CLMDB

/// An LMDB cursor (`MDB_cursor`) over one database, closed when it goes out of scope.
///
/// It lives inside one call of `forEach` and so never outlives its transaction: LMDB frees a write
/// transaction's cursors at commit, and a read transaction's must be closed by hand, which `deinit` does.
struct Cursor: ~Copyable {
    private let cursor: OpaquePointer
    private let transaction: OpaquePointer
    private let database: Database

    init(_ access: _TransactionAccess, _ database: Database) throws(LMDBError) {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(access.transaction, database.handle, &cursor), "mdb_cursor_open")
        guard let cursor else { throw LMDBError.invalidArgument.with("mdb_cursor_open returned no cursor") }
        self.cursor = cursor
        self.transaction = access.transaction
        self.database = database
    }

    deinit { mdb_cursor_close(cursor) }

    /// `mdb_cursor_get`; `false` when there is no such entry (`MDB_NOTFOUND`).
    func move(_ operation: MDB_cursor_op, _ key: inout MDB_val, _ value: inout MDB_val) throws(LMDBError) -> Bool {
        let rc = mdb_cursor_get(cursor, &key, &value, operation)
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_cursor_get in \(database.displayName)")
        return true
    }

    /// Positions on the first entry whose key is at least `bound` (`MDB_SET_RANGE`).
    func seek(atLeast bound: [UInt8], _ key: inout MDB_val, _ value: inout MDB_val) throws(LMDBError) -> Bool {
        let rc = bound.withUnsafeBytes { bound in
            key = MDB_val(mv_size: bound.count, mv_data: UnsafeMutableRawPointer(mutating: bound.baseAddress))
            return mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_cursor_get(MDB_SET_RANGE) of a \(bound.count)-byte key in \(database.displayName)")
        return true
    }

    /// `mdb_cmp` of a key in the map with a bound: negative, zero or positive.
    func compare(_ key: inout MDB_val, _ bound: [UInt8]) -> Int32 {
        bound.withUnsafeBytes { bound in
            var boundValue = MDB_val(
                mv_size: bound.count, mv_data: UnsafeMutableRawPointer(mutating: bound.baseAddress))
            return mdb_cmp(transaction, database.handle, &key, &boundValue)
        }
    }

    /// The smallest key greater than every key that starts with `prefix`, or `nil` if there is none (the
    /// prefix is empty or all `0xFF`).
    static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var successor = prefix
        while let last = successor.last {
            if last < 0xFF {
                successor[successor.count - 1] = last + 1
                return successor
            }
            successor.removeLast()
        }
        return nil
    }
}

extension _TransactionAccess {
    /// Visits the entries with `lower <= key < upper` that start with `prefix` (each `nil` for no limit), in
    /// key order or reverse, until `body` returns `false`.
    func visit(
        in database: Database, lower: [UInt8]?, upper: [UInt8]?, prefix: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try validate(database)
        if let upper, upper.isEmpty { return }  // nothing is below the empty key
        let cursor = try Cursor(self, database)
        var key = MDB_val()
        var value = MDB_val()
        var found: Bool
        if reverse {
            if let upper {
                // Past the last key below `upper`: step back from the first key at or above it, or from the end.
                found =
                    try cursor.seek(atLeast: upper, &key, &value)
                    ? try cursor.move(MDB_PREV, &key, &value) : try cursor.move(MDB_LAST, &key, &value)
            } else {
                found = try cursor.move(MDB_LAST, &key, &value)
            }
        } else if let lower, !lower.isEmpty {
            found = try cursor.seek(atLeast: lower, &key, &value)
        } else {
            found = try cursor.move(MDB_FIRST, &key, &value)
        }
        while found {
            if reverse {
                if let lower, cursor.compare(&key, lower) < 0 { return }
            } else {
                if let upper, cursor.compare(&key, upper) >= 0 { return }
            }
            let keyBuffer = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
            if let prefix, !keyBuffer.starts(with: prefix) { return }
            guard try body(keyBuffer, UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)) else {
                return
            }
            found = try cursor.move(reverse ? MDB_PREV : MDB_NEXT, &key, &value)
        }
    }
}
