import ArgumentParser
import Concord
import ConcordReports
import Foundation
import Logging

/// The cluster directory argument every command but `backup list|stats|verify` takes.
struct DirectoryArgument: ParsableArguments {
    @Argument(help: "The cluster directory.", completion: .directory)
    var directory: String

    @OptionGroup var key: KeyFileOption

    var url: URL { URL(fileURLWithPath: directory) }

    /// Opens the directory for reading (works while another process owns it).
    func reader() throws -> ClusterReader {
        let manifest = try ClusterDirectory.readManifest(at: url)
        return try ClusterReader(directory: url, encryption: try key.encryption(for: manifest))
    }

    /// Opens the directory as its owner, in manual delivery mode (unless told otherwise) so
    /// that the command decides when messages are delivered. Refused while another process
    /// owns it.
    func owner(deliveryMode: DeliveryMode = .manual) throws -> Cluster {
        // Read the manifest first: `Cluster` would make a new cluster in a missing directory.
        let manifest = try ClusterDirectory.readManifest(at: url)
        var configuration = manifest.configuration
        configuration.deliveryMode = deliveryMode
        configuration.encryption = try key.encryption(for: manifest)
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

/// `--key-file FILE`: the key of an encrypted cluster or backup (32 raw bytes).
struct KeyFileOption: ParsableArguments {
    @Option(name: .customLong("key-file"), help: "The key of an encrypted cluster: a file of 32 raw bytes.")
    var keyFile: String?

    /// The key, or nil without `--key-file`.
    func encryption(keyID: String? = nil) throws -> Encryption? {
        try keyFile.map { try Encryption(keyFile: URL(fileURLWithPath: $0), keyID: keyID) }
    }

    /// The key for the cluster of `manifest`: named by its key identifier; required when the
    /// cluster is encrypted.
    func encryption(for manifest: ClusterManifest) throws -> Encryption? {
        guard let keyID = manifest.encryptionKeyID else {
            if keyFile != nil { throw UsageError("the cluster is not encrypted: leave out --key-file") }
            return nil
        }
        guard let encryption = try encryption(keyID: keyID) else {
            throw UsageError("the cluster is encrypted with key '\(keyID)': give its key with --key-file FILE")
        }
        return encryption
    }
}

/// `--replica I`: which replica a command reads or writes (default: the first member).
struct ReplicaOption: ParsableArguments {
    @Option(name: .long, help: "The replica's id (default: the first member the directory holds).")
    var replica: UInt64?

    func id(in manifest: ClusterManifest) throws -> ReplicaID {
        guard let replica else {
            guard let first = manifest.hostedMemberIDs.first else { throw UsageError("the cluster has no members") }
            return first
        }
        let id = ReplicaID(replica)
        if let hosting = manifest.hosting, hosting.replica != id {
            throw UsageError(
                "this directory holds only replica \(hosting.replica.rawValue) of cluster \(hosting.clusterName); "
                    + "replica \(replica) runs elsewhere")
        }
        guard manifest.members.contains(where: { $0.id == id }) else {
            throw UsageError(
                "replica \(replica) is not a member; the members are "
                    + manifest.members.map { String($0.id.rawValue) }.joined(separator: ", "))
        }
        return id
    }
}

/// `KEY TYPE [--replica I] [--bucket B]`: one object at one replica (`read`, `watch`).
struct ObjectArguments: ParsableArguments {
    @Argument(help: "The object's key.") var key: String
    @Argument(help: "The object's type.") var type: String
    @OptionGroup var replica: ReplicaOption
    @Option(help: "The bucket.") var bucket = "default"
}

/// `--json`.
struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document instead of text.")
    var json = false
}
