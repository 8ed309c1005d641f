import Concord
import ConcordReports
import Foundation
import Hummingbird
import Locking
import Logging

/// An HTTP server for a running cluster: Prometheus metrics, health, cluster status and
/// replication lag, over Hummingbird 2.
///
/// | route | answer |
/// |---|---|
/// | `GET /metrics` | the Prometheus text exposition of `MetricsExport.registry` |
/// | `GET /health` | `StatusDocuments.health`: 200 when healthy or degraded, 503 when unhealthy |
/// | `GET /cluster/status` | `StatusDocuments.status`, as `concord status --json` prints it |
/// | `GET /replication/lag` | `StatusDocuments.lag` |
///
/// Any other path is a 404, another method on these paths a 405 (with `Allow: GET`), both with
/// a JSON body `{"error": "…"}`.
///
/// ```swift
/// let export = MetricsExport.bootstrap()           // before the cluster opens
/// let cluster = try Cluster(directory: url, replicas: 3, configuration: configuration)
/// let server = try ClusterServer(cluster: cluster, export: export, host: "127.0.0.1", port: 9187)
/// try await server.run { url in print("listening on \(url)") }   // until SIGINT or SIGTERM
/// cluster.close()
/// ```
public struct ClusterServer: Sendable {
    /// The default port (also the one `ops/prometheus/prometheus.yml` scrapes).
    public static let defaultPort = 9187

    /// The paths the server answers (with GET).
    public static let paths: Set<String> = ["/metrics", "/health", "/cluster/status", "/replication/lag"]

    /// The cluster served.
    public let cluster: Cluster
    /// Where the metrics come from.
    public let export: MetricsExport
    /// The address to bind.
    public let host: String
    /// The port to bind (0: one the system picks; `run` reports it).
    public let port: Int
    /// Transactions per second of the seeded workload that runs while serving (0: none).
    public let workloadTransactionsPerSecond: Int
    /// The workload's seed.
    public let workloadSeed: UInt64
    /// The process that owns the cluster directory, as the status document names it.
    private let owner: String?

    /// A server for `cluster`, not yet listening.
    /// - Parameters:
    ///   - workloadTransactionsPerSecond: runs a seeded mixed workload of about this many
    ///     transactions per second over the replicas while serving (0: none). See `run`.
    /// - Throws: what `ClusterReader(directory:)` throws when the cluster's manifest cannot be
    ///   read (the status document names the directory's owner from it).
    public init(
        cluster: Cluster, export: MetricsExport, host: String = "127.0.0.1", port: Int = ClusterServer.defaultPort,
        workloadTransactionsPerSecond: Int = 0, workloadSeed: UInt64 = 1
    ) throws(ConcordError) {
        self.cluster = cluster
        self.export = export
        self.host = host
        self.port = port
        self.workloadTransactionsPerSecond = max(0, workloadTransactionsPerSecond)
        self.workloadSeed = workloadSeed
        // Only the manifest and the lock file are read: a reader opens no store until asked to.
        owner = try ClusterReader(directory: cluster.directory).owner
    }

    /// Listens, calls `onListening` with the server's URL once it accepts connections, starts
    /// the workload (if any), and serves until SIGINT or SIGTERM; then stops the workload,
    /// lets requests in flight finish, and returns. The caller closes the cluster.
    ///
    /// - Throws: `ServerError.cannotListen` when the address cannot be bound (a port in use, a
    ///   host that does not resolve); `ServerError.failed` when the server stops on an error.
    public func run(onListening: @escaping @Sendable (_ url: String) -> Void) async throws(ServerError) {
        var logger = Logger(label: "concord.serve")
        logger.logLevel = .warning
        let workload =
            workloadTransactionsPerSecond > 0
            ? Workload(cluster: cluster, transactionsPerSecond: workloadTransactionsPerSecond, seed: workloadSeed) : nil
        let listening = Atomic<Bool>(false)
        let host = host
        let application = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "concord"),
            onServerRunning: { channel in
                listening.store(true, ordering: .releasing)
                let port = channel.localAddress?.port ?? 0
                let shown = host.contains(":") ? "[\(host)]" : host
                onListening("http://\(shown):\(port)")
                workload?.start()
            },
            logger: logger)
        defer { workload?.stop() }
        do {
            try await application.runService()
        } catch {
            let address = "\(host):\(port)"
            if !listening.load(ordering: .acquiring) {
                throw ServerError(.cannotListen, "cannot listen on \(address): \(Self.oneLine(error))")
            }
            throw ServerError(.failed, "the server on \(address) stopped: \(Self.oneLine(error))")
        }
    }

    private static func oneLine(_ error: any Error) -> String {
        "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The routes, behind Hummingbird's metrics middleware and the JSON errors.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: JSONErrorMiddleware(paths: Self.paths))
        let cluster = cluster
        let export = export
        let owner = owner
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: MetricsExport.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(string: export.exposition())))
        }
        router.get("/health") { _, _ in
            let health = cluster.health()
            return Self.json(
                StatusDocuments.health(health), status: health.state == .unhealthy ? .serviceUnavailable : .ok)
        }
        router.get("/cluster/status") { _, _ in
            Self.json(
                StatusDocuments.status(
                    manifest: cluster.manifest, directory: cluster.directory, owner: owner,
                    StatusDocuments.reports(cluster)))
        }
        router.get("/replication/lag") { _, _ in
            Self.json(StatusDocuments.lag(StatusDocuments.reports(cluster)))
        }
        return router
    }

    /// A JSON response.
    static func json(_ document: JSON, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: document.text)))
    }
}

/// Turns every error of a route, and a route that does not exist, into a JSON error response:
/// 404 for an unknown path, 405 (with `Allow: GET`) for another method on a known one, the
/// error's status for Hummingbird's HTTP errors, 500 for anything else.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let paths: Set<String>

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, paths.contains(request.uri.path) {
                return ClusterServer.json(
                    .object([("error", .string("\(request.method) is not allowed on \(request.uri.path); use GET"))]),
                    status: .methodNotAllowed, headers: [.allow: "GET"])
            }
            if error.status == .notFound {
                let known = ClusterServer.paths.sorted().joined(separator: ", ")
                return ClusterServer.json(
                    .object([("error", .string("no route \(request.uri.path); the routes are \(known)"))]),
                    status: .notFound)
            }
            return ClusterServer.json(
                .object([("error", .string("\(error.status.code) \(error.status.reasonPhrase)"))]), status: error.status
            )
        } catch {
            return ClusterServer.json(.object([("error", .string("\(error)"))]), status: .internalServerError)
        }
    }
}

/// Why `ClusterServer.run` stopped.
public struct ServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable {
        let rawValue: UInt8
        /// The address could not be bound: the port is in use, or the host does not resolve.
        public static let cannotListen = Code(rawValue: 1)
        /// The server stopped on an error after it had started.
        public static let failed = Code(rawValue: 2)
    }

    /// What went wrong.
    public var code: Code
    /// One line for people.
    public var message: String

    /// An error with its code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
