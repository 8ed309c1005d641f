import Concord
import Foundation
import RawLMDB

public struct AllocationResults: Sendable {
    public var concordRead, rawRead: Double
    public var concordWrite, rawWrite: Double
    public var concordSwap, rawSwap: Double
    public var concordBatch, rawBatch: Double
}

/// Mallocs per operation of each single-operation shape, counted by `count` (which wraps
/// its closure in package-benchmark's malloc interposer and returns the mallocs made).
/// Operations run in the same way as the timed ones, but separately: counting costs time.
public func measureAllocations(
    setting: Setting, keyCount: Int, valueBytes: Int, count: (() throws -> Void) throws -> Int64
) throws -> AllocationResults {
    let concord = try ConcordFixture(setting: setting, keyCount: keyCount, valueBytes: valueBytes)
    try concord.fill()
    let sizes = try concord.storedSizes()
    let raw = try RawFixture(setting: setting, keyCount: keyCount, keyBytes: sizes.keyBytes,
                             valueBytes: sizes.valueBytes)
    try raw.fill()
    let replica = concord.replica
    let keys = concord.keys
    let n = 1000
    let reader = try raw.makeReader()
    defer { raw_reader_close(reader) }
    // Warm both sides (pools, caches) before counting.
    for i in 0..<n { _ = try replica.read(keys[i]) }
    var stamp: UInt64 = 0
    for i in 0..<n { try RawError.check(raw_get(reader, UInt32(i), &stamp), "raw_get") }

    let concordRead = try count { for i in 0..<n { _ = try replica.read(keys[i]) } }
    let rawRead = try count { for i in 0..<n { try RawError.check(raw_get(reader, UInt32(i), &stamp), "raw_get") } }

    let values = (0..<n).map { payload(stamp: UInt64($0 + 1), bytes: valueBytes) }
    try concord.cluster.synchronize()
    let concordWrite = try count { for i in 0..<n { try replica.update(keys[i], .assign(values[i])) } }
    let rawWrite = try count { for i in 0..<n { try RawError.check(raw_put(raw.environment, UInt32(i), 1), "raw_put") } }

    let next = (0..<n).map { payload(stamp: UInt64($0 + 1_000_000), bytes: valueBytes) }
    try concord.cluster.synchronize()
    let concordSwap = try count {
        for i in 0..<n { _ = try replica.compareAndSwap(keys[i], expected: values[i], new: next[i]) }
    }
    var swapped: Int32 = 0
    let rawSwap = try count {
        for i in 0..<n {
            try RawError.check(raw_compare_and_swap(raw.environment, UInt32(i), 1, 2, &swapped), "raw_cas")
        }
    }

    try concord.cluster.synchronize()
    let batches = 5
    let concordBatch = try count {
        for b in 0..<batches {
            try replica.transaction { tx in
                for j in 0..<1000 { try tx.update(keys[(b * 1000 + j * 97) % keyCount], .assign(values[j])) }
            }
        }
    }
    let rawBatch = try count {
        for b in 0..<batches {
            try RawError.check(raw_batch(raw.environment, UInt32(b * 1000), 97, 1000, UInt32(keyCount), 3), "raw_batch")
        }
    }
    return AllocationResults(
        concordRead: Double(concordRead) / Double(n), rawRead: Double(rawRead) / Double(n),
        concordWrite: Double(concordWrite) / Double(n), rawWrite: Double(rawWrite) / Double(n),
        concordSwap: Double(concordSwap) / Double(n), rawSwap: Double(rawSwap) / Double(n),
        concordBatch: Double(concordBatch) / Double(batches), rawBatch: Double(rawBatch) / Double(batches))
}
