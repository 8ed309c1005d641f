// package-benchmark's view of the single-operation shapes: latency percentiles and malloc
// counts per operation, Concord beside raw LMDB, in the fastest durability setting
// (`.noSyncWriteMap`, MDB_NOSYNC | MDB_WRITEMAP for both). `swift package benchmark` runs
// it; `make bench` prints the full summary table instead (ConcordBenchmarkTable).
//
// Concord runs one replica (no peers): its log is collected every 512 writes inside the
// measured operation, so that work shows in the upper percentiles, as it would in an
// application. At this granularity package-benchmark's own per-iteration bookkeeping
// (about 16 mallocs and 1-2 µs here) is part of every figure, raw LMDB's included: the
// table of `make bench` times the operations alone.

import Benchmark
import BenchmarkKit
import Concord
import Foundation
import RawLMDB

let keyCount = 100_000
let valueBytes = 100

final class Fixtures: @unchecked Sendable {
    let concord: ConcordFixture
    let raw: RawFixture
    let reader: OpaquePointer
    var stream = KeyStream(seed: 11, count: keyCount)
    var writes = 0
    /// For compare-and-swap on both sides: the index in `values` each Concord key holds (-1:
    /// the fill payload) and the stamp each raw key holds, so every swap succeeds.
    var concordValue = [Int](repeating: -1, count: keyCount)
    var rawStamp = [UInt64](repeating: 0, count: keyCount)

    init() {
        do {
            concord = try ConcordFixture(setting: .noSyncWriteMap, keyCount: keyCount, valueBytes: valueBytes)
            try concord.fill()
            let sizes = try concord.storedSizes()
            raw = try RawFixture(
                setting: .noSyncWriteMap, keyCount: keyCount, keyBytes: sizes.keyBytes, valueBytes: sizes.valueBytes)
            try raw.fill()
            reader = try raw.makeReader()
            fixturesMade = true
        } catch {
            fatalError("benchmark setup failed: \(error)")
        }
    }

    func collect() throws {
        writes += 1
        if writes % 512 == 0 { try concord.cluster.synchronize() }
    }
}

// Globals are initialized on first use: only the benchmarks that run pay for the fill.
nonisolated(unsafe) let fixtures = Fixtures()
nonisolated(unsafe) var fixturesMade = false
let values = (0..<1024).map { payload(stamp: UInt64($0 + 1), bytes: valueBytes) }

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .instructions, .throughput],
        warmupIterations: 1_000,
        maxDuration: .seconds(2),
        maxIterations: 200_000)
    // A global is never deinitialized: remove the fixtures' files when the process is done.
    Benchmark.teardown = {
        guard fixturesMade else { return }
        try? FileManager.default.removeItem(at: fixtures.concord.directory)
        try? FileManager.default.removeItem(at: fixtures.raw.directory)
    }

    Benchmark("Concord read") { benchmark in
        let f = fixtures
        for _ in benchmark.scaledIterations {
            blackHole(try f.concord.replica.read(f.concord.keys[f.stream.next()]))
        }
    }
    Benchmark("LMDB read (renew, get, reset)") { benchmark in
        let f = fixtures
        var stamp: UInt64 = 0
        for _ in benchmark.scaledIterations {
            try RawError.check(raw_get(f.reader, UInt32(f.stream.next()), &stamp), "raw_get")
        }
        blackHole(stamp)
    }
    Benchmark("Concord write") { benchmark in
        let f = fixtures
        for _ in benchmark.scaledIterations {
            try f.concord.replica.update(f.concord.keys[f.stream.next()], .assign(values[f.writes & 1023]))
            try f.collect()
        }
    }
    Benchmark("LMDB put+commit") { benchmark in
        let f = fixtures
        for _ in benchmark.scaledIterations {
            try RawError.check(raw_put(f.raw.environment, UInt32(f.stream.next()), 1), "raw_put")
        }
    }
    Benchmark("Concord compare-and-swap") { benchmark in
        let f = fixtures
        let fill = payload(stamp: 0, bytes: valueBytes)
        for _ in benchmark.scaledIterations {
            let i = f.stream.next()
            let held = f.concordValue[i]
            let next = (held + 1) & 1023
            let swapped = try f.concord.replica.compareAndSwap(
                f.concord.keys[i], expected: held < 0 ? fill : values[held], new: values[next])
            guard swapped else { throw BenchmarkFailure("compare-and-swap of key \(i) did not swap") }
            f.concordValue[i] = next
            try f.collect()
        }
    }
    Benchmark("LMDB compare-and-swap") { benchmark in
        let f = fixtures
        var swapped: Int32 = 0
        for _ in benchmark.scaledIterations {
            let i = f.stream.next()
            try RawError.check(
                raw_compare_and_swap(f.raw.environment, UInt32(i), f.rawStamp[i], f.rawStamp[i] + 1, &swapped),
                "raw_cas")
            guard swapped == 1 else { throw BenchmarkFailure("raw compare-and-swap of key \(i) did not swap") }
            f.rawStamp[i] += 1
        }
    }
    Benchmark("Concord batch of 1000", configuration: .init(maxIterations: 200)) { benchmark in
        let f = fixtures
        for _ in benchmark.scaledIterations {
            let first = f.stream.next()
            try f.concord.replica.transaction { tx in
                for j in 0..<1000 {
                    try tx.update(f.concord.keys[(first + j * 97) % keyCount], .assign(values[j]))
                }
            }
            try f.concord.cluster.synchronize()
        }
    }
    Benchmark("LMDB batch of 1000", configuration: .init(maxIterations: 200)) { benchmark in
        let f = fixtures
        for _ in benchmark.scaledIterations {
            try RawError.check(
                raw_batch(f.raw.environment, UInt32(f.stream.next()), 97, 1000, UInt32(keyCount), 3), "raw_batch")
        }
    }
}
