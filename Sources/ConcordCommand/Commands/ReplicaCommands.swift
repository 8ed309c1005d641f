import ArgumentParser
import Concord
import ConcordNATS
import ConcordReports
import Dispatch
import Foundation
import NATSClient

#if canImport(Glibc)
    import Glibc
#endif

/// `concord replica`: one member of a cluster whose members run in separate processes.
struct ReplicaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replica",
        abstract: "Run one member of a cluster whose members are separate processes, replicating through NATS.",
        discussion: """
            Each member has its own directory, made once with `replica init` and then served by \
            `replica run`. The members reach each other through NATS JetStream: one work-queue \
            stream per cluster (CONCORD_<cluster>), one subject and one durable consumer per member. \
            `read`, `status`, `digest`, `verify` and `backup` work on a member directory while its \
            process runs.
            Example (three members, one nats-server with -js):
              concord replica init /srv/m1 --cluster orders --replica 1 --members 3
              concord replica run /srv/m1 --nats nats://127.0.0.1:4222
            """,
        subcommands: [ReplicaInit.self, ReplicaRun.self])
}

/// `concord replica init`.
struct ReplicaInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Make the directory of one member of a cluster spread over processes.",
        discussion: """
            Every member's process makes its own directory with the same --cluster and --members. \
            The directory must be missing or empty. With --key-file, the store is encrypted and every \
            replication message authenticated: every member needs the same key.
            Example:
              concord replica init /srv/m2 --cluster orders --replica 2 --members 3 --durability full
            """)

    @OptionGroup var target: DirectoryArgument
    @Option(help: "The cluster's name: 1 to 64 letters, digits, - or _ (the same at every member).")
    var cluster: String
    @Option(help: "This member's id, 1 to --members.") var replica: UInt64
    @Option(help: "How many members the cluster has (ids 1 to N).") var members: UInt64
    @Option(help: "full (fsync per commit), groupCommit (concurrent writers share an fsync), noSync or noSyncWriteMap.")
    var durability: Init.DurabilityChoice = .full
    @Option(
        help: """
            The most log entries kept for a member that lags; one that lags further gets a full state             transfer.
            """)
    var logBound = 10_000

    func validate() throws {
        guard logBound >= 1 else { throw ValidationError("--log-bound must be at least 1, not \(logBound)") }
        guard (1...64).contains(members) else { throw ValidationError("--members must be between 1 and 64") }
        guard (1...members).contains(replica) else {
            throw ValidationError("--replica must be between 1 and --members (\(members)), not \(replica)")
        }
        guard ClusterManifest.isValidClusterName(cluster) else {
            throw ValidationError("--cluster must be 1 to 64 letters, digits, - or _, not \"\(cluster)\"")
        }
    }

    func run() throws {
        let encryption = try target.key.encryption()
        let manifest = try ReplicaNode.createDirectory(
            at: target.url, clusterName: cluster, replica: ReplicaID(replica),
            members: (1...members).map { ReplicaID($0) },
            configuration: Configuration(
                durability: durability.durability, logBound: logBound, encryption: encryption))
        print(
            "made member \(replica) of cluster \(cluster) (\(manifest.members.count) members) in \(target.url.path) "
                + "(durability \(durability.rawValue)\(encryption.map { ", encrypted with key '\($0.keyID)'" } ?? ""))")
    }
}

/// `concord replica run`.
struct ReplicaRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Serve one member until SIGTERM or SIGINT, replicating through NATS.",
        discussion: """
            Prints `serving replica I of cluster NAME` once connected and open. With --workload N it \
            then commits N transactions, each one increment of the pncounter `workload` in bucket \
            `load`, printing `acked K` (one line, flushed) after the K-th has committed, and keeps \
            serving. On SIGTERM or SIGINT it closes the member cleanly and exits 0.
            Examples:
              concord replica run /srv/m1 --nats nats://127.0.0.1:4222
              concord replica run /srv/m1 --nats tls://nats.internal:4222 --tls-ca ca.pem \\
                --tls-cert m1.pem --tls-key m1-key.pem --workload 1000
            """)

    @OptionGroup var target: DirectoryArgument
    @Option(
        name: .customLong("nats"), parsing: .singleValue,
        help: "A NATS server URL (nats://[user:pass@]host:port or tls://…); repeat it for a server cluster.")
    var servers: [String] = []
    @Option(help: "Commit this many single increments of load/workload, then keep serving.") var workload = 0
    @Option(
        help: """
            With --workload: each transaction also adds an element of this many bytes to the awset \
            load/blobs (to make a large state).
            """)
    var valueBytes = 0
    @Flag(
        help: """
            With --workload: each transaction also assigns its commit time (microseconds since 1970) \
            to the lwwregister load/sent-at, for measuring commit-to-visible latency elsewhere.
            """)
    var stamp = false
    @Option(help: "With --workload: at most this many transactions per second (0: as fast as it can).")
    var workloadRate = 0
    @Option(help: "A PEM file of the certificate authorities to trust.") var tlsCa: String?
    @Option(help: "The member's client certificate (PEM), for mutual TLS.") var tlsCert: String?
    @Option(help: "The client certificate's private key (PEM).") var tlsKey: String?
    @Option(help: "Copies of the stream, when this member creates it (1, or 3 for three servers).")
    var streamReplicas = 1

    func validate() throws {
        guard !servers.isEmpty else { throw ValidationError("give a NATS server with --nats URL") }
        guard workload >= 0 else { throw ValidationError("--workload must be 0 or more, not \(workload)") }
        guard workloadRate >= 0 else { throw ValidationError("--workload-rate must be 0 or more, not \(workloadRate)") }
        guard (0...(4 << 20)).contains(valueBytes) else {
            throw ValidationError("--value-bytes must be 0 to 4 MiB, not \(valueBytes)")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard (1...5).contains(streamReplicas) else { throw ValidationError("--stream-replicas must be 1 to 5") }
    }

    func run() async throws {
        let manifest = try ClusterDirectory.readManifest(at: target.url)
        guard let hosting = manifest.hosting else {
            throw UsageError(
                "\(target.url.path) holds a whole cluster; `replica run` serves a member directory "
                    + "(made by `concord replica init`)")
        }
        var nats = NATSOptions(servers: servers)
        nats.name = "concord \(hosting.clusterName) replica \(hosting.replica.rawValue)"
        if tlsCa != nil || tlsCert != nil {
            nats.tls = NATSTLS(caFile: tlsCa, certificateFile: tlsCert, privateKeyFile: tlsKey)
        }
        var options = NATSReplicationOptions(nats: nats)
        options.streamReplicas = streamReplicas
        let terminated = TerminationSignals()
        let member = try await NATSReplica.open(
            directory: target.url, options: options, encryption: try target.key.encryption(for: manifest),
            observability: Observability(logger: DirectoryArgument.logger))
        Self.say("serving replica \(hosting.replica.rawValue) of cluster \(hosting.clusterName)")
        let load = Key<PNCounter>("workload", bucket: "load")
        let blobs = Key<AWSet<String>>("blobs", bucket: "load")
        let sentAt = Key<LWWRegister<UInt64>>("sent-at", bucket: "load")
        var failure: (any Error)?
        let started = ContinuousClock.now
        do {
            for number in stride(from: 1, through: workload, by: 1) {
                if terminated.received { break }
                if workloadRate > 0 {
                    let due = started + .microseconds(Int64(number - 1) * 1_000_000 / Int64(workloadRate))
                    if due > ContinuousClock.now { try await Task.sleep(until: due) }
                }
                if valueBytes > 0 || stamp {
                    let element =
                        valueBytes > 0
                        ? "r\(hosting.replica.rawValue)-\(number)-" + String(repeating: "x", count: valueBytes) : nil
                    try member.replica.transaction { transaction in
                        try transaction.update(load, .increment(1))
                        if let element { try transaction.update(blobs, .add(element)) }
                        if stamp {
                            let now = UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000)
                            try transaction.update(sentAt, .assign(now))
                        }
                    }
                } else {
                    try member.replica.update(load, .increment(1))
                }
                Self.say("acked \(number)")
            }
        } catch {
            failure = error
        }
        if failure == nil { await terminated.wait() }
        let status = member.replica.status()
        let counts = member.messageCounts
        await member.close()
        Self.say(
            "closed: \(counts.published) messages published, \(counts.failed) given up, \(counts.delivered) taken; "
                + "\(status.statesSent) state transfers sent")
        if let failure { throw failure }
    }

    /// One write(2) per line, unbuffered: a line a parent process reads is a committed fact.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// SIGTERM and SIGINT, taken from their default action (which would end the process at
/// once) so that the command can close its store cleanly.
final class TerminationSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let lock = NSLock()
    private var fired = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init() {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
        }
    }

    /// Whether a signal came.
    var received: Bool { lock.withLock { fired } }

    /// Returns once a signal has come.
    func wait() async {
        await withCheckedContinuation { continuation in
            let now = lock.withLock {
                if fired { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func fire() {
        let waiting = lock.withLock {
            fired = true
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.resume() }
    }
}

/// `concord digest`.
struct Digest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a hash over every key, type and value of one replica.",
        discussion: """
            One line: the SHA-256 (hexadecimal) over every object's bucket, name, type and value, in \
            key order, then the number of objects. Replicas that have converged print the same \
            line, whatever their logs and metadata. Works while another process owns the directory.
            Examples:
              concord digest /srv/m1
              concord digest DIR --replica 2 --json
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var replica: ReplicaOption
    @OptionGroup var output: JSONFlag

    func run() throws {
        let reader = try target.reader()
        defer { reader.close() }
        let digest = try reader.digest(at: try replica.id(in: reader.manifest))
        if output.json {
            print(
                JSON.object([
                    ("replica", .uint(digest.replica.rawValue)), ("sha256", .string(digest.hex)),
                    ("objects", .uint(UInt64(digest.objects))),
                ]).text)
        } else {
            print(digest)
        }
    }
}
