import Foundation
import NATSClient
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every integration suite is nested here, so they all run one at a time: timing checks
/// (ack_wait, throughput) do not compete with another test's server.
@Suite(.serialized) enum NATSIntegrationTests {}

/// A `nats-server` this test started, on a free loopback port with its own store
/// directory, killed by its process id at the end. A missing `nats-server` fails the test
/// with a message saying so: these tests never skip silently.
final class NATSServerProcess {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    let executable: String
    let port: Int
    let directory: URL
    let storeDirectory: URL
    let extraArguments: [String]
    private(set) var process: Process?

    var url: String { "nats://127.0.0.1:\(port)" }

    /// Starts `nats-server -js -a 127.0.0.1 -p PORT -sd STORE` plus `arguments` (or, with
    /// `configuration`, a config file holding it, `PORT` replaced).
    init(arguments: [String] = [], configuration: String? = nil) throws {
        executable = try Self.findExecutable("nats-server")
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nats-test-\(UUID().uuidString)")
        storeDirectory = directory.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: storeDirectory, withIntermediateDirectories: true)
        var extra = arguments
        if let configuration {
            let file = directory.appendingPathComponent("server.conf")
            try configuration.replacingOccurrences(of: "PORT", with: String(port))
                .write(to: file, atomically: true, encoding: .utf8)
            extra += ["-c", file.path]
        }
        extraArguments = extra
        try start()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    static func findExecutable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let folders = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        for folder in folders {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        throw Missing(
            description:
                "\(name) is not in PATH (\(path)): install it (apt-get install -y \(name)) to run the NATS integration tests"
        )
    }

    /// A port the kernel just handed out on 127.0.0.1, released for the server to take.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Missing(description: "socket() failed: \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw Missing(description: "bind() failed: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts the server (again, on the same port and store) and waits until it accepts
    /// connections.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDirectory.path] + extraArguments
        let log = directory.appendingPathComponent("server.log")
        if !FileManager.default.fileExists(atPath: log.path) {
            FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            if !process.isRunning {
                throw Missing(description: "nats-server exited: \(logText())")
            }
            usleep(20_000)
        }
        throw Missing(description: "nats-server did not listen on \(port) within 10 s: \(logText())")
    }

    /// SIGKILL by process id, and waits for it to exit.
    func kill() {
        guard let process, process.isRunning else { return }
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func logText() -> String {
        (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }

    static func accepts(port: Int) -> Bool {
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
}

/// Runs `command` with `arguments` and fails with its output when it exits non-zero.
func run(_ command: String, _ arguments: [String], in directory: URL) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try NATSServerProcess.findExecutable(command))
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NATSServerProcess.Missing(
            description:
                "\(command) \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
    }
}

/// Waits until `condition` holds, checking every 50 ms, for at most `seconds`.
func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// The next message of `iterator`, or `nil` after `timeout`.
func nextMessage(
    _ subscription: NATSSubscription, timeout: Duration = .seconds(5)
) async -> NATSMessage? {
    await withTaskGroup(of: NATSMessage?.self) { group in
        group.addTask {
            var iterator = subscription.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
