import Concord
import Foundation
import Locking
import Logging
import Metrics
import MetricsTestKit
import Testing

/// Metrics through swift-metrics (a `TestMetrics` factory per test, no global bootstrap) and
/// events through swift-log.
@Suite struct ObservabilityTests {
    let likes = Key<PNCounter>("likes")
    let flag = Key<LWWRegister<String>>("flag")

    func dimensions(_ replica: ReplicaID, _ more: [(String, String)] = []) -> [(String, String)] {
        [("replica", String(replica.rawValue))] + more
    }

    @Test func operationsAreCountedAndTimedByReplicaTypeAndOperation() throws {
        let metrics = TestMetrics()
        try withTemporaryDirectory { url in
            let cluster = try Cluster(
                directory: url, replicas: 2, configuration: Configuration(durability: .noSync),
                observability: Observability(metricsFactory: metrics))
            defer { cluster.close() }
            let a = cluster.replicas[0]
            for _ in 0..<3 { try a.update(likes, .increment(1)) }
            _ = try a.read(likes)
            try a.transaction { try $0.update(likes, .increment(1)) }
            #expect(try a.compareAndSwap(flag, expected: nil, new: "on"))
            #expect(throws: ConcordError.self) {
                try a.update(Key<BoundedCounter>("seats"), .decrement(1))
            }
            let updates = try metrics.expectCounter(
                MetricName.operations, dimensions(a.id, [("type", "PNCounter"), ("operation", "update")]))
            #expect(updates.totalValue == 3)
            #expect(
                try metrics.expectCounter(
                    MetricName.operations, dimensions(a.id, [("type", "PNCounter"), ("operation", "read")])
                ).totalValue == 1)
            #expect(
                try metrics.expectCounter(
                    MetricName.operations, dimensions(a.id, [("type", "transaction"), ("operation", "transaction")])
                ).totalValue == 1)
            #expect(
                try metrics.expectCounter(
                    MetricName.operations, dimensions(a.id, [("type", "LWWRegister<String>"), ("operation", "cas")])
                ).totalValue == 1)
            let refused = try metrics.expectCounter(
                MetricName.operationErrors, dimensions(a.id, [("operation", "update"), ("code", "operation_rejected")]))
            #expect(refused.totalValue == 1)
            let conflicts = try metrics.expectCounter(
                MetricName.conflicts, dimensions(a.id, [("kind", "boundedCounterRefused")]))
            #expect(conflicts.totalValue == 1)
            let timer = try metrics.expectTimer(
                MetricName.operationLatency, dimensions(a.id, [("operation", "update")]))
            #expect(timer.values.count == 4)
            #expect(timer.values.allSatisfy { $0 > 0 && $0 < 1_000_000_000 })
        }
    }

    @Test func replicationIsPublishedFromTheCoresCounters() throws {
        let metrics = TestMetrics()
        try withTemporaryDirectory { url in
            let cluster = try Cluster(
                directory: url, replicas: 3, configuration: Configuration(durability: .noSync),
                observability: Observability(metricsFactory: metrics))
            defer { cluster.close() }
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            try a.update(likes, .increment(1))
            try cluster.synchronize()
            #expect(try metrics.expectCounter(MetricName.messagesSent, dimensions(a.id)).totalValue > 0)
            #expect(try metrics.expectCounter(MetricName.bytesSent, dimensions(a.id)).totalValue > 0)
            #expect(try metrics.expectCounter(MetricName.messagesReceived, dimensions(b.id)).totalValue > 0)
            #expect(try metrics.expectCounter(MetricName.bytesReceived, dimensions(b.id)).totalValue > 0)
            #expect(try metrics.expectGauge(MetricName.logBound, dimensions(a.id)).lastValue == 10_000)
            #expect(try metrics.expectGauge(MetricName.replicaUp, dimensions(c.id)).lastValue == 1)
            #expect(try metrics.expectGauge(MetricName.replicasUp).lastValue == 3)
            let lag = try metrics.expectGauge(
                MetricName.replicationLagOperations, dimensions(a.id, [("peer", String(b.id.rawValue))]))
            #expect(lag.lastValue == 0)

            // Concurrent assignments to one MVRegister: a conflict, counted where it is seen.
            let register = Key<MVRegister<String>>("color")
            cluster.network.partition([a.id], [b.id, c.id])
            try a.update(register, .assign("red"))
            try b.update(register, .assign("blue"))
            cluster.network.heal()
            try cluster.synchronize()
            let seen = cluster.replicas.map { replica in
                metrics.counters(
                    label: MetricName.conflicts,
                    dimensions: dimensions(replica.id, [("kind", "mvRegisterConcurrentValues")])
                ).reduce(0) { $0 + $1.totalValue }
            }
            #expect(seen.reduce(0, +) >= 2, "\(seen)")

            // A crash and a wipe: up, down, a state transfer each way.
            try cluster.crash(c.id)
            #expect(try metrics.expectGauge(MetricName.replicaUp, dimensions(c.id)).lastValue == 0)
            #expect(try metrics.expectGauge(MetricName.replicasUp).lastValue == 2)
            try cluster.restart(c.id)
            try cluster.wipe(c.id)
            try cluster.synchronize()
            let applied = try metrics.expectCounter(
                MetricName.stateTransfers, dimensions(c.id, [("direction", "applied")]))
            #expect(applied.totalValue >= 1)
            let sent = cluster.replicas.map { replica in
                metrics.counters(
                    label: MetricName.stateTransfers, dimensions: dimensions(replica.id, [("direction", "sent")])
                ).reduce(0) { $0 + $1.totalValue }
            }
            #expect(sent.reduce(0, +) >= 1)
            _ = try cluster.collectGarbage()
            #expect(try metrics.expectGauge(MetricName.logLength, dimensions(a.id)).lastValue == 0)
            #expect((try metrics.expectGauge(MetricName.mapUsedBytes, dimensions(a.id)).lastValue ?? 0) > 0)
        }
    }

    /// Collects log records.
    final class Capture: @unchecked Sendable {
        let records = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])

        struct Handler: LogHandler {
            let capture: Capture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                let merged = metadata.merging(event.metadata ?? [:]) { $1 }
                capture.records.withLock { $0.append((event.level, "\(event.message)", merged)) }
            }
        }

        var logger: Logger { Logger(label: "test") { _ in Handler(capture: self) } }

        func messages(for replica: ReplicaID) -> [String] {
            records.withLock { $0.filter { $0.2["replica"] == "\(replica.rawValue)" }.map(\.1) }
        }
    }

    @Test func lifecycleStateTransfersAndMembershipAreLoggedWithTheReplica() throws {
        let capture = Capture()
        try withTemporaryDirectory { url in
            let cluster = try Cluster(
                directory: url, replicas: 2, configuration: Configuration(durability: .noSync),
                observability: Observability(logger: capture.logger))
            let b = cluster.replicas[1]
            try cluster.replicas[0].update(likes, .increment(1))
            try cluster.synchronize()
            try cluster.crash(b.id)
            try cluster.restart(b.id)
            try cluster.wipe(b.id)
            try cluster.synchronize()
            let added = try cluster.addReplica()
            try cluster.synchronize()
            cluster.close()
            let messages = capture.messages(for: b.id)
            #expect(messages.contains("opened"))
            #expect(messages.contains("crashed"))
            #expect(messages.contains("opened empty; waits for a peer's state, writing under its writer id meanwhile"))
            #expect(messages.contains("applied a state transfer from a peer"))
            #expect(messages.contains("wiped a replica: it resyncs from its peers"))
            #expect(messages.contains("closed"))
            #expect(capture.messages(for: added.id).contains("added a replica: it catches up by state transfer"))
            // Nothing on the path of a read or a write.
            let count = capture.records.withLock { $0.count }
            let cluster2 = try Cluster(
                directory: url, replicas: 3, configuration: Configuration(durability: .noSync),
                observability: Observability(logger: capture.logger))
            let opened = capture.records.withLock { $0.count }
            for _ in 0..<100 { try cluster2.replicas[0].update(likes, .increment(1)) }
            for _ in 0..<100 { _ = try cluster2.replicas[0].read(likes) }
            #expect(capture.records.withLock { $0.count } == opened)
            #expect(opened > count)
            cluster2.close()
        }
    }
}
