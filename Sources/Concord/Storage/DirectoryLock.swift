import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The owner's lock on a cluster directory: `cluster.lock`, locked with `flock(LOCK_EX)` for as
/// long as a `Cluster` (or a command that changes the directory) has it open.
///
/// LMDB lets any number of processes read an environment, so other processes may read a
/// directory while its owner writes (see `ClusterReader`). Only one may *own* it: the
/// replicas' clocks, logs and peer state live in the owner's memory, and a second writer would
/// reuse its dots. The lock says who owns the directory, so a refusal names the process.
///
/// The kernel drops the lock when the owning process exits, however it exits (a SIGKILL
/// included): a stale lock file is never a problem, and the file is never deleted (deleting
/// it would let two processes lock two different files). Its content — the owner's process
/// id, program, host and start time — is only what refusals quote.
final class DirectoryLock: @unchecked Sendable {
    /// The name of the lock file in a cluster directory.
    static let fileName = "cluster.lock"

    /// Who holds (or last held) a directory, as its lock file says.
    struct Holder: Sendable, Hashable, CustomStringConvertible {
        var processID: Int32
        var program: String
        var host: String
        var since: String

        var description: String { "process \(processID) (\(program) on \(host), since \(since))" }

        var fileContents: String {
            "pid \(processID)\nprogram \(program)\nhost \(host)\nsince \(since)\n"
        }

        init(processID: Int32, program: String, host: String, since: String) {
            self.processID = processID
            self.program = program
            self.host = host
            self.since = since
        }

        /// Parses a lock file's contents; nil when it holds nothing recognisable.
        init?(fileContents text: String) {
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let space = line.firstIndex(of: " ") else { continue }
                fields[String(line[..<space])] = String(line[line.index(after: space)...])
            }
            guard let pid = fields["pid"].flatMap({ Int32($0) }) else { return nil }
            self.init(
                processID: pid, program: fields["program"] ?? "?", host: fields["host"] ?? "?",
                since: fields["since"] ?? "?")
        }

        static var current: Holder {
            Holder(
                processID: getpid(), program: ProcessInfo.processInfo.processName,
                host: ProcessInfo.processInfo.hostName, since: Date().formatted(.iso8601))
        }
    }

    /// The directory locked.
    let directory: URL
    private var descriptor: Int32

    private init(directory: URL, descriptor: Int32) {
        self.directory = directory
        self.descriptor = descriptor
    }

    deinit { release() }

    static func lockPath(in directory: URL) -> String {
        directory.appendingPathComponent(fileName).path
    }

    /// Takes the lock of the existing directory `directory`, for `purpose` (quoted in errors).
    ///
    /// A lock another process (or another `Cluster` of this process) holds is waited for up
    /// to `patienceMilliseconds`, for a process that is closing.
    /// - Throws: `ConcordError.directoryInUse` naming the holder; `.storage` when the lock file
    ///   cannot be opened or locked.
    static func acquire(in directory: URL, for purpose: String, patienceMilliseconds: Int = 200)
        throws(ConcordError) -> DirectoryLock
    {
        let path = lockPath(in: directory)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileCalls.failure("open the lock file", path, errno) }
        var waited = 0
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(descriptor)
                throw FileCalls.failure("lock", path, code)
            }
            guard waited < patienceMilliseconds else {
                let holder = readHolder(descriptor: descriptor)
                close(descriptor)
                throw inUse(directory, holder: holder, purpose: purpose)
            }
            usleep(10_000)
            waited += 10
        }
        // Ours now: say so, for the refusals of others. A failure to write this is harmless
        // (refusals then quote less), so it is not an error.
        let text = Array(Holder.current.fileContents.utf8)
        if ftruncate(descriptor, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        }
        return DirectoryLock(directory: directory, descriptor: descriptor)
    }

    /// The error for a directory held by `holder`.
    static func inUse(_ directory: URL, holder: Holder?, purpose: String) -> ConcordError {
        let who = holder.map { "\($0)" } ?? "another process"
        return ConcordError(
            .directoryInUse,
            "cannot \(purpose): the cluster directory \(directory.path) is open in \(who); "
                + "close it there first (reading commands work meanwhile)")
    }

    /// Who holds the directory's lock now, or nil when nobody does (or there is no lock file).
    ///
    /// Probes with a shared lock taken and dropped at once; an owner starting at that instant
    /// waits for it (see `acquire`'s patience).
    static func holder(of directory: URL) -> Holder? {
        let path = lockPath(in: directory)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return nil
        }
        return readHolder(descriptor: descriptor)
            ?? Holder(processID: 0, program: "?", host: "?", since: "?")
    }

    private static func readHolder(descriptor: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Holder(fileContents: String(decoding: buffer[..<count], as: UTF8.self))
    }

    /// Drops the lock (closing the descriptor drops it). Idempotent.
    func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }
}
