// A driver for instruction counts under valgrind's callgrind, which counts the same for
// the same binary and inputs whatever else the machine does (wall clock here moves by a
// third between runs). `make bench-instructions` runs each workload with N operations and
// with none and prints the difference divided by N: the instructions of one operation.
//
//   ConcordInstructions WORKLOAD N
//
// Workloads, on a cluster of 3 replicas (noSync+writeMap, manual delivery) holding 1000
// registers of 100 bytes at every replica:
//   update      N local assignments at replica 1
//   read        N reads at replica 1
//   replicated  N assignments, at replicas 1, 2, 3 in turn, each followed by synchronize()
//   batch       N transactions of 100 assignments each at replica 1
//   hot         N assignments to one key at replica 1
//   hot-1, hot-100
//               the same with 1 or 100 observations of that key that never pull (made
//               before the loop): what a commit pays per registered observer
//
// The yardsticks, raw LMDB through C (`RawLMDB`, as in the benchmark table) on one
// environment (MDB_NOSYNC | MDB_WRITEMAP) holding 1000 keys of 40 bytes with values of
// 128 bytes, about the sizes Concord stores for those registers:
//   raw-update  N begin + mdb_put + commit
//   raw-read    N renew + mdb_get + reset
//   raw-batch   N transactions of 100 puts each
//
// It uses only Concord's public API, so the same file builds against an older tree for a
// side-by-side count.

import Concord
import Foundation
import RawLMDB

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]), count >= 0 else {
    FileHandle.standardError.write(
        Data("usage: ConcordInstructions update|read|replicated|batch|hot|hot-1|hot-100 N\n".utf8))
    exit(2)
}
let workload = arguments[1]
let observers = ["hot": 0, "hot-1": 1, "hot-100": 100]
let rawWorkloads = ["raw-update", "raw-read", "raw-batch"]
guard ["update", "read", "replicated", "batch"].contains(workload) || observers[workload] != nil
    || rawWorkloads.contains(workload)
else {
    FileHandle.standardError.write(
        Data(
            ("unknown workload \(workload): update, read, replicated, batch, hot, hot-1, hot-100, raw-update, "
                + "raw-read or raw-batch\n").utf8))
    exit(2)
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "concord-instructions-\(ProcessInfo.processInfo.processIdentifier)")
defer { try? FileManager.default.removeItem(at: directory) }

/// Runs a raw LMDB workload; exits on an LMDB error.
func runRaw(_ workload: String, count: Int) {
    func check(_ rc: Int32, _ what: String) {
        if rc != 0 {
            FileHandle.standardError.write(Data("ConcordInstructions: \(what) failed: \(rc)\n".utf8))
            exit(1)
        }
    }
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var opened: OpaquePointer?
    check(raw_open(directory.path, 2, 1 << 30, 40, 128, &opened), "raw_open")
    guard let environment = opened else { exit(1) }
    defer { raw_close(environment) }
    check(raw_fill(environment, 1000), "raw_fill")
    var reader: OpaquePointer?
    check(raw_reader_open(environment, &reader), "raw_reader_open")
    defer { raw_reader_close(reader) }
    var checksum: UInt64 = 0
    for n in 0..<count {
        let key = UInt32((n &* 7919) % 1000)
        switch workload {
        case "raw-update": check(raw_put(environment, key, UInt64(n)), "raw_put")
        case "raw-read":
            var stamp: UInt64 = 0
            check(raw_get(reader, key, &stamp), "raw_get")
            checksum &+= stamp
        default: check(raw_batch(environment, UInt32(n &* 100 % 1000), 1, 100, 1000, UInt64(n)), "raw_batch")
        }
    }
    if checksum == UInt64.max { print(checksum) }
}

if rawWorkloads.contains(workload) {
    runRaw(workload, count: count)
    try? FileManager.default.removeItem(at: directory)
    exit(0)
}

do {
    var configuration = Configuration()
    configuration.durability = .noSyncWriteMap
    configuration.deliveryMode = .manual
    let cluster = try Cluster(directory: directory, replicas: 3, configuration: configuration)
    let keys = (0..<1000).map { Key<LWWRegister<[UInt8]>>(String(format: "key-%020d", $0), bucket: "bench") }
    let value = [UInt8](repeating: 0x5A, count: 100)
    for replica in cluster.replicas {
        try replica.transaction { transaction in
            for key in keys { try transaction.update(key, .assign(value)) }
        }
    }
    try cluster.synchronize()

    // `Cluster.replicas` builds its array on each call: taken once, outside the loop.
    let replicas = cluster.replicas
    // Observations that never pull: each commit raises them (made before the loop, so the
    // run with N = 0 registers them too and the difference is the commits alone).
    let stalled = (0..<(observers[workload] ?? 0)).map { _ in replicas[0].changes(of: keys[0]).makeAsyncIterator() }
    var checksum = 0
    for n in 0..<count {
        let key = keys[(n &* 7919) % keys.count]
        switch workload {
        case "update":
            try replicas[0].update(key, .assign(value))
        case "read":
            checksum &+= try replicas[0].read(key)?.count ?? 0
        case "hot", "hot-1", "hot-100":
            try replicas[0].update(keys[0], .assign(value))
        case "batch":
            try replicas[0].transaction { transaction in
                for i in 0..<100 { try transaction.update(keys[(n &* 100 &+ i) % keys.count], .assign(value)) }
            }
        default:
            try replicas[n % 3].update(key, .assign(value))
            try cluster.synchronize()
        }
    }
    cluster.close()
    if checksum == -1 || stalled.isEmpty && workload == "hot-1" { print(checksum) }
} catch {
    FileHandle.standardError.write(Data("ConcordInstructions failed: \(error)\n".utf8))
    exit(1)
}
