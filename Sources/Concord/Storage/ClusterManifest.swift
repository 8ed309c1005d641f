import Foundation

/// What a cluster directory records about its cluster: the format, the members and their
/// incarnations, the replicas ever removed, the membership epoch, and the configuration the
/// cluster was made with.
///
/// A manifest is a value read from `cluster-manifest.json` (see `ClusterDirectory`); every
/// manifest this module hands out has passed the checks listed on
/// `ClusterDirectory.readManifest(at:)`, so its members and removed ids are sorted and
/// disjoint and its epoch counts at least every removal.
public struct ClusterManifest: Sendable, Hashable {
    /// A member replica and the incarnation it last opened with.
    public struct Member: Sendable, Hashable {
        /// The replica's id.
        public let id: ReplicaID
        /// The incarnation the replica last opened with. A replica reopens with a higher one,
        /// so after a wipe its peers never take its new updates for old ones. 0 for a replica
        /// that has not opened yet.
        public internal(set) var incarnation: UInt64

        init(id: ReplicaID, incarnation: UInt64) {
            self.id = id
            self.incarnation = incarnation
        }
    }

    /// The format this build writes for a cluster whose members all live in one directory.
    public static let currentFormatVersion: UInt64 = 1
    /// The format of the directory of one member whose peers run in other processes (see
    /// `hosting`): version 1 plus the `hosted` field, so that a build that predates it refuses
    /// the directory instead of taking it for a whole cluster with its folders missing.
    public static let memberDirectoryFormatVersion: UInt64 = 2

    /// The member a directory holds when the cluster's other members run in other processes
    /// (`ReplicaNode`), and the name that cluster goes by on its transport.
    public struct Hosting: Sendable, Hashable {
        /// The cluster's name: letters, digits, `-` and `_` (it is part of subject and
        /// stream names).
        public let clusterName: String
        /// The member whose store the directory holds.
        public let replica: ReplicaID
    }

    /// The format version of the file this manifest was read from.
    public let formatVersion: UInt64
    /// The member replicas, sorted by id.
    public internal(set) var members: [Member]
    /// The ids of every replica ever removed, sorted. They are never reused: peers know a
    /// removed replica's updates by its id, and a new replica under that id would have its
    /// first updates taken for old ones.
    public internal(set) var removed: [ReplicaID]
    /// The membership epoch replicas put in their messages: it grows by one with every
    /// removal, so it is at least `removed.count`.
    public internal(set) var epoch: UInt64
    /// The configuration the cluster was made with (for a directory migrated from the
    /// loose files of an earlier build: the configuration it was first opened with by this one).
    public internal(set) var configuration: Configuration
    /// When the cluster was made (or migrated), in microseconds since 1970-01-01 UTC.
    public let createdAtMicroseconds: UInt64
    /// The identifier of the key its stores are encrypted with (nil: plain). `configuration`
    /// holds no key: give it (`Configuration.encryption`) to open the cluster.
    public internal(set) var encryptionKeyID: String?
    /// Whether its stores hide their object keys (`Encryption.hidesObjectKeys`): every
    /// store made later in the cluster (a wiped, restored or added replica) hides them too.
    public internal(set) var hidesObjectKeys: Bool
    /// The one member this directory holds, when the others run in other processes (nil: the
    /// directory holds every member, as a `Cluster` makes it).
    public internal(set) var hosting: Hosting? = nil

    init(
        formatVersion: UInt64 = currentFormatVersion, members: [Member], removed: [ReplicaID], epoch: UInt64,
        configuration: Configuration, createdAtMicroseconds: UInt64
    ) {
        self.formatVersion = formatVersion
        self.members = members.sorted { $0.id < $1.id }
        self.removed = removed.sorted()
        self.epoch = epoch
        self.configuration = configuration
        self.createdAtMicroseconds = createdAtMicroseconds
        encryptionKeyID = configuration.encryption?.keyID
        hidesObjectKeys = configuration.encryption?.hidesObjectKeys ?? false
    }

    /// `createdAtMicroseconds` as a `Date`.
    public var createdAt: Date {
        Date(timeIntervalSince1970: Double(createdAtMicroseconds) / 1_000_000)
    }

    /// The ids of the members, sorted.
    ///
    /// - Complexity: O(members).
    public var memberIDs: [ReplicaID] { members.map(\.id) }

    /// The members whose stores this directory holds: every member, or only the hosted one
    /// (see `hosting`).
    ///
    /// - Complexity: O(members).
    public var hostedMemberIDs: [ReplicaID] { hosting.map { [$0.replica] } ?? memberIDs }

    /// The id a new replica gets: one past the highest id ever used, by a member or a removed
    /// replica, so ids are never reused. 1 for a cluster that never had a replica.
    ///
    /// Never overflows: a manifest naming the replica `UInt64.max` is refused as damaged.
    ///
    /// - Complexity: O(1).
    public var nextReplicaID: ReplicaID {
        let highest = max(members.last?.id.rawValue ?? 0, removed.last?.rawValue ?? 0)
        return ReplicaID(highest + 1)
    }

    /// The recorded incarnation of the member `id`, or `nil` when `id` is not a member.
    ///
    /// - Complexity: O(log members).
    public func incarnation(of id: ReplicaID) -> UInt64? {
        memberIndex(of: id).map { members[$0].incarnation }
    }

    /// Whether `id` was ever used, by a member or a removed replica.
    ///
    /// - Complexity: O(log members + log removed).
    public func hasUsed(_ id: ReplicaID) -> Bool {
        memberIndex(of: id) != nil || removedIndex(of: id) != nil
    }

    func memberIndex(of id: ReplicaID) -> Int? {
        let index = members.partitioningIndex { $0.id >= id }
        return index < members.count && members[index].id == id ? index : nil
    }

    func removedIndex(of id: ReplicaID) -> Int? {
        let index = removed.partitioningIndex { $0 >= id }
        return index < removed.count && removed[index] == id ? index : nil
    }
}

extension Array {
    /// The index of the first element for which `belongsToSecondPart` holds, in an array
    /// where it holds for a suffix (binary search).
    fileprivate func partitioningIndex(where belongsToSecondPart: (Element) -> Bool) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if belongsToSecondPart(self[middle]) {
                high = middle
            } else {
                low = middle + 1
            }
        }
        return low
    }
}

// MARK: Checks

extension ClusterManifest {
    /// Throws `.corrupted` when the manifest breaks a rule every manifest keeps: no replica
    /// listed twice, none both a member and removed, an epoch of at least one per removal, no
    /// id of `UInt64.max` (so `nextReplicaID` cannot overflow). `source` names where the
    /// manifest came from, for the message.
    ///
    /// Expects `members` and `removed` sorted (the initializer sorts them).
    func check(source: String) throws(ConcordError) {
        func damaged(_ what: String) -> ConcordError {
            ConcordError(.corrupted, "\(source) is inconsistent: \(what); restore it from a backup")
        }
        for (earlier, later) in zip(members, members.dropFirst()) where earlier.id == later.id {
            throw damaged("replica \(later.id.rawValue) is listed twice as a member")
        }
        for (earlier, later) in zip(removed, removed.dropFirst()) where earlier == later {
            throw damaged("replica \(later.rawValue) is listed twice as removed")
        }
        for member in members where removedIndex(of: member.id) != nil {
            throw damaged("replica \(member.id.rawValue) is listed both as a member and as removed")
        }
        if let highest = [members.last?.id, removed.last].compactMap({ $0 }).max(), highest.rawValue == .max {
            throw damaged("replica id \(highest.rawValue) is out of range (the highest is \(UInt64.max - 1))")
        }
        guard epoch >= UInt64(removed.count) else {
            throw damaged("the epoch is \(epoch), below the \(removed.count) removed replicas")
        }
        switch (formatVersion, hosting) {
        case (Self.memberDirectoryFormatVersion, nil):
            throw damaged("it has format \(formatVersion), a member directory's, but names no hosted member")
        case (Self.currentFormatVersion, .some):
            throw damaged("it names a hosted member, which format \(formatVersion) has not")
        case (_, .some(let hosting)):
            guard memberIndex(of: hosting.replica) != nil else {
                throw damaged("its hosted replica \(hosting.replica.rawValue) is not a member")
            }
            guard Self.isValidClusterName(hosting.clusterName) else {
                throw damaged("its cluster name \"\(hosting.clusterName)\" is not 1 to 64 letters, digits, - or _")
            }
        default:
            break
        }
    }

    /// Whether `name` can name a cluster whose members run in separate processes: 1 to 64
    /// ASCII letters, digits, `-` and `_` (it becomes part of subject and stream names).
    public static func isValidClusterName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }
}

// MARK: The JSON form

/// The JSON form of a manifest. Kept apart from the public types so that they can change
/// without changing the file, and the file without changing them.
struct ClusterManifestFile: Codable {
    /// Tells a manifest from any other JSON file.
    static let kindValue = "concord-cluster-manifest"

    struct MemberRecord: Codable {
        var id: UInt64
        var incarnation: UInt64
    }

    var kind: String
    var format: UInt64
    var members: [MemberRecord]
    var removed: [UInt64]
    var epoch: UInt64
    var createdAtMicroseconds: UInt64
    var configuration: ConfigurationRecord
    /// Only in a member directory (format 2): the cluster's name and the member it holds.
    var hosted: HostedRecord?

    struct HostedRecord: Codable {
        var cluster: String
        var replica: UInt64
    }

    init(_ manifest: ClusterManifest) {
        kind = Self.kindValue
        format = manifest.formatVersion
        hosted = manifest.hosting.map { HostedRecord(cluster: $0.clusterName, replica: $0.replica.rawValue) }
        members = manifest.members.map { MemberRecord(id: $0.id.rawValue, incarnation: $0.incarnation) }
        removed = manifest.removed.map(\.rawValue)
        epoch = manifest.epoch
        createdAtMicroseconds = manifest.createdAtMicroseconds
        configuration = ConfigurationRecord(manifest.configuration)
        configuration.encryptionKeyID = manifest.encryptionKeyID
        configuration.objectKeysHidden = manifest.hidesObjectKeys ? true : nil
    }

    /// The manifest this file describes, checked; `source` names the file for messages.
    func manifest(source: String) throws(ConcordError) -> ClusterManifest {
        var manifest = ClusterManifest(
            formatVersion: format,
            members: members.map { .init(id: ReplicaID($0.id), incarnation: $0.incarnation) },
            removed: removed.map { ReplicaID($0) }, epoch: epoch,
            configuration: try configuration.configuration(source: source),
            createdAtMicroseconds: createdAtMicroseconds)
        manifest.encryptionKeyID = configuration.encryptionKeyID
        manifest.hidesObjectKeys = configuration.objectKeysHidden ?? false
        manifest.hosting = hosted.map { .init(clusterName: $0.cluster, replica: ReplicaID($0.replica)) }
        try manifest.check(source: source)
        return manifest
    }

    /// The two fields read before anything else, so that a file of another kind or of a newer
    /// format is told apart from a damaged manifest. A file whose `kind` is not ours leaves
    /// `format` unread: its shape is none of our business.
    struct Header: Decodable {
        var kind: String?
        var format: UInt64?

        enum CodingKeys: String, CodingKey {
            case kind, format
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            kind = try container.decodeIfPresent(String.self, forKey: .kind)
            if kind == ClusterManifestFile.kindValue {
                format = try container.decodeIfPresent(UInt64.self, forKey: .format)
            } else {
                format = nil
            }
        }
    }
}

/// The JSON form of a `Configuration`: every field, by its Swift name.
struct ConfigurationRecord: Codable, Equatable {
    struct DeliveryModeRecord: Codable, Equatable {
        /// `manual` or `background`.
        var mode: String
        /// Only for `background`.
        var latencyMicroseconds: UInt64?
    }

    struct RangeRecord: Codable, Equatable {
        var lowerBound: UInt64
        var upperBound: UInt64
    }

    var durability: String
    var deliveryMode: DeliveryModeRecord
    var seed: UInt64
    var deltaIntervalTransactions: Int
    var deltaIntervalMicroseconds: UInt64
    var maximumIntervalEntries: Int
    var antiEntropyIntervalMicroseconds: UInt64
    var logBound: Int
    var causalBufferBound: Int
    var latencyMicroseconds: RangeRecord
    var readTimeoutMicroseconds: UInt64
    var mapSizeBytes: Int
    var maximumMapSizeBytes: Int
    /// Absent in manifests written before it existed: the default then.
    var conflictRecordBound: Int?
    /// The identifier of the key the stores are encrypted with (nil: plain). Never the key.
    var encryptionKeyID: String?
    /// Present (true) only when the stores hide their object keys.
    var objectKeysHidden: Bool?

    init(_ configuration: Configuration) {
        durability =
            switch configuration.durability {
            case .full: "full"
            case .noSync: "noSync"
            case .noSyncWriteMap: "noSyncWriteMap"
            case .groupCommit: "groupCommit"
            }
        deliveryMode =
            switch configuration.deliveryMode {
            case .manual: DeliveryModeRecord(mode: "manual", latencyMicroseconds: nil)
            case .background(let latency): DeliveryModeRecord(mode: "background", latencyMicroseconds: latency)
            }
        seed = configuration.seed
        deltaIntervalTransactions = configuration.deltaIntervalTransactions
        deltaIntervalMicroseconds = configuration.deltaIntervalMicroseconds
        maximumIntervalEntries = configuration.maximumIntervalEntries
        antiEntropyIntervalMicroseconds = configuration.antiEntropyIntervalMicroseconds
        logBound = configuration.logBound
        causalBufferBound = configuration.causalBufferBound
        latencyMicroseconds = RangeRecord(
            lowerBound: configuration.latencyMicroseconds.lowerBound,
            upperBound: configuration.latencyMicroseconds.upperBound)
        readTimeoutMicroseconds = configuration.readTimeoutMicroseconds
        mapSizeBytes = configuration.mapSizeBytes
        maximumMapSizeBytes = configuration.maximumMapSizeBytes
        conflictRecordBound = configuration.conflictRecordBound
        encryptionKeyID = configuration.encryption?.keyID
        objectKeysHidden = configuration.encryption?.hidesObjectKeys == true ? true : nil
    }

    /// The configuration this record describes. Throws `.corrupted` for a value no
    /// `Configuration` holds (an unknown durability, an empty latency range, a bound below
    /// its least value): the initializer would quietly change it, and the record would not
    /// say what the cluster was made with.
    func configuration(source: String) throws(ConcordError) -> Configuration {
        func damaged(_ what: String) -> ConcordError {
            ConcordError(.corrupted, "\(source) holds an invalid configuration: \(what); restore it from a backup")
        }
        let durability: Durability
        switch self.durability {
        case "full": durability = .full
        case "noSync": durability = .noSync
        case "noSyncWriteMap": durability = .noSyncWriteMap
        case "groupCommit": durability = .groupCommit
        default: throw damaged("unknown durability \"\(self.durability)\"")
        }
        let deliveryMode: DeliveryMode
        switch (self.deliveryMode.mode, self.deliveryMode.latencyMicroseconds) {
        case ("manual", nil): deliveryMode = .manual
        case ("background", let latency?): deliveryMode = .background(latencyMicroseconds: latency)
        case ("manual", _): throw damaged("the manual delivery mode has a latency")
        case ("background", nil): throw damaged("the background delivery mode has no latency")
        default: throw damaged("unknown delivery mode \"\(self.deliveryMode.mode)\"")
        }
        guard latencyMicroseconds.lowerBound <= latencyMicroseconds.upperBound else {
            throw damaged(
                "latencyMicroseconds runs from \(latencyMicroseconds.lowerBound) down to \(latencyMicroseconds.upperBound)"
            )
        }
        let configuration = Configuration(
            durability: durability, deliveryMode: deliveryMode, seed: seed,
            deltaIntervalTransactions: deltaIntervalTransactions, deltaIntervalMicroseconds: deltaIntervalMicroseconds,
            maximumIntervalEntries: maximumIntervalEntries,
            antiEntropyIntervalMicroseconds: antiEntropyIntervalMicroseconds, logBound: logBound,
            causalBufferBound: causalBufferBound,
            latencyMicroseconds: latencyMicroseconds.lowerBound...latencyMicroseconds.upperBound,
            readTimeoutMicroseconds: readTimeoutMicroseconds, mapSizeBytes: mapSizeBytes,
            maximumMapSizeBytes: maximumMapSizeBytes,
            conflictRecordBound: conflictRecordBound ?? Configuration().conflictRecordBound)
        var normalized = ConfigurationRecord(configuration)
        if conflictRecordBound == nil { normalized.conflictRecordBound = nil }
        // The key itself is never recorded: the configuration read back has none.
        normalized.encryptionKeyID = encryptionKeyID
        normalized.objectKeysHidden = objectKeysHidden
        guard normalized == self else {
            let stored = Mirror(reflecting: self).children
            let changed = zip(stored, Mirror(reflecting: normalized).children).compactMap { pair in
                "\(pair.0.value)" == "\(pair.1.value)" ? nil : "\(pair.0.label ?? "?") \(pair.0.value)"
            }
            throw damaged("out of range: \(changed.joined(separator: ", "))")
        }
        return configuration
    }
}
