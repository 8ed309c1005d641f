import ArgumentParser
import Concord
import ConcordReports
import Foundation

/// `concord init`.
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new cluster directory.",
        discussion: """
            Examples:
              concord init /var/lib/app/cluster --replicas 3 --durability noSync
              head -c 32 /dev/urandom > cluster.key && concord init DIR --replicas 3 --key-file cluster.key
            The directory must be missing or empty. With --key-file, every store is encrypted \
            (ChaCha20-Poly1305) and every message between replicas authenticated; every later command \
            on the directory then needs the key. Replica i lives in DIR/replica-<i>/ and \
            DIR/cluster-manifest.json describes the cluster.
            """)

    enum DurabilityChoice: String, ExpressibleByArgument, CaseIterable {
        case full, noSync, noSyncWriteMap, groupCommit

        var durability: Durability {
            switch self {
            case .full: .full
            case .noSync: .noSync
            case .noSyncWriteMap: .noSyncWriteMap
            case .groupCommit: .groupCommit
            }
        }
    }

    @OptionGroup var target: DirectoryArgument
    @Option(help: "How many replicas (1 to 64).") var replicas = 3
    @Option(help: "full (fsync per commit), groupCommit (concurrent writers share an fsync), noSync or noSyncWriteMap.")
    var durability: DurabilityChoice = .full
    @Option(help: "A name for the key of --key-file (default: its fingerprint).") var keyID: String?
    @Flag(
        help: """
            Hide object keys too (needs --key-file): each object's bucket, name and type are stored \
            as a keyed hash, and travel inside its sealed record.
            """)
    var hideObjectKeys = false

    func validate() throws {
        guard (1...64).contains(replicas) else { throw ValidationError("--replicas must be between 1 and 64") }
        if hideObjectKeys && target.key.keyFile == nil {
            throw ValidationError("--hide-object-keys needs --key-file: only an encrypted cluster hides its keys")
        }
    }

    func run() throws {
        let url = target.url
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(ClusterDirectory.manifestFileName).path) {
            throw UsageError("\(url.path) holds a cluster already")
        }
        var encryption = try target.key.encryption(keyID: keyID)
        encryption?.hidesObjectKeys = hideObjectKeys
        let cluster = try Cluster(
            directory: url, replicas: replicas,
            configuration: Configuration(durability: durability.durability, encryption: encryption))
        cluster.close()
        print(
            "made a cluster of \(replicas) replicas in \(url.path) (durability \(durability.rawValue)"
                + (encryption.map {
                    ", encrypted with key '\($0.keyID)'\($0.hidesObjectKeys ? ", object keys hidden" : ""))"
                }
                    ?? ")"))
    }
}

/// `concord update`.
struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply one operation to an object, as one transaction at one replica.",
        discussion: """
            TYPE is one of \(TypeCatalog.names.joined(separator: ", ")) (String elements and values). \
            OPERATION is the operation's case name followed by its arguments.
            Examples:
              concord update DIR likes pncounter increment 5
              concord update DIR tags awset add swift --bucket posts --replica 2
              concord update DIR profile rrmap update name lwwregister assign Ada
            The directory must not be open in another process. Messages are delivered before and \
            after the update, so every replica has it when the command returns.
            """)

    @OptionGroup var target: DirectoryArgument
    @Argument(help: "The object's key.") var key: String
    @Argument(help: "The object's type.") var type: String
    @Argument(help: "The operation and its arguments.") var operation: [String] = []
    @OptionGroup var replica: ReplicaOption
    @Option(help: "The bucket.") var bucket = "default"

    func run() throws {
        let entry = try TypeCatalog.entry(named: type)
        let cluster = try target.owner()
        defer { cluster.close() }
        let id = try replica.id(in: cluster.manifest)
        try cluster.synchronize()
        guard let handle = cluster.replica(id) else { throw UsageError("replica \(id.rawValue) is not a member") }
        let clock = try entry.update(handle, key, bucket, operation)
        try cluster.synchronize()
        print("committed at replica \(id.rawValue), clock \(formatClock(clock))")
    }
}

/// `concord read`.
struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an object's value at one replica.",
        discussion: """
            Prints the value alone on a line; a set prints its sorted elements, one per line; a \
            map prints "field: value" lines. With --json, one object with "value". Works while \
            another process owns the directory (it reads a snapshot).
            Example:
              concord read DIR tags awset --bucket posts --json
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var object: ObjectArguments
    @OptionGroup var output: JSONFlag

    func run() throws {
        let entry = try TypeCatalog.entry(named: object.type)
        let reader = try target.reader()
        let id = try object.replica.id(in: reader.manifest)
        let state = try entry.state(reader, object.key, object.bucket, id)
        let value = Inspection.value(of: state)
        if output.json {
            print(
                JSON.object([
                    ("key", .string(object.key)), ("bucket", .string(object.bucket)), ("type", .string(entry.name)),
                    ("replica", .uint(id.rawValue)), ("value", .inspected(value)),
                ]).text)
        } else {
            for line in value.plainLines { print(line) }
        }
    }
}
