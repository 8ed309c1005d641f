import Concord
import Foundation
import RawLMDB

/// Percentiles of a latency sample, in microseconds.
public struct Latency: Sendable {
    public var p50: Double
    public var p99: Double
    public var samples: Int

    init(_ nanoseconds: inout [UInt64]) {
        nanoseconds.sort()
        samples = nanoseconds.count
        func at(_ q: Double) -> Double {
            Double(nanoseconds[min(nanoseconds.count - 1, Int(Double(nanoseconds.count) * q))]) / 1000
        }
        p50 = at(0.50)
        p99 = at(0.99)
    }
}

/// A deterministic stream of key numbers (xorshift), so both sides visit the same keys.
public struct KeyStream {
    var state: UInt64
    let count: Int
    public init(seed: UInt64, count: Int) {
        state = seed | 1
        self.count = count
    }
    @inline(__always) public mutating func next() -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(count))
    }
}

/// Times `operation` once per sample after `warmup` untimed runs; `prepare` runs outside
/// the timed region (building arguments, collecting Concord's log).
public func sampleLatency<P>(
    samples: Int, warmup: Int, prepare: (Int) throws -> P, _ operation: (P) throws -> Void
) rethrows -> Latency {
    for i in 0..<warmup { try operation(try prepare(i)) }
    var times = [UInt64](repeating: 0, count: samples)
    for i in 0..<samples {
        let argument = try prepare(warmup + i)
        let start = nowNanoseconds()
        try operation(argument)
        times[i] = nowNanoseconds() &- start
    }
    return Latency(&times)
}

/// Runs `threads` threads for `seconds`, each calling `body(thread, iteration)` in a loop,
/// and returns operations per second over all of them.
public func throughput(
    threads: Int, seconds: Double, _ body: @escaping @Sendable (Int, Int) throws -> Void
) throws -> Double {
    final class Shared: @unchecked Sendable {
        var counts: [Int]
        var errors: [String] = []
        let lock = NSLock()
        var deadline: UInt64 = 0
        init(_ n: Int) { counts = Array(repeating: 0, count: n) }
    }
    let shared = Shared(threads)
    let start = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for t in 0..<threads {
        done.enter()
        let thread = Thread {
            start.wait()
            var n = 0
            let deadline = shared.deadline
            do {
                while true {
                    for _ in 0..<64 {
                        try body(t, n)
                        n += 1
                    }
                    if nowNanoseconds() >= deadline { break }
                }
            } catch {
                shared.lock.withLock { shared.errors.append("\(error)") }
            }
            shared.lock.withLock { shared.counts[t] = n }
            done.leave()
        }
        thread.start()
    }
    Thread.sleep(forTimeInterval: 0.05)
    let begin = nowNanoseconds()
    shared.deadline = begin + UInt64(seconds * 1e9)
    for _ in 0..<threads { start.signal() }
    done.wait()
    let elapsed = Double(nowNanoseconds() - begin) / 1e9
    if let first = shared.errors.first { throw BenchmarkFailure("a thread failed: \(first)") }
    return Double(shared.counts.reduce(0, +)) / elapsed
}

public struct BenchmarkFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - The single-operation shapes

/// Sample counts for one setting: fsync commits cost ~0.7 ms each, so fewer of them.
public struct Plan: Sendable {
    public var reads: Int
    public var writes: Int
    public var batches: Int
    public var seconds: Double

    public static func forSetting(_ setting: Setting, quick: Bool) -> Plan {
        let scale = quick ? 0.2 : 1
        switch setting {
        case .full:
            return Plan(reads: Int(100_000 * scale), writes: Int(1_500 * scale), batches: Int(15 * scale),
                        seconds: 1 * scale)
        default:
            return Plan(reads: Int(200_000 * scale), writes: Int(40_000 * scale), batches: Int(60 * scale),
                        seconds: 1.5 * scale)
        }
    }
}

public struct SingleOperationResults: Sendable {
    public var concordRead, rawRead: Latency
    public var concordWrite, rawWrite: Latency
    public var concordSwap, rawSwap: Latency
    public var concordBatch, rawBatch: Latency
    public var concordReadsPerSecond, rawReadsPerSecond: Double
    public var concordWritesPerSecond, rawWritesPerSecond: Double
    public var keyBytes, valueBytes: Int
}

/// Concord's log is collected every this many writes (outside the timed region), so a
/// single-replica fixture measures a steady state rather than a growing log.
let collectEvery = 512

public func measureSingleOperations(
    setting: Setting, keyCount: Int, valueBytes: Int, plan: Plan, log: (String) -> Void
) throws -> SingleOperationResults {
    log("[\(setting.rawValue)] filling \(keyCount) keys in Concord")
    let concord = try ConcordFixture(setting: setting, keyCount: keyCount, valueBytes: valueBytes)
    try concord.fill()
    let sizes = try concord.storedSizes()
    log("[\(setting.rawValue)] stored sizes: key \(sizes.keyBytes) B, value \(sizes.valueBytes) B; filling raw LMDB")
    let raw = try RawFixture(setting: setting, keyCount: keyCount, keyBytes: sizes.keyBytes,
                             valueBytes: sizes.valueBytes)
    try raw.fill()
    let replica = concord.replica
    let keys = concord.keys

    // Reads.
    log("[\(setting.rawValue)] reads")
    var stream = KeyStream(seed: 1, count: keyCount)
    let concordRead = try sampleLatency(samples: plan.reads, warmup: 20_000, prepare: { _ in stream.next() }) { i in
        guard try replica.read(keys[i]) != nil else { throw BenchmarkFailure("key \(i) missing") }
    }
    let reader = try raw.makeReader()
    defer { raw_reader_close(reader) }
    stream = KeyStream(seed: 1, count: keyCount)
    var stamp: UInt64 = 0
    let rawRead = try sampleLatency(samples: plan.reads, warmup: 20_000, prepare: { _ in stream.next() }) { i in
        try RawError.check(raw_get(reader, UInt32(i), &stamp), "raw_get")
    }

    // Writes: the value is built before the clock starts.
    log("[\(setting.rawValue)] writes")
    stream = KeyStream(seed: 2, count: keyCount)
    var nextStamp: UInt64 = 1
    let concordWrite = try sampleLatency(
        samples: plan.writes, warmup: min(2_000, plan.writes / 4),
        prepare: { n -> (Int, [UInt8]) in
            if n % collectEvery == 0 { try concord.cluster.synchronize() }
            let i = stream.next()
            nextStamp += 1
            concord.stamps[i] = nextStamp
            return (i, payload(stamp: nextStamp, bytes: valueBytes))
        }
    ) { (i, value) in
        try replica.update(keys[i], .assign(value))
    }
    stream = KeyStream(seed: 2, count: keyCount)
    let rawStamps = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: keyCount)
    defer { rawStamps.deallocate() }
    rawStamps.initialize(repeating: 0)
    nextStamp = 1
    let rawWrite = try sampleLatency(
        samples: plan.writes, warmup: min(2_000, plan.writes / 4),
        prepare: { _ -> Int in
            let i = stream.next()
            nextStamp += 1
            rawStamps[i] = nextStamp
            return i
        }
    ) { i in
        try RawError.check(raw_put(raw.environment, UInt32(i), rawStamps[i]), "raw_put")
    }

    // Compare-and-swap: always with the right expectation, so every one writes.
    log("[\(setting.rawValue)] compare-and-swap")
    stream = KeyStream(seed: 3, count: keyCount)
    let concordSwap = try sampleLatency(
        samples: plan.writes, warmup: min(2_000, plan.writes / 4),
        prepare: { n -> (Int, [UInt8], [UInt8]) in
            if n % collectEvery == 0 { try concord.cluster.synchronize() }
            let i = stream.next()
            let expected = payload(stamp: concord.stamps[i], bytes: valueBytes)
            nextStamp += 1
            concord.stamps[i] = nextStamp
            return (i, expected, payload(stamp: nextStamp, bytes: valueBytes))
        }
    ) { (i, expected, new) in
        guard try replica.compareAndSwap(keys[i], expected: expected, new: new) else {
            throw BenchmarkFailure("compare-and-swap of key \(i) did not swap")
        }
    }
    stream = KeyStream(seed: 3, count: keyCount)
    let rawSwap = try sampleLatency(
        samples: plan.writes, warmup: min(2_000, plan.writes / 4),
        prepare: { _ -> (Int, UInt64, UInt64) in
            let i = stream.next()
            nextStamp += 1
            defer { rawStamps[i] = nextStamp }
            return (i, rawStamps[i], nextStamp)
        }
    ) { (i, expected, new) in
        var swapped: Int32 = 0
        try RawError.check(raw_compare_and_swap(raw.environment, UInt32(i), expected, new, &swapped), "raw_cas")
        guard swapped == 1 else { throw BenchmarkFailure("raw compare-and-swap of key \(i) did not swap") }
    }

    // Batches of 1000 writes in one transaction, keys spread over the whole key space.
    log("[\(setting.rawValue)] batches of 1000")
    stream = KeyStream(seed: 4, count: keyCount)
    let batchValue = payload(stamp: 7, bytes: valueBytes)
    let concordBatch = try sampleLatency(
        samples: plan.batches, warmup: 3,
        prepare: { _ -> Int in
            try concord.cluster.synchronize()
            return stream.next()
        }
    ) { first in
        try replica.transaction { tx in
            var key = first
            for _ in 0..<1000 {
                try tx.update(keys[key], .assign(batchValue))
                key = (key + 97) % keyCount
            }
        }
    }
    stream = KeyStream(seed: 4, count: keyCount)
    let rawBatch = try sampleLatency(samples: plan.batches, warmup: 3, prepare: { _ in stream.next() }) { first in
        try RawError.check(raw_batch(raw.environment, UInt32(first), 97, 1000, UInt32(keyCount), 7), "raw_batch")
    }
    try concord.cluster.synchronize()

    // Two reader threads.
    log("[\(setting.rawValue)] concurrent reads")
    let concordReadsPerSecond = try throughput(threads: 2, seconds: plan.seconds) { t, n in
        var s = KeyStream(seed: UInt64(t * 1_000_003 + n), count: keyCount)
        _ = try replica.read(keys[s.next()])
    }
    let readers = try (0..<2).map { _ in try raw.makeReader() }
    defer { readers.forEach { raw_reader_close($0) } }
    let readerBox = UnsafeSendable(readers)
    let rawReadsPerSecond = try throughput(threads: 2, seconds: plan.seconds) { t, n in
        var s = KeyStream(seed: UInt64(t * 1_000_003 + n), count: keyCount)
        var stamp: UInt64 = 0
        try RawError.check(raw_get(readerBox.value[t], UInt32(s.next()), &stamp), "raw_get")
    }

    // Three writer threads over three replicas (manual delivery: nothing replicates during
    // the timed region; the cluster synchronizes afterwards) and over three raw environments.
    log("[\(setting.rawValue)] concurrent writes over 3 replicas")
    let writeKeyCount = min(keyCount, 10_000)
    let three = try ConcordFixture(setting: setting, replicas: 3, keyCount: writeKeyCount, valueBytes: valueBytes)
    try three.fill()
    let threeReplicas = three.cluster.replicas
    let threeKeys = three.keys
    let writeValue = payload(stamp: 9, bytes: valueBytes)
    let concordWritesPerSecond = try throughput(threads: 3, seconds: plan.seconds) { t, n in
        var s = KeyStream(seed: UInt64(t * 1_000_003 + n), count: writeKeyCount)
        try threeReplicas[t].update(threeKeys[s.next()], .assign(writeValue))
    }
    let rawThree = try (0..<3).map { t in
        let fixture = try RawFixture(setting: setting, keyCount: writeKeyCount, keyBytes: sizes.keyBytes,
                                     valueBytes: sizes.valueBytes, label: "raw-\(t)")
        try fixture.fill()
        return fixture
    }
    let rawWritesPerSecond = try throughput(threads: 3, seconds: plan.seconds) { t, n in
        var s = KeyStream(seed: UInt64(t * 1_000_003 + n), count: writeKeyCount)
        try RawError.check(raw_put(rawThree[t].environment, UInt32(s.next()), UInt64(n)), "raw_put")
    }

    return SingleOperationResults(
        concordRead: concordRead, rawRead: rawRead, concordWrite: concordWrite, rawWrite: rawWrite,
        concordSwap: concordSwap, rawSwap: rawSwap, concordBatch: concordBatch, rawBatch: rawBatch,
        concordReadsPerSecond: concordReadsPerSecond, rawReadsPerSecond: rawReadsPerSecond,
        concordWritesPerSecond: concordWritesPerSecond, rawWritesPerSecond: rawWritesPerSecond,
        keyBytes: sizes.keyBytes, valueBytes: sizes.valueBytes)
}

struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
