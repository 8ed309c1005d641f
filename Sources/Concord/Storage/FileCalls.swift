import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: POSIX calls

/// The POSIX calls the directory needs, with failures as `ConcordError.storage` naming the
/// call, the path and `errno`'s text.
enum FileCalls {
    static func failure(_ call: String, _ path: String, _ code: Int32) -> ConcordError {
        ConcordError(
            .storage, "cannot \(call) \(path)", underlying: "\(String(cString: strerror(code))) (errno \(code))")
    }

    /// The type bits of what is at `path` (following symbolic links), or `nil` when nothing is.
    static func fileType(atPath path: String) throws(ConcordError) -> mode_t? {
        var information = stat()
        guard stat(path, &information) == 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw failure("examine", path, code)
        }
        return information.st_mode & S_IFMT
    }

    /// Creates `path` and its missing parents, then flushes the parent so the new directory
    /// survives a power loss.
    static func createDirectory(atPath path: String, what: String = "cluster directory") throws(ConcordError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ConcordError(.storage, "cannot create the \(what) \(path)", underlying: "\(error)")
        }
        try synchronizeDirectory(atPath: (path as NSString).deletingLastPathComponent)
    }

    /// The whole file at `path`. Throws `.corrupted` when it is longer than `maximumBytes`.
    static func readFile(atPath path: String, maximumBytes: Int, what: String) throws(ConcordError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open the \(what)", path, errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure("read the \(what)", path, code)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= maximumBytes else {
                throw ConcordError(
                    .corrupted,
                    "the \(what) \(path) is larger than \(maximumBytes) bytes, so it is damaged; "
                        + "restore it from a backup")
            }
        }
    }

    /// Writes `bytes` to `path` (created or truncated) and flushes it to the device. On a
    /// failure the file is deleted.
    static func writeDurably(_ bytes: [UInt8], toPath path: String) throws(ConcordError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("create", path, errno) }
        var failed: ConcordError?
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                failed = failure("write", path, code)
                break
            }
            offset += count
        }
        if failed == nil, !synchronize(descriptor) {
            failed = failure("flush", path, errno)
        }
        if close(descriptor) != 0, failed == nil, errno != EINTR {
            failed = failure("close", path, errno)
        }
        if let failed {
            // Best effort: the file is ours and half written; a leftover is harmless, as the
            // next write truncates it, so a failure to delete it is not worth reporting over
            // the error that matters.
            unlink(path)
            throw failed
        }
    }

    /// Renames `source` over `destination`, atomically; on a failure `source` is deleted.
    static func renameAtomically(_ source: String, to destination: String) throws(ConcordError) {
        guard rename(source, destination) == 0 else {
            let error = failure("rename \(source) to", destination, errno)
            unlink(source)  // Best effort, as in `writeDurably`.
            throw error
        }
    }

    /// Flushes the directory at `path`, so the names created, renamed or deleted in it survive
    /// a power loss.
    static func synchronizeDirectory(atPath path: String) throws(ConcordError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open the directory", path, errno) }
        defer { close(descriptor) }
        guard synchronize(descriptor) else { throw failure("flush the directory", path, errno) }
    }

    /// Flushes the file at `path` to the device.
    static func synchronizeFile(atPath path: String) throws(ConcordError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open", path, errno) }
        defer { close(descriptor) }
        guard synchronize(descriptor) else { throw failure("flush", path, errno) }
    }

    /// Deletes the file at `path`; one already gone is fine.
    static func removeFile(atPath path: String) throws(ConcordError) {
        guard unlink(path) == 0 else {
            let code = errno
            if code == ENOENT { return }
            throw failure("delete", path, code)
        }
    }

    /// `fsync`, or on Apple platforms `F_FULLFSYNC` (there `fsync` does not flush the drive's
    /// cache). Leaves `errno` set on failure.
    private static func synchronize(_ descriptor: Int32) -> Bool {
        #if canImport(Darwin)
            if fcntl(descriptor, F_FULLFSYNC) == 0 { return true }
        #endif
        while fsync(descriptor) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }
}
