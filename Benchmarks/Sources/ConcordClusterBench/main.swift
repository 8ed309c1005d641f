// `make bench-cluster`: replication between processes through NATS JetStream, beside the
// in-memory bus, in one run.
//
// Each shape has W writers, each committing N transactions (an increment of load/workload and
// its commit time, in microseconds since 1970, assigned to the lwwregister load/sent-at), and
// one observer, which follows load/sent-at with `changes(of:)`:
//
// - in-memory bus: one `Cluster` of W + 1 replicas in background delivery mode, writers on
//   threads of this process;
// - NATS, one server and three: W `concord replica run --workload N --stamp` processes and
//   the observer a `NATSReplica` in this process.
//
// Reported: updates per second visible at the observer (from the first change it sees to the
// last), the writers' own commit rate, and commit-to-visible latency (p50, p99) over every
// change the observer is handed (changes coalesce, so each is the latest transaction visible).
// Durability noSync everywhere: this measures replication, not fsync.

import Concord
import ConcordNATS
import Foundation
import NATSClient

#if canImport(Glibc)
    import Glibc
#endif

struct Arguments {
    var concord = "../.build/release/concord"
    var updates = 20_000
    var writers = 2
    var shapes = ["bus", "nats-1", "nats-3"]
    /// Transactions per second per writer (0: as fast as each can).
    var rate = 0

    init() {
        var words = CommandLine.arguments.dropFirst().makeIterator()
        while let word = words.next() {
            switch word {
            case "--concord": concord = words.next() ?? concord
            case "--updates": updates = Int(words.next() ?? "") ?? updates
            case "--writers": writers = Int(words.next() ?? "") ?? writers
            case "--only": shapes = (words.next() ?? "").split(separator: ",").map(String.init)
            case "--rate": rate = Int(words.next() ?? "") ?? rate
            default:
                FileHandle.standardError.write(
                    Data(
                        "usage: ConcordClusterBench [--concord PATH] [--updates N] [--writers W] [--rate R] [--only bus,nats-1,nats-3]\n"
                            .utf8))
                exit(2)
            }
        }
    }
}

struct Result {
    var shape: String
    var total: Int
    var visiblePerSecond: Double
    var commitsPerSecond: Double
    var latencies: [Double]  // milliseconds

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return .nan }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
    }
}

func nowMicroseconds() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000) }

let workload = Key<PNCounter>("workload", bucket: "load")
let sentAt = Key<LWWRegister<UInt64>>("sent-at", bucket: "load")

/// Follows load/sent-at at `replica` until load/workload reads `total`; returns latencies and
/// the visible rate.
func observe(_ replica: Replica, total: Int, timeout: Double) async throws -> (
    latencies: [Double], visiblePerSecond: Double, firstStamp: UInt64, lastStamp: UInt64
) {
    var latencies: [Double] = []
    var first: (time: Double, count: Int64)?
    var firstStamp = UInt64.max
    var lastStamp: UInt64 = 0
    let deadline = Date().addingTimeInterval(timeout)
    for try await change in replica.changes(of: sentAt) {
        let now = nowMicroseconds()
        guard let stamp = change.value else { continue }
        latencies.append(Double(Int64(now) - Int64(stamp)) / 1_000)
        firstStamp = min(firstStamp, stamp)
        lastStamp = max(lastStamp, stamp)
        let count = try replica.read(workload)
        if first == nil { first = (Date().timeIntervalSince1970, count) }
        if count >= Int64(total) {
            let elapsed = Date().timeIntervalSince1970 - first!.time
            let rate = elapsed > 0 ? Double(Int64(total) - first!.count) / elapsed : .infinity
            return (latencies, rate, firstStamp, lastStamp)
        }
        if Date() > deadline { break }
    }
    throw BenchFailure("the observer saw \(try replica.read(workload)) of \(total) updates in \(timeout) s")
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: The in-memory bus

func runBus(_ arguments: Arguments) async throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("concord-bench-bus-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let cluster = try Cluster(
        directory: directory, replicas: arguments.writers + 1,
        configuration: Configuration(
            durability: .noSync, deliveryMode: .background(latencyMicroseconds: 0), auditLog: false))
    defer { cluster.close() }
    let observer = cluster.replicas.last!
    let total = arguments.writers * arguments.updates
    let watching = Task { try await observe(observer, total: total, timeout: 300) }
    try await Task.sleep(for: .milliseconds(200))  // the observation's initial value first
    let writers = cluster.replicas.prefix(arguments.writers)
    let started = Date()
    let threads = writers.map { replica in
        let thread = Thread {
            let start = Date()
            for number in 0..<arguments.updates {
                if arguments.rate > 0 {
                    let due = start.addingTimeInterval(Double(number) / Double(arguments.rate))
                    let wait = due.timeIntervalSinceNow
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                }
                try? replica.transaction { transaction in
                    try transaction.update(workload, .increment(1))
                    try transaction.update(sentAt, .assign(nowMicroseconds()))
                }
            }
        }
        thread.start()
        return thread
    }
    _ = threads
    let seen = try await watching.value
    let committing = Double(seen.lastStamp - seen.firstStamp) / 1_000_000
    _ = started
    return Result(
        shape: "in-memory bus", total: total, visiblePerSecond: seen.visiblePerSecond,
        commitsPerSecond: committing > 0 ? Double(total) / committing : .nan, latencies: seen.latencies)
}

// MARK: NATS

final class ServerProcess {
    let process = Process()
    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    static func executable() throws -> String {
        for path in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw BenchFailure("nats-server is not installed (make bench-cluster installs Debian's)")
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A TCP port nothing listens on now: the kernel's choice for a socket bound to port 0.
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw BenchFailure("socket() failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else { throw BenchFailure("cannot bind a port on 127.0.0.1") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func waitUntilListening(_ port: Int) async throws {
    for _ in 0..<100 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        close(descriptor)
        if connected { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw BenchFailure("nats-server did not listen on \(port)")
}

func runNATS(_ arguments: Arguments, servers count: Int) async throws -> Result {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("concord-bench-nats-\(getpid())-\(count)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let ports = try (0..<count).map { _ in try freePort() }
    let routes = try (0..<count).map { _ in try freePort() }
    var servers: [ServerProcess] = []
    defer { for server in servers { server.stop() } }
    for index in 0..<count {
        if count == 1 {
            servers.append(
                try ServerProcess([
                    "-js", "-a", "127.0.0.1", "-p", "\(ports[0])", "-sd", root.appendingPathComponent("store").path,
                ]))
        } else {
            let others = routes.enumerated().filter { $0.offset != index }.map {
                "\"nats-route://127.0.0.1:\($0.element)\""
            }
            let file = root.appendingPathComponent("n\(index).conf")
            try """
            server_name: n\(index + 1)
            listen: 127.0.0.1:\(ports[index])
            jetstream { store_dir: "\(root.appendingPathComponent("store-\(index)").path)" }
            cluster { name: bench, listen: 127.0.0.1:\(routes[index]), routes: [\(others.joined(separator: ", "))] }
            """.write(to: file, atomically: true, encoding: .utf8)
            servers.append(try ServerProcess(["-c", file.path]))
        }
    }
    for port in ports { try await waitUntilListening(port) }
    let urls = ports.map { "nats://127.0.0.1:\($0)" }
    let members = arguments.writers + 1
    let cluster = "bench\(count)"
    for id in 1...members {
        let init_ = Process()
        init_.executableURL = URL(fileURLWithPath: arguments.concord)
        init_.arguments = [
            "replica", "init", root.appendingPathComponent("m\(id)").path, "--cluster", cluster, "--replica", "\(id)",
            "--members", "\(members)", "--durability", "noSync",
        ]
        init_.standardOutput = FileHandle.nullDevice
        try init_.run()
        init_.waitUntilExit()
        guard init_.terminationStatus == 0 else { throw BenchFailure("concord replica init failed") }
    }
    var options = NATSReplicationOptions(nats: NATSOptions(servers: urls))
    options.streamReplicas = count
    let observer = try await NATSReplica.open(
        directory: root.appendingPathComponent("m\(members)"), options: options)
    let total = arguments.writers * arguments.updates
    let watching = Task { try await observe(observer.replica, total: total, timeout: 600) }
    var writers: [Process] = []
    for id in 1...arguments.writers {
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: arguments.concord)
        writer.arguments =
            ["replica", "run", root.appendingPathComponent("m\(id)").path] + urls.flatMap { ["--nats", $0] } + [
                "--stream-replicas", "\(count)", "--workload", "\(arguments.updates)", "--stamp",
                "--workload-rate", "\(arguments.rate)",
            ]
        writer.standardOutput = FileHandle.nullDevice
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        writers.append(writer)
    }
    defer {
        for writer in writers {
            kill(writer.processIdentifier, SIGTERM)
            writer.waitUntilExit()
        }
    }
    let seen = try await watching.value
    await observer.close()
    let committing = Double(seen.lastStamp - seen.firstStamp) / 1_000_000
    return Result(
        shape: count == 1 ? "NATS, 1 server" : "NATS, \(count) servers (stream R\(count))", total: total,
        visiblePerSecond: seen.visiblePerSecond, commitsPerSecond: committing > 0 ? Double(total) / committing : .nan,
        latencies: seen.latencies)
}

// MARK: Main

let arguments = Arguments()
guard FileManager.default.isExecutableFile(atPath: arguments.concord) else {
    FileHandle.standardError.write(Data("no concord binary at \(arguments.concord) (--concord PATH)\n".utf8))
    exit(2)
}
print(
    "Replication between processes: \(arguments.writers) writers x \(arguments.updates) transactions"
        + (arguments.rate > 0 ? " at \(arguments.rate)/s each" : ", as fast as each can")
        + ", one observer; durability noSync")
var results: [Result] = []
do {
    for shape in arguments.shapes {
        switch shape {
        case "bus": results.append(try await runBus(arguments))
        case "nats-1": results.append(try await runNATS(arguments, servers: 1))
        case "nats-3": results.append(try await runNATS(arguments, servers: 3))
        default: throw BenchFailure("unknown shape \(shape)")
        }
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
print(
    "| transport | updates | visible at the observer /s | writers' commits /s | commit to visible p50 | p99 | changes seen |"
)
print("|---|---|---|---|---|---|---|")
for result in results {
    print(
        "| \(result.shape) | \(result.total) | \(format(result.visiblePerSecond, 0)) | \(format(result.commitsPerSecond, 0)) | "
            + "\(format(result.percentile(0.5), 2)) ms | \(format(result.percentile(0.99), 2)) ms | \(result.latencies.count) |"
    )
}
