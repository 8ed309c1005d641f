import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The audit log of a cluster directory: an append-only record of every administrative
/// action — init, open, close, crash, restart, wipe, add and remove replica, backup,
/// restore, verify, gc, compact, rekey, a refused key — one JSON line each, in
/// `DIR/audit/audit-<day>-<n>.jsonl`.
///
/// A line holds its sequence number, the time, the actor (process id, user, program,
/// host), the action, its arguments and its result, and `previous`: the SHA-256 of the line
/// before it (of the last line of the file before, for a file's first line). So
/// `verify()` finds a line removed, changed, inserted or moved, in any file but the oldest
/// kept: files older than the retention count are deleted, and the oldest kept file's first
/// line then points at a line that is gone (sequence numbers still show whether lines are
/// missing after it).
///
/// A file is rotated when it passes `maximumFileBytes` or the day (UTC) changes; the newest
/// `retainedFiles` (the seed's 30) are kept. Appends from several processes (the owner, a
/// `concord backup create` beside it) take `audit/.lock` in turn. A failure to append is an
/// error of the action being recorded: it is thrown to its caller, never swallowed.
public struct AuditLog: Sendable {
    /// One line.
    public struct Entry: Sendable, Hashable, Codable {
        /// 1 for the first line ever written here, then one more per line.
        public var sequence: UInt64
        /// When, ISO 8601 in UTC with milliseconds.
        public var time: String
        /// Who: `pid`, `user`, `program`, `host`.
        public var actor: [String: String]
        /// What (`open`, `backup`, …).
        public var action: String
        /// With what.
        public var arguments: [String: String]
        /// `ok`, or `error: …`.
        public var result: String
        /// The SHA-256 (hexadecimal) of the line before, or 64 zeros for the very first.
        public var previous: String
    }

    /// The folder of the audit files in a cluster directory.
    public static let folderName = "audit"
    static let genesis = String(repeating: "0", count: 64)

    /// The audit folder.
    public let folder: URL
    /// Rotate past this size. Default 10 MiB.
    public var maximumFileBytes: Int
    /// Keep this many files. Default 30 (the seed's retention).
    public var retainedFiles: Int

    /// The audit log of the cluster directory `directory`.
    public init(clusterDirectory directory: URL, maximumFileBytes: Int = 10 << 20, retainedFiles: Int = 30) {
        folder = directory.appendingPathComponent(Self.folderName)
        self.maximumFileBytes = max(1_024, maximumFileBytes)
        self.retainedFiles = max(1, retainedFiles)
    }

    // MARK: Appending

    /// Appends a line for `action` and flushes it to the device.
    /// - Throws: `ConcordError.storage` when the line cannot be written (the caller's action
    ///   fails with it).
    public func record(_ action: String, arguments: [String: String] = [:], result: String = "ok")
        throws(ConcordError)
    {
        try FileCalls.createDirectory(atPath: folder.path, what: "audit folder")
        let lockPath = folder.appendingPathComponent(".lock").path
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw FileCalls.failure("open the audit lock", lockPath, errno) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileCalls.failure("lock", lockPath, errno) }
        }
        let files = try fileNames()
        let now = Date()
        let day = Self.day(now)
        var (previous, sequence) = (Self.genesis, UInt64(0))
        var target: String
        if let last = files.last, let tail = try lastLine(of: last) {
            previous = Self.sha256(tail)
            // A last line that does not decode (damaged, or edited by hand) does not stop the
            // action being recorded: the new line still chains to its bytes, numbered on from
            // 0, and `verify()` reports both the damaged line and the break in the numbers.
            sequence = (try? Self.decode(tail, at: last)).map(\.sequence) ?? 0
            let size = Storage.fileSize(atPath: folder.appendingPathComponent(last).path)
            target = last.hasPrefix("audit-\(day)-") && size < maximumFileBytes ? last : nextName(after: last, day: day)
        } else {
            target = files.last ?? "audit-\(day)-001.jsonl"
        }
        let entry = Entry(
            sequence: sequence + 1, time: Self.timestamp(now),
            actor: Self.actor, action: action, arguments: arguments, result: result, previous: previous)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line: Data
        do {
            line = try encoder.encode(entry) + Data("\n".utf8)
        } catch {
            throw ConcordError(.storage, "cannot encode an audit line", underlying: "\(error)")
        }
        try append(line, to: target)
        if !files.contains(target) { try deleteBeyondRetention(files + [target]) }
    }

    /// Records `action` with the outcome of `body`, and returns or rethrows it. A failure to
    /// record is thrown when `body` succeeded (the action then fails), and added to the
    /// error of `body` when it did not.
    func recording<R>(
        _ action: String, _ arguments: [String: String] = [:], _ body: () throws(ConcordError) -> R
    ) throws(ConcordError) -> R {
        do {
            let value = try body()
            try record(action, arguments: arguments)
            return value
        } catch {
            if let failure = Result(catching: { () throws(ConcordError) in
                try record(action, arguments: arguments, result: "error: \(error)")
            }).failureValue {
                throw ConcordError(error.code, error.message + "; the audit log could not record it: \(failure)")
            }
            throw error
        }
    }

    private func append(_ line: Data, to name: String) throws(ConcordError) {
        let path = folder.appendingPathComponent(name).path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileCalls.failure("open the audit file", path, errno) }
        defer { close(descriptor) }
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else { throw FileCalls.failure("append to the audit file", path, errno) }
        guard fsync(descriptor) == 0 else { throw FileCalls.failure("flush the audit file", path, errno) }
    }

    private func nextName(after last: String, day: String) -> String {
        let parts = last.dropFirst("audit-".count).dropLast(".jsonl".count).split(separator: "-")
        guard parts.count == 2, parts[0] == day, let number = Int(parts[1]) else { return "audit-\(day)-001.jsonl" }
        return "audit-\(day)-\(String(format: "%03d", number + 1)).jsonl"
    }

    private func deleteBeyondRetention(_ names: [String]) throws(ConcordError) {
        for name in names.dropLast(retainedFiles) {
            try FileCalls.removeFile(atPath: folder.appendingPathComponent(name).path)
        }
    }

    // MARK: Reading

    /// The audit files, oldest first.
    func fileNames() throws(ConcordError) -> [String] {
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { $0.hasPrefix("audit-") && $0.hasSuffix(".jsonl") }.sorted()
        } catch {
            throw ConcordError(.storage, "cannot list the audit folder \(folder.path)", underlying: "\(error)")
        }
    }

    private func lines(of name: String) throws(ConcordError) -> [String] {
        let bytes = try FileCalls.readFile(
            atPath: folder.appendingPathComponent(name).path, maximumBytes: 1 << 30, what: "audit file")
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
            .map(String.init)
    }

    private func lastLine(of name: String) throws(ConcordError) -> String? {
        try lines(of: name).last
    }

    /// Every line kept, oldest first.
    /// - Throws: `.corrupted` for a line that is not an audit entry; `.storage`.
    public func entries() throws(ConcordError) -> [Entry] {
        var entries: [Entry] = []
        for name in try fileNames() {
            for (number, line) in try lines(of: name).enumerated() {
                entries.append(try Self.decode(line, at: "\(name) line \(number + 1)"))
            }
        }
        return entries
    }

    /// Checks the chain over every line kept: each line's `previous` is the SHA-256 of the
    /// line before, and sequence numbers follow each other. Returns the problems found
    /// (empty: the log is intact).
    public func verify() throws(ConcordError) -> [String] {
        var problems: [String] = []
        var previousLine: String?
        var previousSequence: UInt64?
        for name in try fileNames() {
            for (number, line) in try lines(of: name).enumerated() {
                let place = "\(name) line \(number + 1)"
                let entry: Entry
                do {
                    entry = try Self.decode(line, at: place)
                } catch {
                    problems.append(error.message)
                    previousLine = line
                    previousSequence = nil
                    continue
                }
                if let previousLine, entry.previous != Self.sha256(previousLine) {
                    problems.append("\(place) does not follow the line before it: a line was changed, removed or moved")
                }
                if previousLine == nil, entry.sequence == 1, entry.previous != Self.genesis {
                    problems.append("\(place) is the first line but does not start the chain")
                }
                if let previousSequence, entry.sequence != previousSequence + 1 {
                    problems.append("\(place) has sequence \(entry.sequence) after \(previousSequence)")
                }
                previousLine = line
                previousSequence = entry.sequence
            }
        }
        return problems
    }

    // MARK: Helpers

    /// One line as an entry.
    /// - Throws: `.corrupted` naming `place` and what is wrong with the line.
    static func decode(_ line: String, at place: String) throws(ConcordError) -> Entry {
        do {
            return try JSONDecoder().decode(Entry.self, from: Data(line.utf8))
        } catch {
            throw ConcordError(.corrupted, "\(place) is not an audit entry", underlying: "\(error)")
        }
    }

    static func sha256(_ line: String) -> String {
        SHA256.hash(data: Data(line.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `2026-12-01T07:37:07.428Z`.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// `20261201`: the UTC day files are rotated by.
    static func day(_ date: Date) -> String {
        String(BackupWriter.utcStamp(date).prefix(8))
    }

    static let actor: [String: String] = {
        let user = getpwuid(geteuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(geteuid())"
        return [
            "pid": "\(getpid())", "user": user, "program": ProcessInfo.processInfo.processName,
            "host": ProcessInfo.processInfo.hostName,
        ]
    }()
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
