import Concord
import Foundation
import RawLMDB

/// Writers at one replica under durable commits: `.full` (an fsync per commit, writers
/// queue for the replica's lock through it) against `.groupCommit` (writers share fsyncs),
/// with raw LMDB's durable commits from as many threads on one environment as the yardstick.
public struct GroupCommitResults: Sendable {
    /// How many writer threads.
    public var threads: Int
    /// Transactions per second under `.full`.
    public var fullPerSecond: Double
    /// Transactions per second under `.groupCommit`.
    public var groupPerSecond: Double
    /// Raw LMDB's durable commits per second from as many threads on one environment.
    public var rawPerSecond: Double
    /// Single-thread `.groupCommit` write p50 (one writer gains nothing to share).
    public var groupSingleWrite: Latency
    /// Single-thread `.full` write p50, in the same run.
    public var fullSingleWrite: Latency
}

/// Measures `GroupCommitResults`: `threads` writers for `seconds` each way, on `keyCount`
/// registers of `valueBytes`, and `samples` single-thread writes.
public func measureGroupCommit(
    threads: Int, keyCount: Int, valueBytes: Int, seconds: Double, samples: Int, log: (String) -> Void
) throws -> GroupCommitResults {
    let value = payload(stamp: 11, bytes: valueBytes)
    func concord(_ durability: Durability) throws -> (Double, Latency) {
        let fixture = try ConcordFixture(
            setting: .full, keyCount: keyCount, valueBytes: valueBytes, durability: durability)
        try fixture.fill()
        let replica = fixture.replica
        let keys = fixture.keys
        log("[\(durability)] \(threads) writer threads on one replica")
        let rate = try throughput(threads: threads, seconds: seconds) { t, n in
            var s = KeyStream(seed: UInt64(t * 1_000_003 + n), count: keyCount)
            try replica.update(keys[s.next()], .assign(value))
        }
        var stream = KeyStream(seed: 12, count: keyCount)
        let single = try sampleLatency(samples: samples, warmup: 20, prepare: { _ in stream.next() }) { key in
            try replica.update(keys[key], .assign(value))
        }
        return (rate, single)
    }
    let (full, fullSingle) = try concord(.full)
    let (group, groupSingle) = try concord(.groupCommit)
    log("[raw durable] \(threads) writer threads on one environment")
    let sized = try ConcordFixture(setting: .full, keyCount: 1, valueBytes: valueBytes)
    try sized.fill()
    let sizes = try sized.storedSizes()
    let raw = try RawFixture(
        setting: .full, keyCount: keyCount, keyBytes: sizes.keyBytes, valueBytes: sizes.valueBytes, label: "raw-group")
    try raw.fill()
    let rawRate = try throughput(threads: threads, seconds: seconds) { t, n in
        var s = KeyStream(seed: UInt64(t * 1_000_003 + n), count: keyCount)
        try RawError.check(raw_put(raw.environment, UInt32(s.next()), UInt64(n)), "raw_put")
    }
    return GroupCommitResults(
        threads: threads, fullPerSecond: full, groupPerSecond: group, rawPerSecond: rawRate,
        groupSingleWrite: groupSingle, fullSingleWrite: fullSingle)
}
