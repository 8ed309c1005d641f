import CoreMetrics
import Foundation
import Locking
import Prometheus

/// The process's swift-metrics backend: a swift-prometheus registry that `concord serve`
/// exposes at `/metrics`.
///
/// swift-metrics takes one backend per process, so the exporter is made once
/// (`MetricsExport.bootstrap()`) and shared; Concord creates its metric handles when a cluster
/// opens, so bootstrap before opening one, or the cluster's metrics go nowhere.
public final class MetricsExport: Sendable {
    /// The registry every metric of the process is recorded in.
    public let registry: PrometheusCollectorRegistry

    private static let shared = Mutex<MetricsExport?>(nil)

    /// The buckets of Concord's operation latency histogram, in seconds: fine below the
    /// seed's targets (read 1 ms, write 2 ms, CAS 3 ms), so `histogram_quantile` is exact at
    /// the alert thresholds, and coarse above them.
    public static let latencyBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .milliseconds(2), .milliseconds(3), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]

    private init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Bootstraps swift-metrics with a `PrometheusMetricsFactory` over a new registry, the
    /// first time it is called in the process; later calls return the same exporter.
    ///
    /// Metric names and label names are made valid Prometheus names (Hummingbird's `hb.requests`
    /// becomes `hb_requests_total`; see `prometheusName(_:)`).
    /// - Precondition: nothing else bootstrapped swift-metrics in this process (swift-metrics
    ///   traps on a second bootstrap).
    public static func bootstrap() -> MetricsExport {
        shared.withLock { shared in
            if let shared { return shared }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets["concord_operation_latency_seconds"] = latencyBuckets
            factory.nameAndLabelSanitizer = { name, labels in
                (prometheusName(name), labels.map { (prometheusName($0.0), $0.1) })
            }
            MetricsSystem.bootstrap(factory)
            let export = MetricsExport(registry: registry)
            shared = export
            return export
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric recorded so far, with a
    /// `# HELP` line for each family `MetricCatalog` describes (swift-metrics has no help text,
    /// and `promtool check metrics` wants one).
    /// - Complexity: O(n) in the number of series.
    public func exposition() -> String {
        MetricCatalog.addingHelp(to: registry.emitToString())
    }

    /// The Prometheus content type of `exposition()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `name` as a valid Prometheus metric or label name: the names of swift-metrics users that
    /// are not (Hummingbird's dotted ones) are renamed as `MetricCatalog.renamed` says, and
    /// any other character outside `[a-zA-Z0-9_:]` becomes `_`.
    public static func prometheusName(_ name: String) -> String {
        if let renamed = MetricCatalog.renamed[name] { return renamed }
        var result = ""
        for (index, scalar) in name.unicodeScalars.enumerated() {
            let valid =
                (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_" || scalar == ":"
                || (index > 0 && scalar >= "0" && scalar <= "9")
            result.unicodeScalars.append(valid ? scalar : "_")
        }
        return result
    }
}
