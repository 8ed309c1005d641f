import ArgumentParser
import Concord
import ConcordReports
import Foundation
import Logging

/// The cluster directory argument every command but `backup list|stats|verify` takes.
struct DirectoryArgument: ParsableArguments {
    @Argument(help: "The cluster directory.", completion: .directory)
    var directory: String

    var url: URL { URL(fileURLWithPath: directory) }

    /// Opens the directory for reading (works while another process owns it).
    func reader() throws -> ClusterReader {
        try ClusterReader(directory: url)
    }

    /// Opens the directory as its owner, in manual delivery mode (unless told otherwise) so
    /// that the command decides when messages are delivered. Refused while another process
    /// owns it.
    func owner(deliveryMode: DeliveryMode = .manual) throws -> Cluster {
        // Read the manifest first: `Cluster` would make a new cluster in a missing directory.
        let manifest = try ClusterDirectory.readManifest(at: url)
        var configuration = manifest.configuration
        configuration.deliveryMode = deliveryMode
        return try Cluster(
            directory: url, replicas: manifest.members.count, configuration: configuration,
            observability: Observability(logger: Self.logger))
    }

    /// Warnings and errors of the engine (a refused message, a failed replication step) go
    /// to standard error.
    static var logger: Logger {
        var logger = Logger(label: "concord") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }
}

/// `--replica I`: which replica a command reads or writes (default: the first member).
struct ReplicaOption: ParsableArguments {
    @Option(name: .long, help: "The replica's id (default: the first member).")
    var replica: UInt64?

    func id(in manifest: ClusterManifest) throws -> ReplicaID {
        guard let replica else {
            guard let first = manifest.members.first else { throw UsageError("the cluster has no members") }
            return first.id
        }
        let id = ReplicaID(replica)
        guard manifest.members.contains(where: { $0.id == id }) else {
            throw UsageError(
                "replica \(replica) is not a member; the members are "
                    + manifest.members.map { String($0.id.rawValue) }.joined(separator: ", "))
        }
        return id
    }
}

/// `--json`.
struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document instead of text.")
    var json = false
}
