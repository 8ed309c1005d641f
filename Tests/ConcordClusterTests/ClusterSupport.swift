import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Support for the multi-process tests: real `nats-server` processes and real `concord replica
// run` processes, started and killed by pid. Run by `make test-cluster`, which installs
// Debian's nats-server when it is missing; these tests fail (they do not skip) without it.

/// A fresh temporary directory, removed when the body returns.
func withTemporaryDirectory<R>(_ body: (URL) async throws -> R) async throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-cluster-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// A TCP port nothing listens on now (the kernel's choice for a socket bound to port 0).
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket() failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw TestFailure("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func isListening(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass; throws saying `what`.
func eventually(_ what: String, within seconds: Double, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return }
        guard Date() < deadline else { throw TestFailure("timed out after \(seconds) s waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// A child process whose standard output is collected line by line.
final class Child: @unchecked Sendable {
    let process = Process()
    let name: String
    private let output = Pipe()
    private let errors = Pipe()
    private let lock = NSLock()
    private var outputText = ""
    private var errorText = ""

    init(_ executable: String, _ arguments: [String], name: String) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = errors
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.outputText += String(decoding: data, as: UTF8.self) }
        }
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.errorText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var standardOutput: String { lock.withLock { outputText } }
    var standardError: String { lock.withLock { errorText } }
    /// Complete lines printed so far.
    var lines: [String] {
        let text = standardOutput
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        return complete.split(separator: "\n").map(String.init)
    }

    /// Waits for a line starting with `prefix`; throws with what the child printed when it
    /// exits first or `seconds` pass.
    @discardableResult
    func waitForLine(startingWith prefix: String, within seconds: Double = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let line = lines.first(where: { $0.hasPrefix(prefix) }) { return line }
            if !process.isRunning || Date() > deadline {
                throw TestFailure(
                    "\(name) \(process.isRunning ? "did not print" : "exited before printing") '\(prefix)'; "
                        + "stdout: \(standardOutput.suffix(600)) stderr: \(standardError.suffix(1500))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The last `acked K` line's K (0 when none).
    var lastAcknowledged: Int {
        lines.compactMap { $0.hasPrefix("acked ") ? Int($0.dropFirst(6)) : nil }.last ?? 0
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// SIGKILL, and waits for the exit.
    func killHard() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, waits for the exit and returns its status.
    @discardableResult
    func terminate(within seconds: Double = 30) async throws -> Int32 {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                killHard()
                throw TestFailure("\(name) did not exit within \(seconds) s of SIGTERM")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// A nats-server with JetStream on 127.0.0.1, its store in a folder of its own.
final class NATSServer: @unchecked Sendable {
    let port: Int
    let storeDirectory: URL
    let arguments: [String]
    private(set) var child: Child?

    static var executable: String {
        get throws {
            for directory in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
                let path = directory + "/nats-server"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            throw TestFailure(
                "nats-server is not installed: run `make test-cluster`, which installs Debian's nats-server")
        }
    }

    /// A single server with `-js`; `configuration` replaces the command line's options with a
    /// configuration file's (for clusters and TLS).
    init(in root: URL, name: String = "nats", port: Int? = nil, configuration: String? = nil) throws {
        self.port = try port ?? freePort()
        storeDirectory = root.appendingPathComponent("\(name)-store")
        if let configuration {
            let file = root.appendingPathComponent("\(name).conf")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            arguments = ["-c", file.path]
        } else {
            arguments = ["-js", "-a", "127.0.0.1", "-p", "\(self.port)", "-sd", storeDirectory.path]
        }
    }

    var url: String { "nats://127.0.0.1:\(port)" }

    /// Starts (or restarts) the server and waits until it listens.
    func start() async throws {
        let child = try Child(try Self.executable, arguments, name: "nats-server :\(port)")
        self.child = child
        try await eventually("nats-server on port \(port)", within: 20) {
            guard child.process.isRunning else {
                throw TestFailure("nats-server exited: \(child.standardError.suffix(1500))")
            }
            return isListening(port)
        }
    }

    func killHard() { child?.killHard() }
}

/// The `concord` binary built beside the test bundle.
let concordExecutable: String = {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("concord")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
        directory = directory.deletingLastPathComponent()
    }
    return ".build/debug/concord"
}()

/// Runs `concord` with `arguments` to completion: exit status, standard output, standard error.
@discardableResult
func concord(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: concordExecutable)
    process.arguments = arguments
    let (output, error) = (Pipe(), Pipe())
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

/// `concord` that must succeed; returns its standard output without the last newline.
func concordOK(_ arguments: [String]) throws -> String {
    let result = try concord(arguments)
    guard result.status == 0 else {
        throw TestFailure("concord \(arguments.joined(separator: " ")) exited \(result.status): \(result.error)")
    }
    return result.output.trimmingCharacters(in: .newlines)
}

/// A member directory and its `concord replica run` process.
final class Member: @unchecked Sendable {
    let directory: URL
    let id: Int
    var child: Child?

    init(root: URL, cluster: String, id: Int, members: Int, extra: [String] = []) throws {
        directory = root.appendingPathComponent("member-\(id)")
        self.id = id
        _ = try concordOK(
            ["replica", "init", directory.path, "--cluster", cluster, "--replica", "\(id)", "--members", "\(members)"]
                + extra)
    }

    /// Starts `concord replica run` and waits until it serves.
    @discardableResult
    func run(_ servers: [String], workload: Int = 0, extra: [String] = []) async throws -> Child {
        let arguments =
            ["replica", "run", directory.path] + servers.flatMap { ["--nats", $0] } + ["--workload", "\(workload)"]
            + extra
        let child = try Child(concordExecutable, arguments, name: "member \(id)")
        self.child = child
        try await child.waitForLine(startingWith: "serving replica \(id)")
        return child
    }

    /// `concord read DIR workload pncounter --bucket load` (works while the member runs).
    func workload() throws -> Int {
        Int(try concordOK(["read", directory.path, "workload", "pncounter", "--bucket", "load"])) ?? -1
    }

    /// `concord digest DIR`.
    func digest() throws -> String { try concordOK(["digest", directory.path]) }
}

/// Waits until every member's digest is the same and its workload counter reads `total`.
func waitForConvergence(_ members: [Member], total: Int, within seconds: Double = 90) async throws {
    var last: [String] = []
    do {
        try await eventually("convergence on \(total)", within: seconds) {
            let counts = try members.map { try $0.workload() }
            guard counts.allSatisfy({ $0 == total }) else {
                last = counts.map { "\($0)" }
                return false
            }
            let digests = try members.map { try $0.digest() }
            last = digests
            return Set(digests).count == 1
        }
    } catch {
        let logs = members.map { member in
            "member \(member.id) stderr: \(member.child?.standardError.suffix(2_000) ?? "(not running)")"
        }
        throw TestFailure("\(error); last seen: \(last)\n" + logs.joined(separator: "\n"))
    }
}
