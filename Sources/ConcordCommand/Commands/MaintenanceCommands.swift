import ArgumentParser
import Concord
import Foundation

/// `concord sync`.
struct Sync: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Force a sync: deliver every pending message until the replicas converge, and flush to disk.",
        discussion: """
            The directory must not be open in another process.
            Example:
              concord sync DIR
            """)

    @OptionGroup var target: DirectoryArgument

    func run() throws {
        let cluster = try target.owner()
        defer { cluster.close() }
        try cluster.forceSync()
        let status = cluster.status()
        print(
            "synchronized \(status.replicas.count) replicas: "
                + (status.isConverged ? "converged" : "not converged (a replica is down)"))
    }
}

/// `concord gc`.
struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Collect garbage now: delete log entries every replica has, compact causal metadata.",
        discussion: """
            The directory must not be open in another process.
            Example:
              concord gc DIR
            """)

    @OptionGroup var target: DirectoryArgument

    func run() throws {
        let cluster = try target.owner()
        defer { cluster.close() }
        try cluster.synchronize()
        var results = try cluster.collectGarbage()
        // Compaction needs every member's acknowledgement of the collection round's clock.
        try cluster.synchronize()
        let second = try cluster.collectGarbage()
        for index in results.indices where index < second.count {
            results[index].logEntriesCollected += second[index].logEntriesCollected
            results[index].logEntriesForced += second[index].logEntriesForced
            results[index].objectsCompacted += second[index].objectsCompacted
            results[index].logLength = second[index].logLength
        }
        print(
            formatTable(
                ["replica", "log entries collected", "objects compacted", "log left"],
                results.map {
                    [
                        "\($0.replica.rawValue)", "\($0.logEntriesCollected + $0.logEntriesForced)",
                        "\($0.objectsCompacted)", "\($0.logLength)",
                    ]
                }))
    }
}

/// `concord compact`.
struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compact every replica's store file (an LMDB compacting copy replaces it).",
        discussion: """
            The directory must not be open in another process.
            Example:
              concord compact DIR
            """)

    @OptionGroup var target: DirectoryArgument

    func run() throws {
        let cluster = try target.owner()
        defer { cluster.close() }
        let results = try cluster.compact(progress: Terminal.progressReporter)
        Terminal.endProgress()
        print(
            formatTable(
                ["replica", "before", "after"],
                results.map { ["\($0.replica.rawValue)", formatBytes($0.bytesBefore), formatBytes($0.bytesAfter)] }))
        let before = results.reduce(0) { $0 + $1.bytesBefore }
        let after = results.reduce(0) { $0 + $1.bytesAfter }
        print("total: \(formatBytes(before)) -> \(formatBytes(after))")
    }
}

/// `concord wipe`.
struct Wipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recover a damaged replica: delete its files and resync it from its peers.",
        discussion: """
            The seed's "partial recovery of one node". The replica's folder is moved aside (not \
            deleted), even when its store is too damaged to open; the replica reopens empty with a \
            new incarnation and takes a full state from a peer. The directory must not be open in \
            another process.
            Example:
              concord wipe DIR --replica 2
            """)

    @OptionGroup var target: DirectoryArgument
    @Option(help: "The replica to wipe.") var replica: UInt64

    func run() throws {
        let id = ReplicaID(replica)
        let aside = try Cluster.wipeReplica(id, inDirectoryAt: target.url)
        if let aside { print("replica \(replica)'s files were moved to \(aside.path)") }
        let cluster = try target.owner()
        defer { cluster.close() }
        try cluster.synchronize()
        let status = try cluster.replica(id).map { $0.status() }.unwrap("replica \(replica) is not a member")
        print(
            "replica \(replica) "
                + (status.isBootstrapping
                    ? "is still catching up (a peer must be reachable)"
                    : "resynced from its peers: clock \(formatClock(status.clock))"))
    }
}

extension Optional {
    func unwrap(_ message: String) throws -> Wrapped {
        guard let self else { throw UsageError(message) }
        return self
    }
}
