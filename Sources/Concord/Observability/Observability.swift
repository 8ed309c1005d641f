import Logging
import Metrics

/// Where a cluster sends its metrics (swift-metrics) and its log (swift-log).
///
/// ```swift
/// // Prometheus, through swift-prometheus, bootstrapped once per process:
/// MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
/// var logger = Logger(label: "my-app.concord")
/// logger.logLevel = .info
/// let cluster = try Cluster(directory: url, replicas: 3, observability: Observability(logger: logger))
/// ```
///
/// Metrics carry the seed's names under a `concord_` prefix (see `MetricName`), with the
/// label `replica` and, where they apply, `peer`, `type`, `operation`, `kind`, `code` and
/// `direction`. With no metrics backend bootstrapped (swift-metrics' no-op factory) the
/// engine measures nothing: no clock is read, no label is built.
///
/// The log records a replica's lifecycle (open, close, crash), state transfers, membership
/// changes, refused input and failures, with the replica (and peer) as metadata; nothing on
/// the path of a read or a write. By default it goes nowhere: pass a `Logger` to see it.
public struct Observability: Sendable {
    /// The factory metrics are made with; nil: `MetricsSystem.factory` when the cluster opens.
    public var metricsFactory: (any MetricsFactory)?
    /// The logger events go to.
    public var logger: Logger

    /// Metrics through `metricsFactory` (default: the bootstrapped one) and events to
    /// `logger` (default: nowhere).
    public init(metricsFactory: (any MetricsFactory)? = nil, logger: Logger? = nil) {
        self.metricsFactory = metricsFactory
        self.logger = logger ?? Logger(label: "concord", factory: { _ in SwiftLogNoOpLogHandler() })
    }
}

/// The names of the metrics Concord emits: the seed's names (`operations_total`,
/// `operation_latency_seconds`, `replication_lag_ms`, `crdt_conflicts_total`) under a
/// `concord_` prefix, and what an operator needs besides. Every one has the label `replica`
/// unless said otherwise.
public enum MetricName {
    /// Counter `{replica, type, operation}`: reads, updates, transactions and CAS that
    /// succeeded (`operation` is `read`, `update`, `transaction` or `cas`; `type` the CRDT
    /// type's name, `transaction` for a multi-key transaction).
    public static let operations = "concord_operations_total"
    /// Counter `{replica, operation, code}`: operations that threw (`code`: the
    /// `ConcordError.Code` name, spaces as `_`).
    public static let operationErrors = "concord_operation_errors_total"
    /// Timer `{replica, operation}`: the latency of each operation, in seconds.
    public static let operationLatency = "concord_operation_latency_seconds"
    /// Gauge `{replica, peer}`: how long the oldest transaction a reachable peer lacks has
    /// waited, in milliseconds.
    public static let replicationLagMilliseconds = "concord_replication_lag_ms"
    /// Gauge `{replica, peer}`: transactions the peer has not acknowledged.
    public static let replicationLagOperations = "concord_replication_lag_operations"
    /// Counter `{replica, kind}`: conflicts detected (see `ConflictKind`).
    public static let conflicts = "concord_crdt_conflicts_total"
    /// Gauge: log entries kept for peers.
    public static let logLength = "concord_log_length"
    /// Gauge: `Configuration.logBound`.
    public static let logBound = "concord_log_bound"
    /// Gauge: intervals waiting in the causal buffer.
    public static let bufferedIntervals = "concord_buffered_intervals"
    /// Counter `{replica, direction}`: full state transfers `sent` and `applied`.
    public static let stateTransfers = "concord_state_transfers_total"
    /// Counter: messages sent.
    public static let messagesSent = "concord_messages_sent_total"
    /// Counter: messages received.
    public static let messagesReceived = "concord_messages_received_total"
    /// Counter: messages dropped because their MAC did not check (see `Encryption`).
    public static let messagesUnauthenticated = "concord_messages_unauthenticated_total"
    /// Counter: bytes sent.
    public static let bytesSent = "concord_bytes_sent_total"
    /// Counter: bytes received.
    public static let bytesReceived = "concord_bytes_received_total"
    /// Counter: log entries garbage-collected.
    public static let logEntriesCollected = "concord_gc_log_entries_collected_total"
    /// Counter: compactions of causal metadata.
    public static let compactions = "concord_compactions_total"
    /// Counter: objects whose causal metadata was compacted.
    public static let objectsCompacted = "concord_objects_compacted_total"
    /// Gauge: bytes of the LMDB map in use.
    public static let mapUsedBytes = "concord_map_used_bytes"
    /// Gauge: the most the map may grow to (`Configuration.maximumMapSizeBytes`).
    public static let mapMaximumBytes = "concord_map_maximum_bytes"
    /// Gauge: 1 while the replica runs, 0 while it is down.
    public static let replicaUp = "concord_replica_up"
    /// Gauge, no label: replicas running in the cluster.
    public static let replicasUp = "concord_replicas_up"
    /// Gauge: 1 while the replica bootstraps or recovers (and refuses the types that need the
    /// complete state).
    public static let bootstrapping = "concord_bootstrapping"
}
