import Concord
import Foundation
import Prometheus
import RawLMDB

/// Write and read p50 of Concord in two variants side by side in one process — no metrics
/// backend against swift-prometheus's, or plain against encrypted stores — with raw LMDB's
/// put and commit as the yardstick.
public struct SideBySide: Sendable {
    public var baseWrite: Latency
    public var variantWrite: Latency
    public var baseRead: Latency
    public var variantRead: Latency
    public var rawWrite: Latency
}

/// Metrics: no backend (swift-metrics' no-op factory) against swift-prometheus's.
public func measureMetricsOverhead(
    setting: Setting, keyCount: Int, valueBytes: Int, samplesPerRound: Int, rounds: Int, log: (String) -> Void
) throws -> SideBySide {
    let registry = PrometheusCollectorRegistry()
    let result = try measureSideBySide(
        "metrics", setting: setting, keyCount: keyCount, valueBytes: valueBytes, samplesPerRound: samplesPerRound,
        rounds: rounds,
        variant: { try ConcordFixture(
            setting: setting, keyCount: keyCount, valueBytes: valueBytes,
            observability: Observability(metricsFactory: PrometheusMetricsFactory(registry: registry))) },
        log: log)
    // The registry holds what the metered cluster emitted: a guard against measuring nothing.
    var exposition: [UInt8] = []
    registry.emit(into: &exposition)
    guard String(decoding: exposition, as: UTF8.self).contains("concord_operations_total") else {
        throw BenchmarkFailure("the Prometheus registry holds no concord_operations_total: nothing was emitted")
    }
    return result
}

/// Encryption at rest: plain stores against sealed ones (ChaCha20-Poly1305 per record).
public func measureEncryptionCost(
    setting: Setting, keyCount: Int, valueBytes: Int, samplesPerRound: Int, rounds: Int, log: (String) -> Void
) throws -> SideBySide {
    let keyFile = makeScratchDirectory("key").appendingPathComponent("key")
    try Data((0..<32).map { UInt8($0) }).write(to: keyFile)
    let encryption = try Encryption(keyFile: keyFile, keyID: "bench")
    return try measureSideBySide(
        "encryption", setting: setting, keyCount: keyCount, valueBytes: valueBytes, samplesPerRound: samplesPerRound,
        rounds: rounds,
        variant: { try ConcordFixture(
            setting: setting, keyCount: keyCount, valueBytes: valueBytes,
            configuration: Configuration(encryption: encryption)) },
        log: log)
}

/// Fills a plain cluster and `variant` alike, then alternates rounds of writes (and of
/// reads) between them, so that drift in the machine hits both alike; the first round warms
/// up and is not counted.
func measureSideBySide(
    _ what: String, setting: Setting, keyCount: Int, valueBytes: Int, samplesPerRound: Int, rounds: Int,
    variant: () throws -> ConcordFixture, log: (String) -> Void
) throws -> SideBySide {
    log("[\(setting.rawValue)] \(what): filling \(keyCount) keys twice")
    let base = try ConcordFixture(setting: setting, keyCount: keyCount, valueBytes: valueBytes)
    let other = try variant()
    try base.fill()
    try other.fill()
    let sizes = try base.storedSizes()
    let raw = try RawFixture(setting: setting, keyCount: keyCount, keyBytes: sizes.keyBytes, valueBytes: sizes.valueBytes)
    try raw.fill()

    var writes: [[UInt64]] = [[], [], []]
    var reads: [[UInt64]] = [[], []]
    var streams = [KeyStream(seed: 7, count: keyCount), KeyStream(seed: 7, count: keyCount)]
    var stamp: UInt64 = 1
    for round in 0..<rounds {
        log("[\(setting.rawValue)] \(what): round \(round + 1) of \(rounds)")
        for (side, fixture) in [base, other].enumerated() {
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
    return SideBySide(
        baseWrite: Latency(&writes[0]), variantWrite: Latency(&writes[1]), baseRead: Latency(&reads[0]),
        variantRead: Latency(&reads[1]), rawWrite: Latency(&writes[2]))
}
