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
// It uses only Concord's public API, so the same file builds against an older tree for a
// side-by-side count.

import Concord
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]), count >= 0 else {
    FileHandle.standardError.write(
        Data("usage: ConcordInstructions update|read|replicated|batch|hot|hot-1|hot-100 N\n".utf8))
    exit(2)
}
let workload = arguments[1]
let observers = ["hot": 0, "hot-1": 1, "hot-100": 100]
guard ["update", "read", "replicated", "batch"].contains(workload) || observers[workload] != nil else {
    FileHandle.standardError.write(
        Data("unknown workload \(workload): update, read, replicated, batch, hot, hot-1 or hot-100\n".utf8))
    exit(2)
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "concord-instructions-\(ProcessInfo.processInfo.processIdentifier)")
defer { try? FileManager.default.removeItem(at: directory) }

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
