import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Storage {
    /// Replaces the store's `data.mdb` by a compacting copy of it (free pages left out, so
    /// no freed page keeps an old record), through a scratch folder `scratchName` inside the
    /// store's folder. Nothing else may write meanwhile: the caller holds the replica's lock,
    /// or the directory's.
    ///
    /// The copy is flushed before it replaces the file, and the folder after, so a crash
    /// at any point leaves either the old file or the copy, both whole.
    /// - Returns: the file's size before and after, in bytes.
    /// - Throws: `.storage`. A failed copy leaves the environment open and the file as it
    ///   was; a failure after the copy leaves the environment closed (`environment.isClosed`)
    ///   and the file whole (old or new): reopen it.
    func replaceWithCompactingCopy(scratchName: String) throws(ConcordError) -> (before: UInt64, after: UInt64) {
        let folder = environment.path
        let data = folder + "/data.mdb"
        let scratch = folder + "/" + scratchName
        let before = Self.fileSize(atPath: data)
        // A leftover of an interrupted compaction is of no use; removing it is best effort
        // (creating the folder below fails clearly if it is still in the way).
        try? FileManager.default.removeItem(atPath: scratch)
        try FileCalls.createDirectory(atPath: scratch, what: "compaction folder")
        defer {
            // Best effort: the scratch folder holds nothing the store needs.
            try? FileManager.default.removeItem(atPath: scratch)
        }
        do {
            try environment.copy(to: scratch, compact: true)
        } catch {
            throw ConcordError(.storage, "cannot copy the store at \(folder) compacted", underlying: "\(error)")
        }
        try FileCalls.synchronizeFile(atPath: scratch + "/data.mdb")
        environment.close()
        guard rename(scratch + "/data.mdb", data) == 0 else {
            throw FileCalls.failure("move the compacted copy over", data, errno)
        }
        try FileCalls.synchronizeDirectory(atPath: folder)
        return (before, Self.fileSize(atPath: data))
    }
}
