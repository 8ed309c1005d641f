import CRDTs
import Dispatch
import Locking
import Logging
import Metrics

/// One replica's metrics and log: the handles, made once, and what was published last.
///
/// Everything here is skipped when the factory is swift-metrics' no-op one (`isEnabled`
/// false): no clock is read, no label is built, no lock is taken. The replication metrics
/// are published from the core's cumulative counters after each step, as differences, so
/// the core itself knows nothing of metrics.
final class ReplicaMetrics: @unchecked Sendable {
    /// The operations timed and counted.
    enum Operation: String, CaseIterable {
        case read, update, transaction, cas

        /// Its position in `allCases`.
        var index: Int {
            switch self {
            case .read: 0
            case .update: 1
            case .transaction: 2
            case .cas: 3
            }
        }
    }

    let isEnabled: Bool
    let logger: Logger
    private let factory: any MetricsFactory
    private let replica: String
    /// Indexed by `Operation.allCases` order.
    private let latency: [Metrics.Timer]
    private let operations = Mutex<[OperationKey: Counter]>([:])
    private let errors = Mutex<[ErrorKey: Counter]>([:])
    private let conflicts = Mutex<[UInt8: Counter]>([:])
    private let lag = Mutex<[ReplicaID: (milliseconds: Gauge, operations: Gauge)]>([:])
    private let messagesSent, messagesReceived, bytesSent, bytesReceived, messagesUnauthenticated: Counter
    private let statesSent, statesApplied, logEntriesCollected, compactions, objectsCompacted: Counter
    private let logLength, logBound, bufferedIntervals, bootstrapping, up, mapUsed, mapMaximum: Gauge
    /// The core's counters as last published (guarded by the replica's lock).
    private var published = ReplicaCounters()

    private struct OperationKey: Hashable {
        var operation: Operation
        var type: ObjectIdentifier
    }

    private struct ErrorKey: Hashable {
        var operation: Operation
        var code: UInt16
    }

    init(replica id: ReplicaID, observability: Observability) {
        let factory = observability.metricsFactory ?? MetricsSystem.factory
        self.factory = factory
        isEnabled = !(factory is NOOPMetricsHandler)
        replica = String(id.rawValue)
        logger = {
            var logger = observability.logger
            logger[metadataKey: "replica"] = "\(id.rawValue)"
            return logger
        }()
        let dimensions = [("replica", replica)]
        func counter(_ label: String, _ more: [(String, String)] = []) -> Counter {
            Counter(label: label, dimensions: dimensions + more, factory: factory)
        }
        func gauge(_ label: String) -> Gauge { Gauge(label: label, dimensions: dimensions, factory: factory) }
        latency = Operation.allCases.map { operation in
            Metrics.Timer(
                label: MetricName.operationLatency, dimensions: dimensions + [("operation", operation.rawValue)],
                preferredDisplayUnit: .seconds, factory: factory)
        }
        messagesSent = counter(MetricName.messagesSent)
        messagesReceived = counter(MetricName.messagesReceived)
        bytesSent = counter(MetricName.bytesSent)
        bytesReceived = counter(MetricName.bytesReceived)
        messagesUnauthenticated = counter(MetricName.messagesUnauthenticated)
        statesSent = counter(MetricName.stateTransfers, [("direction", "sent")])
        statesApplied = counter(MetricName.stateTransfers, [("direction", "applied")])
        logEntriesCollected = counter(MetricName.logEntriesCollected)
        compactions = counter(MetricName.compactions)
        objectsCompacted = counter(MetricName.objectsCompacted)
        logLength = gauge(MetricName.logLength)
        logBound = gauge(MetricName.logBound)
        bufferedIntervals = gauge(MetricName.bufferedIntervals)
        bootstrapping = gauge(MetricName.bootstrapping)
        up = gauge(MetricName.replicaUp)
        mapUsed = gauge(MetricName.mapUsedBytes)
        mapMaximum = gauge(MetricName.mapMaximumBytes)
    }

    // MARK: Operations

    /// The time to pass to `succeeded` or `failed`: 0 when metrics are off.
    @inline(__always)
    func start() -> UInt64 {
        isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
    }

    /// Counts an operation on an object of `type` that succeeded, and its latency.
    func succeeded(_ operation: Operation, type: Any.Type, startedAt start: UInt64) {
        guard isEnabled else { return }
        latency[operation.index].recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- start))
        let key = OperationKey(operation: operation, type: ObjectIdentifier(type))
        let counter = operations.withLock { counters in
            if let counter = counters[key] { return counter }
            let name = operation == .transaction ? "transaction" : String(describing: type)
            let counter = Counter(
                label: MetricName.operations,
                dimensions: [("replica", replica), ("type", name), ("operation", operation.rawValue)],
                factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Counts an operation that threw `error`, and its latency.
    func failed(_ operation: Operation, _ error: any Error, startedAt start: UInt64) {
        guard isEnabled else { return }
        latency[operation.index].recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- start))
        let code = (error as? ConcordError)?.code ?? .operationRejected
        let key = ErrorKey(operation: operation, code: code.rawValue)
        let counter = errors.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: MetricName.operationErrors,
                dimensions: [
                    ("replica", replica), ("operation", operation.rawValue),
                    ("code", code.description.replacingOccurrences(of: " ", with: "_")),
                ],
                factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Counts conflicts of `kinds` detected at this replica.
    func detected(_ kinds: [ConflictKind]) {
        guard isEnabled, !kinds.isEmpty else { return }
        for kind in kinds {
            conflicts.withLock { counters in
                if let counter = counters[kind.rawValue] { return counter }
                let counter = Counter(
                    label: MetricName.conflicts, dimensions: [("replica", replica), ("kind", kind.description)],
                    factory: factory)
                counters[kind.rawValue] = counter
                return counter
            }.increment()
        }
    }

    /// Counts and logs a message dropped because its MAC did not check.
    func unauthenticated(bytes: Int) {
        logger.warning("dropped a message whose authentication failed", metadata: ["bytes": "\(bytes)"])
        guard isEnabled else { return }
        messagesUnauthenticated.increment()
    }

    /// Counts a message of `bytes` bytes received.
    func received(bytes: Int) {
        guard isEnabled else { return }
        bytesReceived.increment(by: bytes)
    }

    // MARK: Replication

    /// Publishes what the core's counters say happened since the last call, and logs what
    /// an operator wants to know of it (state transfers, refused messages, failures).
    /// Called with the replica's lock held, after a step.
    func publish(_ counters: ReplicaCounters, lastFailure: String?) {
        let before = published
        guard counters != before else { return }
        published = counters
        if counters.statesApplied > before.statesApplied {
            logger.info("applied a state transfer from a peer")
        }
        if counters.messagesUndecodable > before.messagesUndecodable {
            logger.warning(
                "refused messages that do not decode",
                metadata: ["count": "\(counters.messagesUndecodable - before.messagesUndecodable)"])
        }
        if counters.failures > before.failures {
            logger.error("a replication step failed; it is retried", metadata: ["failure": "\(lastFailure ?? "?")"])
        }
        guard isEnabled else { return }
        func add(_ counter: Counter, _ now: UInt64, _ then: UInt64) {
            if now > then { counter.increment(by: Int64(now - then)) }
        }
        add(messagesSent, counters.messagesSent, before.messagesSent)
        add(messagesReceived, counters.messagesReceived, before.messagesReceived)
        add(bytesSent, counters.bytesSent, before.bytesSent)
        add(statesSent, counters.statesSent, before.statesSent)
        add(statesApplied, counters.statesApplied, before.statesApplied)
        add(
            logEntriesCollected, counters.logEntriesCollected + counters.logEntriesForced,
            before.logEntriesCollected + before.logEntriesForced)
        add(compactions, counters.compactions, before.compactions)
        add(objectsCompacted, counters.objectsCompacted, before.objectsCompacted)
    }

    /// Sets the gauges from `status` and the store's map use (at each anti-entropy round).
    func sample(_ status: ReplicaStatus, mapUsedBytes: UInt64?, configuration: Configuration) {
        guard isEnabled else { return }
        logLength.record(status.logLength)
        logBound.record(configuration.logBound)
        bufferedIntervals.record(status.bufferedIntervals)
        bootstrapping.record(status.isBootstrapping ? 1 : 0)
        mapMaximum.record(configuration.maximumMapSizeBytes)
        if let mapUsedBytes { mapUsed.record(Int64(clamping: mapUsedBytes)) }
        lag.withLock { gauges in
            for peer in status.peers {
                let pair =
                    gauges[peer.peer]
                    ?? {
                        let dimensions = [("replica", replica), ("peer", String(peer.peer.rawValue))]
                        let made = (
                            milliseconds: Gauge(
                                label: MetricName.replicationLagMilliseconds, dimensions: dimensions, factory: factory),
                            operations: Gauge(
                                label: MetricName.replicationLagOperations, dimensions: dimensions, factory: factory)
                        )
                        gauges[peer.peer] = made
                        return made
                    }()
                pair.milliseconds.record(peer.lagMilliseconds)
                pair.operations.record(Int64(clamping: peer.lagOperations))
            }
        }
    }

    /// Records that the replica went up or down, and logs it.
    func lifecycle(up isUp: Bool, _ event: String, incarnation: UInt64? = nil) {
        var metadata: Logger.Metadata = [:]
        if let incarnation { metadata["incarnation"] = "\(incarnation)" }
        logger.info("\(event)", metadata: metadata)
        // After a restart the core counts from zero again.
        if isUp { published = ReplicaCounters() }
        guard isEnabled else { return }
        up.record(isUp ? 1 : 0)
        if !isUp { bootstrapping.record(0) }
    }
}
