import CLMDB

/// A named database inside an ``Environment`` (or its unnamed main database), as returned by
/// ``Environment/database(_:create:)``.
///
/// A plain value: keep it and use it in any transaction of the environment that opened it. A `Database` of
/// another environment, or of an environment that was closed and reopened, is refused with
/// ``LMDBError/badDBI`` rather than silently reading a different database.
public struct Database: Sendable, Hashable {
    /// The LMDB handle (`MDB_dbi`).
    let handle: MDB_dbi
    /// The ``Environment/serial`` of the environment that opened it.
    let environmentSerial: UInt64
    /// The name given to ``Environment/database(_:create:)``; `nil` for the main database.
    public let name: String?

    /// How error messages name this database.
    var displayName: String { name.map { "database '\($0)'" } ?? "main database" }
}
