import Concord
import Foundation
import Prometheus

/// Write and read p50 of Concord with no metrics backend (swift-metrics' no-op factory)
/// and with swift-prometheus's, measured side by side in one process, with raw LMDB's put
/// and commit as the yardstick.
public struct MetricsOverhead: Sendable {
    public var plainWrite: Latency
    public var meteredWrite: Latency
    public var plainRead: Latency
    public var meteredRead: Latency
    public var rawWrite: Latency
}

/// Fills two clusters alike, one emitting into a Prometheus registry, then alternates rounds
/// of writes (and of reads) between them, so that drift in the machine hits both alike.
public func measureMetricsOverhead(
    setting: Setting, keyCount: Int, valueBytes: Int, samplesPerRound: Int, rounds: Int, log: (String) -> Void
) throws -> MetricsOverhead {
    log("[\(setting.rawValue)] metrics overhead: filling \(keyCount) keys twice")
    let plain = try ConcordFixture(setting: setting, keyCount: keyCount, valueBytes: valueBytes)
    let registry = PrometheusCollectorRegistry()
    let metered = try ConcordFixture(
        setting: setting, keyCount: keyCount, valueBytes: valueBytes,
        observability: Observability(metricsFactory: PrometheusMetricsFactory(registry: registry)))
    try plain.fill()
    try metered.fill()
    let sizes = try plain.storedSizes()
    let raw = try RawFixture(setting: setting, keyCount: keyCount, keyBytes: sizes.keyBytes, valueBytes: sizes.valueBytes)
    try raw.fill()

    var writes: [[UInt64]] = [[], [], []]
    var reads: [[UInt64]] = [[], []]
    var streams = [KeyStream(seed: 7, count: keyCount), KeyStream(seed: 7, count: keyCount)]
    var stamp: UInt64 = 1
    for round in 0..<rounds {
        log("[\(setting.rawValue)] metrics overhead: round \(round + 1) of \(rounds)")
        for (side, fixture) in [plain, metered].enumerated() {
            let replica = fixture.replica
            for n in 0..<samplesPerRound {
                if n % 512 == 0 { try fixture.cluster.synchronize() }
                let i = streams[side].next()
                stamp += 1
                let value = payload(stamp: stamp, bytes: valueBytes)
                let start = nowNanoseconds()
                try replica.update(fixture.keys[i], .assign(value))
                let elapsed = nowNanoseconds() &- start
                if round > 0 { writes[side].append(elapsed) }
            }
            for _ in 0..<samplesPerRound {
                let i = streams[side].next()
                let start = nowNanoseconds()
                guard try replica.read(fixture.keys[i]) != nil else { throw BenchmarkFailure("key \(i) missing") }
                let elapsed = nowNanoseconds() &- start
                if round > 0 { reads[side].append(elapsed) }
            }
        }
        var rawStream = KeyStream(seed: UInt64(round) + 11, count: keyCount)
        for _ in 0..<samplesPerRound {
            let i = rawStream.next()
            stamp += 1
            let start = nowNanoseconds()
            try RawError.check(raw_put(raw.environment, UInt32(i), stamp), "raw_put")
            if round > 0 { writes[2].append(nowNanoseconds() &- start) }
        }
    }
    // The registry holds what the metered cluster emitted: a guard against measuring nothing.
    var exposition: [UInt8] = []
    registry.emit(into: &exposition)
    guard String(decoding: exposition, as: UTF8.self).contains("concord_operations_total") else {
        throw BenchmarkFailure("the Prometheus registry holds no concord_operations_total: nothing was emitted")
    }
    return MetricsOverhead(
        plainWrite: Latency(&writes[0]), meteredWrite: Latency(&writes[1]), plainRead: Latency(&reads[0]),
        meteredRead: Latency(&reads[1]), rawWrite: Latency(&writes[2]))
}
