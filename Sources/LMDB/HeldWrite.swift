import CLMDB

/// A write transaction held open across calls (``Environment/beginWrite()``), for a caller that reads what it
/// is about to change, decides, and then writes, all in the one transaction: the reads see the writes made
/// so far, and nothing is read twice.
///
/// ``Environment/write(_:)`` lends its transaction to one closure and runs the closure again when the map
/// must grow. A held write cannot do that: the caller's work between its reads and its writes may not be
/// repeatable. So ``commit()`` and ``withWrites(_:)`` report a full map as ``LMDBError/mapFull`` with the
/// transaction already aborted, and the caller runs its writes again in ``Environment/write(_:)``, which
/// grows the map.
///
/// Rules, as for ``Environment/write(_:)``:
/// - End it exactly once, with ``commit()`` or ``abort()``, **on the thread that began it**: it holds the
///   environment's write lock and is registered as that thread's write.
/// - Between begin and end the thread must not call ``Environment/write(_:)`` or ``Environment/beginWrite()``
///   on the same environment (they throw ``LMDBError/invalid``); ``Environment/read(_:)`` may run and sees
///   the committed state, not this transaction's writes.
/// - Every other writer of the environment waits until it ends, so keep it short.
///
/// A copyable handle to the one transaction, not the transaction itself: copies must not outlive its end.
public struct HeldWrite {
    let environment: Environment
    let access: _TransactionAccess

    /// Runs `body` with the transaction for reading; reads see this transaction's own writes.
    /// - Throws: whatever `body` throws.
    @inline(__always)
    public func read<R, E: Error>(_ body: (borrowing WriteTransaction) throws(E) -> R) throws(E) -> R {
        let transaction = WriteTransaction(access)
        return try body(transaction)
    }

    /// Runs `body` with the transaction for writing.
    /// - Throws: ``LMDBError/mapFull`` when a put met a full map, even if `body` swallowed it: the
    ///   transaction is then unusable and **has been aborted**: do not end it again; run the writes again
    ///   in ``Environment/write(_:)``. Otherwise whatever `body` throws (the transaction stays open).
    public func withWrites<R>(_ body: (inout WriteTransaction) throws -> R) throws -> R {
        var transaction = WriteTransaction(access)
        do {
            let result = try body(&transaction)
            if transaction.sawMapFull { throw LMDBError(MDB_MAP_FULL, "put in \(environment.path)") }
            return result
        } catch {
            if transaction.sawMapFull || (error as? LMDBError) == .mapFull {
                abort()
                throw (error as? LMDBError) ?? LMDBError(MDB_MAP_FULL, "put in \(environment.path)")
            }
            throw error
        }
    }

    /// Runs `body` in the transaction and commits it, ending it whatever the outcome. When the map is full (a
    /// put or the commit), the transaction is aborted and `body` runs again in ``Environment/write(_:)``, which
    /// grows the map: so, as there, `body` must only touch the transaction.
    /// - Throws: whatever `body` throws and the commit's errors, with nothing committed; ``LMDBError/mapFull``
    ///   when the map cannot grow (see ``Environment/write(_:)``).
    public func commit<R>(writing body: (inout WriteTransaction) throws -> R) throws -> R {
        let result: R
        do {
            result = try withWrites(body)
        } catch let error as LMDBError where error == .mapFull {
            return try environment.write(body)  // `withWrites` aborted the transaction
        } catch {
            abort()
            throw error
        }
        do {
            try commit()
        } catch  where error == .mapFull {
            return try environment.write(body)
        }
        return result
    }

    /// Commits the transaction (`mdb_txn_commit`) and releases the write lock. The transaction is ended
    /// whatever the outcome.
    /// - Throws: ``LMDBError/mapFull`` when the commit needed a larger map (nothing was committed: run the
    ///   writes again in ``Environment/write(_:)``); other LMDB errors of the commit (nothing was committed).
    /// - Complexity: as the commit of ``Environment/write(_:)``.
    public func commit() throws(LMDBError) {
        let rc = mdb_txn_commit(access.transaction)  // frees the transaction, also on failure
        environment.endHeldWrite()
        try check(rc, "mdb_txn_commit on \(environment.path)")
    }

    /// Aborts the transaction (`mdb_txn_abort`): nothing it wrote is kept. Releases the write lock.
    public func abort() {
        mdb_txn_abort(access.transaction)
        environment.endHeldWrite()
    }
}

extension Environment {
    /// Begins a write transaction that stays open until ``HeldWrite/commit()`` or ``HeldWrite/abort()``
    /// (see ``HeldWrite`` for the rules). Waits for the write in progress, like ``write(_:)``.
    ///
    /// - Throws: ``LMDBError/invalid`` when this thread already writes in this environment, or if closed;
    ///   ``LMDBError/permissionDenied`` if read-only; ``LMDBError/mapResized`` when another process grew the
    ///   map while this thread is inside a read (otherwise that is handled, as in ``write(_:)``).
    /// - Complexity: `mdb_txn_begin`, one lock.
    public func beginWrite() throws -> HeldWrite {
        let id = ObjectIdentifier(self)
        let activity = ThreadActivity.current
        try refuseNestedWrite("beginWrite", activity, id)
        var resizes = 0
        while true {
            writeLock.lock()
            let begun: OpaquePointer?
            do {
                begun = try beginWriteTransaction()
            } catch {
                writeLock.unlock()
                throw error
            }
            if let begun {
                activity.enterWrite(id)
                return HeldWrite(environment: self, access: access(begun))
            }
            writeLock.unlock()
            guard activity.readDepth(in: id) == 0, resizes < 8 else {
                throw LMDBError(MDB_MAP_RESIZED, "mdb_txn_begin (write) on \(path)")
            }
            resizes += 1
            try adoptResizedMap()
        }
    }

    /// Releases what ``beginWrite()`` took, once the transaction is committed or aborted.
    func endHeldWrite() {
        writeLock.unlock()
        ThreadActivity.current.exitWrite(ObjectIdentifier(self))
    }
}
