/// What each metric family `concord serve` exposes means: the `# HELP` text of the
/// exposition, and the Prometheus names of the swift-metrics labels that are not valid ones.
///
/// The names are the contract with `ops/prometheus/concord-alerts.yml` and
/// `ops/grafana/concord-dashboard.json` (`make check-ops` checks that every name they use is
/// in a scrape).
public enum MetricCatalog {
    /// Help text by family name.
    public static let help: [String: String] = [
        "concord_operations_total": "Operations committed or read, by replica, CRDT type and operation.",
        "concord_operation_errors_total": "Operations that failed, by replica, operation and ConcordError code.",
        "concord_operation_latency_seconds": "Latency of local operations (read, update, transaction, cas).",
        "concord_replication_lag_ms": "How long the oldest transaction a peer has not acknowledged has waited, in ms.",
        "concord_replication_lag_operations": "Transactions a peer has not acknowledged.",
        "concord_crdt_conflicts_total": "Conflicts the CRDTs resolved (or refused), by kind.",
        "concord_log_length": "Replication log entries a replica keeps for its peers.",
        "concord_log_bound": "The most log entries a replica keeps (Configuration.logBound).",
        "concord_buffered_intervals": "Delta intervals waiting for their causal dependencies.",
        "concord_state_transfers_total": "Full state transfers, sent or applied.",
        "concord_messages_sent_total": "Messages a replica sent.",
        "concord_messages_received_total": "Messages a replica received.",
        "concord_messages_unauthenticated_total": "Messages dropped as their HMAC did not verify (encrypted clusters).",
        "concord_bytes_sent_total": "Bytes of the messages a replica sent.",
        "concord_bytes_received_total": "Bytes of the messages a replica received.",
        "concord_gc_log_entries_collected_total": "Log entries garbage-collected once stable.",
        "concord_compactions_total": "Compactions of causal metadata.",
        "concord_objects_compacted_total": "Objects whose causal metadata a compaction shrank.",
        "concord_map_used_bytes": "Bytes of the replica's LMDB map in use.",
        "concord_map_maximum_bytes": "The most bytes the replica's LMDB map may grow to.",
        "concord_replica_up": "Whether the replica runs (1) or is down (0).",
        "concord_replicas_up": "How many replicas of the cluster run.",
        "concord_bootstrapping": "Whether the replica waits for a peer's state (1) or not (0).",
        "concord_workload_transactions_total": "Transactions concord serve --workload attempted, by outcome.",
        "hb_requests_total": "HTTP requests served, by route, method and status.",
        "hb_request_errors_total": "HTTP requests that ended in an error, by route, method and status.",
        "http_server_request_duration_seconds": "HTTP request duration, by route, method and status.",
        "http_server_active_requests": "HTTP requests in progress, by method.",
    ]

    /// Names swift-metrics users give that are not valid Prometheus names, or break its
    /// conventions (a counter without `_total`), and what they become.
    public static let renamed: [String: String] = [
        "hb.requests": "hb_requests_total",
        "hb.request.errors": "hb_request_errors_total",
        "http.server.request.duration": "http_server_request_duration_seconds",
        "http.server.active_requests": "http_server_active_requests",
    ]

    /// `exposition` with a `# HELP` line before the `# TYPE` line of each family the catalog
    /// describes and the exposition does not.
    static func addingHelp(to exposition: String) -> String {
        var output = ""
        output.reserveCapacity(exposition.utf8.count + 4096)
        var previous: Substring = ""
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), !previous.hasPrefix("# HELP ") {
                let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                if let text = help[String(name)] { output += "# HELP \(name) \(text)\n" }
            }
            output += line
            output += "\n"
            previous = line
        }
        // Every line got a newline, the last one (empty when the exposition ends with one) too.
        output.removeLast()
        return output
    }
}
