import Concord
import Foundation
import Synchronization

/// What observing a value costs its writers, and how soon a commit reaches an observer.
public struct ObservationCost: Sendable {
    /// Write latency with each arrangement of observers on the written key, by label.
    public var writes: [(label: String, latency: Latency)]
    /// From a write's return to its delivery to an observer pulling with `next()`.
    public var delivery: Latency
}

/// Writes to one key of a filled cluster with no observer, one pulling observer, 100 pulling
/// observers, and one observer that never pulls, rounds interleaved (the first round warms up
/// and is not counted); then paced writes, each timed from its return to its delivery.
public func measureObservationCost(
    setting: Setting, keyCount: Int, valueBytes: Int, samplesPerRound: Int, rounds: Int, log: (String) -> Void
) async throws -> ObservationCost {
    log("[\(setting.rawValue)] observation: filling \(keyCount) keys")
    let fixture = try ConcordFixture(setting: setting, keyCount: keyCount, valueBytes: valueBytes)
    try fixture.fill()
    let replica = fixture.replica
    let key = fixture.keys[keyCount / 2]
    let arrangements: [(label: String, pulling: Int, stalled: Int, polling: Int, reading: Int, yielding: Int)] = [
        ("no observer", 0, 0, 0, 0, 0), ("1 observer", 1, 0, 0, 0, 0), ("100 observers", 100, 0, 0, 0, 0),
        ("1 observer that never pulls", 0, 1, 0, 0, 0), ("100 observers that never pull", 0, 100, 0, 0, 0),
        ("1 observer polling without waiting", 0, 0, 1, 0, 0),
        ("no observer, 1 task reading it in a loop", 0, 0, 0, 1, 0),
        ("no observer, 1 task yielding in a loop", 0, 0, 0, 0, 1),
    ]
    var samples = [[UInt64]](repeating: [], count: arrangements.count)
    var stamp: UInt64 = 1
    for round in 0..<rounds {
        log("[\(setting.rawValue)] observation: round \(round + 1) of \(rounds)")
        for (index, arrangement) in arrangements.enumerated() {
            // Every observer is registered (its iterator made) before the first timed write.
            let pulling = (0..<arrangement.pulling).map { _ in
                let registered = replica.changes(of: key).makeAsyncIterator()
                return Task {
                    var iterator = registered
                    var count = 0
                    while try await iterator.next() != nil { count += 1 }
                    return count
                }
            }
            let stalled = (0..<arrangement.stalled).map { _ in replica.changes(of: key).makeAsyncIterator() }
            // The yardstick for the two rows before: a plain reader of the key, no observation.
            let reading = (0..<arrangement.reading).map { _ in
                Task {
                    var count = 0
                    while !Task.isCancelled {
                        if try replica.read(key) != nil { count += 1 }
                        await Task.yield()
                    }
                    return count
                }
            }
            // The yardstick of a busy core alone: a task that only yields, reading nothing.
            let yielding = (0..<arrangement.yielding).map { _ in
                Task {
                    var count = 0
                    while !Task.isCancelled {
                        count += 1
                        await Task.yield()
                    }
                    return count
                }
            }
            // An observer that never parks: it polls and yields, so no write has a consumer to wake.
            let polling = (0..<arrangement.polling).map { _ in
                let registered = replica.changes(of: key).makeAsyncIterator()
                return Task {
                    var count = 0
                    while !Task.isCancelled {
                        if try registered.poll() != nil { count += 1 } else { await Task.yield() }
                    }
                    return count
                }
            }
            for n in 0..<samplesPerRound {
                if n % 512 == 0 { try fixture.cluster.synchronize() }
                stamp += 1
                let value = payload(stamp: stamp, bytes: valueBytes)
                let start = nowNanoseconds()
                try replica.update(key, .assign(value))
                let elapsed = nowNanoseconds() &- start
                if round > 0 { samples[index].append(elapsed) }
            }
            for task in pulling + polling + reading { task.cancel() }
            for task in yielding { task.cancel() }
            for task in pulling + polling + reading { _ = try await task.value }
            for task in yielding { _ = await task.value }
            // The stalled observer was never pulled: its pending flag is all it kept.
            if let iterator = stalled.first, try iterator.poll()?.value != value(stamp: stamp, bytes: valueBytes) {
                throw BenchmarkFailure("the observer that never pulled does not see the last write")
            }
        }
    }
    log("[\(setting.rawValue)] observation: commit-to-delivery")
    let delivered = Mutex<[UInt64: UInt64]>([:])
    let registered = replica.changes(of: key).makeAsyncIterator()
    let observer = Task {
        var iterator = registered
        while let change = try await iterator.next() {
            guard let value = change.value else { continue }
            let now = nowNanoseconds()
            let received = value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            delivered.withLock { $0[received] = now }
        }
    }
    var committed: [UInt64: UInt64] = [:]
    for _ in 0..<(samplesPerRound / 4) {
        stamp += 1
        try replica.update(key, .assign(payload(stamp: stamp, bytes: valueBytes)))
        committed[stamp] = nowNanoseconds()
        // Paced: the next write waits for this one's delivery (or 10 ms), so none coalesce.
        let deadline = nowNanoseconds() + 10_000_000
        while delivered.withLock({ $0[stamp] }) == nil && nowNanoseconds() < deadline { await Task.yield() }
    }
    observer.cancel()
    _ = try? await observer.value
    var latencies = delivered.withLock { received in
        committed.compactMap { stamp, at in received[stamp].map { $0 > at ? $0 - at : 0 } }
    }
    guard latencies.count >= committed.count * 9 / 10 else {
        throw BenchmarkFailure("only \(latencies.count) of \(committed.count) paced writes were delivered")
    }
    try fixture.cluster.synchronize()
    return ObservationCost(
        writes: arrangements.indices.map { (arrangements[$0].label, Latency(&samples[$0])) },
        delivery: Latency(&latencies))
}

private func value(stamp: UInt64, bytes: Int) -> [UInt8]? { payload(stamp: stamp, bytes: bytes) }
