import ArgumentParser
import Concord
import ConcordServer
import Foundation

/// `concord serve`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the cluster and serve its metrics, health, status and lag over HTTP.",
        discussion: """
            Opens the directory as its owner in background delivery mode and serves, until \
            SIGINT or SIGTERM:
              GET /metrics            Prometheus text exposition
              GET /health             JSON; 200 when healthy or degraded, 503 when unhealthy
              GET /cluster/status     JSON, the document of concord status --json
              GET /replication/lag    JSON, lag per replica and peer
            Prints one line with the URL once it listens. --workload N drives a seeded mixed \
            workload of about N transactions per second over the replicas, so a dashboard has \
            something to show. On SIGINT or SIGTERM it stops serving, closes the cluster and \
            exits 0. A directory that is not a cluster, a directory in use or a port in use \
            exits 2.
            Example:
              concord serve DIR --port 9187 --workload 200
              curl -s http://127.0.0.1:9187/metrics
            """)

    @OptionGroup var target: DirectoryArgument
    @Option(help: "The port to listen on (0: one the system picks).") var port = ClusterServer.defaultPort
    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(name: .customLong("workload"), help: "Run a mixed workload of about this many transactions per second.")
    var workloadTransactionsPerSecond = 0
    @Option(help: "The workload's seed.") var seed: UInt64 = 1
    @Option(help: "Delivery latency between replicas, in microseconds.") var latencyMicroseconds: UInt64 = 1_000

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535, not \(port)") }
        guard workloadTransactionsPerSecond >= 0 else {
            throw ValidationError("--workload must be 0 or more, not \(workloadTransactionsPerSecond)")
        }
    }

    func run() async throws {
        // Before the cluster opens: Concord makes its metric handles as it opens.
        let export = MetricsExport.bootstrap()
        let cluster = try target.owner(deliveryMode: .background(latencyMicroseconds: latencyMicroseconds))
        defer { cluster.close() }
        let server = try ClusterServer(
            cluster: cluster, export: export, host: host, port: port,
            workloadTransactionsPerSecond: workloadTransactionsPerSecond, workloadSeed: seed)
        let directory = target.url.path
        let replicas = cluster.replicas.count
        do {
            try await server.run { url in
                // One write(2), unbuffered: whoever waits for the line gets it at once.
                FileHandle.standardOutput.write(
                    Data("concord serve: listening on \(url) (cluster \(directory), \(replicas) replicas)\n".utf8))
            }
        } catch {
            throw UsageError(error.message)
        }
    }
}
