import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error reported by LMDB, by the operating system under it, or by this module when it is misused.
///
/// Errors are compared and hashed by ``code`` only, so a `catch` clause can match a kind of failure while the
/// ``message`` keeps the details (the path, the database name, the call that failed):
///
/// ```swift
/// do { try environment.write { try $0.put(value, forKey: key, in: db, overwrite: false) } }
/// catch let error as LMDBError where error == .keyExists { … }
/// ```
///
/// The static members name the LMDB return codes (`MDB_*`) and the `errno` values LMDB passes through; any
/// other code is kept as it is.
public struct LMDBError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw code: an `MDB_*` return code (negative) or an `errno` value (positive).
    public let code: Int32

    /// The text of `mdb_strerror(code)`, followed by what was being done when it failed.
    public var message: String

    /// Creates an error with a code and, by default, the text of `mdb_strerror` for it.
    ///
    /// - Complexity: O(1) plus the length of the message.
    public init(code: Int32, message: String? = nil) {
        self.code = code
        self.message = message ?? LMDBError.describe(code)
    }

    /// An error for `code` whose message is `mdb_strerror(code)` followed by `context`.
    init(_ code: Int32, _ context: String) {
        self.init(code: code, message: "\(LMDBError.describe(code)) (\(context))")
    }

    /// This error kind with a message of our own: used for misuse that LMDB does not see.
    func with(_ message: String) -> LMDBError {
        LMDBError(code: code, message: message)
    }

    /// The text of `mdb_strerror` for a code (which also covers `strerror` for `errno` values).
    static func describe(_ code: Int32) -> String {
        String(cString: mdb_strerror(code))
    }

    /// The message, with the code.
    public var description: String { "LMDBError(\(code)): \(message)" }

    /// Compares the codes only: the message is detail, not identity.
    public static func == (lhs: LMDBError, rhs: LMDBError) -> Bool { lhs.code == rhs.code }

    /// Hashes the code only, consistently with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension LMDBError {
    /// `MDB_KEYEXIST`: the key is already there (a put with `overwrite: false`).
    public static let keyExists = LMDBError(code: MDB_KEYEXIST)
    /// `MDB_NOTFOUND`: no such key, or no such named database when it is opened without `create`.
    public static let notFound = LMDBError(code: MDB_NOTFOUND)
    /// `MDB_PAGE_NOTFOUND`: a requested page was not found; usually corruption.
    public static let pageNotFound = LMDBError(code: MDB_PAGE_NOTFOUND)
    /// `MDB_CORRUPTED`: the located page was of the wrong type.
    public static let corrupted = LMDBError(code: MDB_CORRUPTED)
    /// `MDB_PANIC`: a fatal error earlier left the environment unusable; close and reopen it.
    public static let panic = LMDBError(code: MDB_PANIC)
    /// `MDB_VERSION_MISMATCH`: the environment was written by an incompatible LMDB version.
    public static let versionMismatch = LMDBError(code: MDB_VERSION_MISMATCH)
    /// `MDB_INVALID`: the file is not an LMDB environment. This module also throws it for misuse, with a
    /// message saying which: a closed environment, a `write` nested in a `write`, conflicting options.
    public static let invalid = LMDBError(code: MDB_INVALID)
    /// `MDB_MAP_FULL`: the memory map is full and could not grow (it is at `maximumMapSizeBytes`).
    public static let mapFull = LMDBError(code: MDB_MAP_FULL)
    /// `MDB_DBS_FULL`: more named databases than `maximumDatabases`.
    public static let dbsFull = LMDBError(code: MDB_DBS_FULL)
    /// `MDB_READERS_FULL`: every slot of the reader table is taken (`maximumReaders`).
    public static let readersFull = LMDBError(code: MDB_READERS_FULL)
    /// `MDB_TLS_FULL`: too many thread-local-storage keys (not used with `MDB_NOTLS`).
    public static let tlsFull = LMDBError(code: MDB_TLS_FULL)
    /// `MDB_TXN_FULL`: the transaction has too many dirty pages; commit in smaller pieces.
    public static let txnFull = LMDBError(code: MDB_TXN_FULL)
    /// `MDB_CURSOR_FULL`: cursor stack too deep (internal error).
    public static let cursorFull = LMDBError(code: MDB_CURSOR_FULL)
    /// `MDB_PAGE_FULL`: a page has no more space (internal error).
    public static let pageFull = LMDBError(code: MDB_PAGE_FULL)
    /// `MDB_MAP_RESIZED`: another process grew the map beyond this one's size.
    public static let mapResized = LMDBError(code: MDB_MAP_RESIZED)
    /// `MDB_INCOMPATIBLE`: the operation does not fit the database's flags (or the database changed).
    public static let incompatible = LMDBError(code: MDB_INCOMPATIBLE)
    /// `MDB_BAD_RSLOT`: a reader slot was reused wrongly.
    public static let badReaderSlot = LMDBError(code: MDB_BAD_RSLOT)
    /// `MDB_BAD_TXN`: the transaction must abort, has a child, or is invalid.
    public static let badTransaction = LMDBError(code: MDB_BAD_TXN)
    /// `MDB_BAD_VALSIZE`: a key is empty or longer than the maximum key size, or a value is too large.
    public static let badValueSize = LMDBError(code: MDB_BAD_VALSIZE)
    /// `MDB_BAD_DBI`: the database handle is not valid here (closed, or from another environment).
    public static let badDBI = LMDBError(code: MDB_BAD_DBI)

    /// `EACCES`: permission denied (also: a write on a read-only environment).
    public static let permissionDenied = LMDBError(code: EACCES)
    /// `ENOENT`: no such file or directory.
    public static let noSuchFile = LMDBError(code: ENOENT)
    /// `ENOSPC`: no space left on the device.
    public static let noSpace = LMDBError(code: ENOSPC)
    /// `ENOTDIR`: a component of the path is not a directory.
    public static let notADirectory = LMDBError(code: ENOTDIR)
    /// `EEXIST`: the file exists (for example, a copy into a directory that already holds `data.mdb`).
    public static let fileExists = LMDBError(code: EEXIST)
    /// `EINVAL`: an invalid argument.
    public static let invalidArgument = LMDBError(code: EINVAL)
    /// `EIO`: an input/output error from the device.
    public static let ioError = LMDBError(code: EIO)
    /// `ENOMEM`: out of memory.
    public static let outOfMemory = LMDBError(code: ENOMEM)
    /// `EROFS`: the file system is read-only.
    public static let readOnlyFileSystem = LMDBError(code: EROFS)
    /// `EBUSY`: the resource is busy.
    public static let busy = LMDBError(code: EBUSY)
}

/// Throws an ``LMDBError`` for a non-zero LMDB return code; `context` is built only on failure.
@inline(__always)
func check(_ code: Int32, _ context: @autoclosure () -> String) throws(LMDBError) {
    if code != 0 { throw LMDBError(code, context()) }
}
