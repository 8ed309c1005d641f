#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX file calls the environment needs, with failures as ``LMDBError`` (codes are `errno`).
enum FileSystem {
    /// Creates `path` and its missing parents (`mkdir -p`), each with mode 0775.
    static func createDirectories(_ path: String) throws(LMDBError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += component
            if mkdir(prefix, 0o775) != 0 {
                let code = errno
                guard code == EEXIST else { throw LMDBError(code, "cannot create directory \(prefix)") }
            }
            prefix += "/"
        }
        guard isDirectory(path) else {
            throw LMDBError.notADirectory.with("\(path) exists and is not a directory")
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The absolute path with every symbolic link, `.` and `..` resolved (`realpath`).
    static func realPath(_ path: String) throws(LMDBError) -> String {
        guard let resolved = realpath(path, nil) else {
            throw LMDBError(errno, "cannot resolve the path \(path)")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
