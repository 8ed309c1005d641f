import Foundation
import Testing

@testable import Concord

/// Members of one cluster in separate member directories (`ReplicaNode`), joined here by one
/// manual-mode `Network` as they are joined by NATS between processes.
@Suite struct ReplicaNodeTests {
    let likes = Key<PNCounter>("likes", bucket: "posts")

    func makeMembers(in root: URL, count: Int, configuration: Configuration = Configuration(durability: .noSync))
        throws -> [URL]
    {
        let ids = (1...count).map { ReplicaID(UInt64($0)) }
        return try ids.map { id in
            let url = root.appendingPathComponent("member-\(id.rawValue)")
            let manifest = try ReplicaNode.createDirectory(
                at: url, clusterName: "orders-eu", replica: id, members: ids, configuration: configuration)
            #expect(manifest.hosting == ClusterManifest.Hosting(clusterName: "orders-eu", replica: id))
            #expect(manifest.formatVersion == ClusterManifest.memberDirectoryFormatVersion)
            return url
        }
    }

    @Test func membersInSeparateDirectoriesConverge() throws {
        try withTemporaryDirectory { root in
            let urls = try makeMembers(in: root, count: 3)
            let network = Network(configuration: Configuration())
            var nodes = try urls.map { try ReplicaNode(directory: $0, encryption: nil, transport: network) }
            for (index, node) in nodes.enumerated() {
                try node.replica.update(likes, .increment(Int64(index + 1)))
            }
            try network.synchronize()
            let digests = try nodes.map { try $0.replica.digest() }
            for node in nodes { #expect(try node.replica.read(likes) == 6) }
            #expect(Set(digests.map(\.hex)).count == 1)
            #expect(digests[0].objects == 1)

            // A second opening of a running member is refused; a reopened one has a new
            // incarnation and catches up with what it missed.
            #expect(throws: ConcordError.self) {
                _ = try ReplicaNode(directory: urls[0], encryption: nil, transport: network)
            }
            let before = nodes[2].manifest.incarnation(of: ReplicaID(3)) ?? 0
            nodes[2].close()
            try nodes[0].replica.update(likes, .decrement(10))
            try network.synchronize()
            nodes[2] = try ReplicaNode(directory: urls[2], encryption: nil, transport: network)
            #expect((nodes[2].manifest.incarnation(of: ReplicaID(3)) ?? 0) > before)
            try network.synchronize()
            #expect(try nodes[2].replica.read(likes) == -4)
            let digest = try nodes[1].replica.digest()
            for node in nodes { node.close() }
            network.shutDown()

            // A reader sees the member's store (from another process it does so while the node
            // runs: `make test-cluster`), and only that member.
            let reader = try ClusterReader(directory: urls[1])
            #expect(reader.manifest.hostedMemberIDs == [ReplicaID(2)])
            #expect(try reader.read(likes, at: ReplicaID(2)) == -4)
            #expect(try reader.digest() == digest)
            #expect(reader.status().map(\.replica) == [ReplicaID(2)])
            #expect(reader.verify().isIntact)
            reader.close()
        }
    }

    @Test func aMemberDirectoryIsNotAWholeCluster() throws {
        try withTemporaryDirectory { root in
            let urls = try makeMembers(in: root, count: 2)
            let error = #expect(throws: ConcordError.self) {
                _ = try Cluster(directory: urls[0], replicas: 2)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("replica 1 of cluster orders-eu") == true)

            // A whole cluster's directory is not a member directory.
            let whole = root.appendingPathComponent("whole")
            try Cluster(directory: whole, replicas: 2).close()
            let refused = #expect(throws: ConcordError.self) {
                _ = try ReplicaNode(
                    directory: whole, encryption: nil, transport: Network(configuration: Configuration()))
            }
            #expect(refused?.code == .invalidArgument)
        }
    }

    @Test func createDirectoryRefusesBadArguments() throws {
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("m")
            let one = ReplicaID(1)
            let cases: [(String, ReplicaID, [ReplicaID], String)] = [
                ("bad name", one, [one], "cluster name"),
                ("", one, [one], "cluster name"),
                (String(repeating: "a", count: 65), one, [one], "cluster name"),
                ("c", ReplicaID(3), [one, ReplicaID(2)], "not among the members"),
                ("c", one, [one, one], "repeat an id"),
                ("c", ReplicaID(0), [ReplicaID(0), one], "start at 1"),
            ]
            for (name, replica, members, message) in cases {
                let error = #expect(throws: ConcordError.self) {
                    try ReplicaNode.createDirectory(at: url, clusterName: name, replica: replica, members: members)
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
                #expect(!FileManager.default.fileExists(atPath: url.path))
            }
            try ReplicaNode.createDirectory(at: url, clusterName: "c", replica: one, members: [one])
            let again = #expect(throws: ConcordError.self) {
                try ReplicaNode.createDirectory(at: url, clusterName: "c", replica: one, members: [one])
            }
            #expect(again?.message.contains("already holds") == true)
        }
    }

    @Test func aTamperedMemberManifestIsRefused() throws {
        try withTemporaryDirectory { root in
            let urls = try makeMembers(in: root, count: 2)
            let manifestURL = urls[0].appendingPathComponent(ClusterDirectory.manifestFileName)
            let original = try String(contentsOf: manifestURL, encoding: .utf8)
            let tampered = [
                original.replacingOccurrences(of: "\"format\" : 2", with: "\"format\" : 1"),
                original.replacingOccurrences(of: "\"replica\" : 1", with: "\"replica\" : 9"),
                original.replacingOccurrences(of: "orders-eu", with: "orders eu"),
            ]
            for text in tampered {
                #expect(text != original)
                try text.write(to: manifestURL, atomically: true, encoding: .utf8)
                let error = #expect(throws: ConcordError.self) { _ = try ClusterDirectory.readManifest(at: urls[0]) }
                #expect(error?.code == .corrupted, "\(text)")
            }
        }
    }
}
