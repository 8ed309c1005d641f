import Foundation
import Testing

@testable import Concord

@Suite struct ClusterDirectoryTests {
    // MARK: Helpers

    /// Every entry under `url`, by relative path, with the bytes of each file (`nil` for a
    /// folder): what a call that must not write is compared against.
    func snapshot(of url: URL) throws -> [String: Data?] {
        var entries: [String: Data?] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: url.path) else { return entries }
        while let name = enumerator.nextObject() as? String {
            let path = url.appendingPathComponent(name).path
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let bytes: Data? = isDirectory.boolValue ? nil : try Data(contentsOf: URL(fileURLWithPath: path))
            entries[name] = .some(bytes)
        }
        return entries
    }

    func names(in url: URL) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: url.path))
    }

    func manifestURL(_ url: URL) -> URL {
        url.appendingPathComponent(ClusterDirectory.manifestFileName)
    }

    /// Lays out a directory as the previous build left it: `replica-1/`, `replica-2/`,
    /// `incarnation-1` holding 3, and replica 3 removed.
    func makeLegacyDirectory(at url: URL) throws {
        for id in [1, 2] {
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("replica-\(id)"), withIntermediateDirectories: true)
            try Data("data of replica \(id)".utf8).write(to: url.appendingPathComponent("replica-\(id)/data.mdb"))
        }
        try Data("3\n".utf8).write(to: url.appendingPathComponent("incarnation-1"))
        try Data().write(to: url.appendingPathComponent("removed-replica-3"))
    }

    /// Rewrites the manifest of `url` through `edit` on its JSON object.
    func editManifest(at url: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: manifestURL(url))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: manifestURL(url))
    }

    /// Expects both `open` and `readManifest` to refuse `url` with `code`, to name `url` in
    /// their messages, and to leave the directory as it was.
    func expectRefusal(of url: URL, _ code: ConcordError.Code, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let before = try snapshot(of: url)
        let opening = #expect(throws: ConcordError.self, sourceLocation: sourceLocation) {
            try ClusterDirectory.open(at: url, creating: Configuration())
        }
        let reading = #expect(throws: ConcordError.self, sourceLocation: sourceLocation) {
            try ClusterDirectory.readManifest(at: url)
        }
        for error in [opening, reading] {
            #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
            #expect(
                error?.message.contains(url.path) == true, "\(String(describing: error))",
                sourceLocation: sourceLocation)
            #expect(error?.message.contains("\n") == false, sourceLocation: sourceLocation)
        }
        #expect(try snapshot(of: url) == before, "a refused directory must not change", sourceLocation: sourceLocation)
    }

    // MARK: Creating and reopening

    @Test func aNewDirectoryGetsAnEmptyManifestThatReopensEqual() throws {
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("parent/cluster")
            let configuration = Configuration(durability: .noSync, seed: 7)
            let before = Date()
            let directory = try ClusterDirectory.open(at: url, creating: configuration)
            let manifest = directory.manifest
            #expect(manifest.formatVersion == ClusterManifest.currentFormatVersion)
            #expect(manifest.members.isEmpty)
            #expect(manifest.removed.isEmpty)
            #expect(manifest.epoch == 0)
            #expect(manifest.configuration == configuration)
            #expect(manifest.nextReplicaID == 1)
            #expect(abs(manifest.createdAt.timeIntervalSince(before)) < 60)
            #expect(try names(in: url) == [ClusterDirectory.manifestFileName])

            let reopened = try ClusterDirectory.open(at: url, creating: Configuration(seed: 99))
            #expect(reopened.manifest == manifest, "reopening keeps the configuration the cluster was made with")
            #expect(try ClusterDirectory.readManifest(at: url) == manifest)
        }
    }

    @Test(arguments: [
        Configuration(),
        Configuration(
            durability: .noSyncWriteMap, deliveryMode: .background(latencyMicroseconds: 250), seed: .max,
            deltaIntervalTransactions: 3, deltaIntervalMicroseconds: 7, maximumIntervalEntries: 11,
            antiEntropyIntervalMicroseconds: 13, logBound: 17, causalBufferBound: 19, latencyMicroseconds: 23...29,
            readTimeoutMicroseconds: 31, mapSizeBytes: 1 << 20, maximumMapSizeBytes: .max),
        Configuration(
            durability: .noSync, deliveryMode: .background(latencyMicroseconds: 0), latencyMicroseconds: 5...5),
    ])
    func everyConfigurationFieldRoundTrips(_ configuration: Configuration) throws {
        try withTemporaryDirectory { url in
            let created = try ClusterDirectory.open(at: url, creating: configuration)
            #expect(try ClusterDirectory.readManifest(at: url).configuration == configuration)
            #expect(try ClusterDirectory.readManifest(at: url) == created.manifest)
        }
    }

    @Test func theFileIsPrettyJSONWithAKindAndAFormat() throws {
        try withTemporaryDirectory { url in
            var directory = try ClusterDirectory.open(at: url, creating: Configuration())
            try directory.addMember(1, incarnation: 2)
            let text = try String(contentsOf: manifestURL(url), encoding: .utf8)
            #expect(text.contains("\"kind\" : \"concord-cluster-manifest\""))
            #expect(text.contains("\"format\" : 1"))
            #expect(text.contains("\"durability\" : \"full\""))
            #expect(text.hasSuffix("}\n"))
            #expect(text.split(separator: "\n").count > 10, "one field a line, for operators")
        }
    }

    @Test func aLeftoverTemporaryFileCountsAsEmpty() throws {
        try withTemporaryDirectory { url in
            try Data("half a manif".utf8).write(to: url.appendingPathComponent("cluster-manifest.json.tmp"))
            let directory = try ClusterDirectory.open(at: url, creating: Configuration())
            #expect(directory.manifest.members.isEmpty)
            #expect(try ClusterDirectory.readManifest(at: url) == directory.manifest)
            #expect(try names(in: url) == [ClusterDirectory.manifestFileName], "the rename consumed the leftover")
        }
    }

    // MARK: Changes

    @Test func everyChangeSurvivesReopening() throws {
        try withTemporaryDirectory { url in
            var directory = try ClusterDirectory.open(at: url, creating: Configuration())
            try directory.addMember(2)
            try directory.addMember(1, incarnation: 5)
            #expect(
                try ClusterDirectory.readManifest(at: url).members == [
                    .init(id: 1, incarnation: 5), .init(id: 2, incarnation: 0),
                ])

            try directory.recordIncarnation(6, of: 1)
            #expect(try ClusterDirectory.readManifest(at: url).incarnation(of: 1) == 6)

            try directory.removeMember(2)
            let read = try ClusterDirectory.readManifest(at: url)
            #expect(read.memberIDs == [1])
            #expect(read.removed == [2])
            #expect(read.epoch == 1)
            #expect(read.nextReplicaID == 3, "a removed id is never reused")

            try directory.addMember(read.nextReplicaID)
            try directory.removeMember(1)
            let reopened = try ClusterDirectory.open(at: url, creating: Configuration())
            #expect(reopened.manifest == directory.manifest)
            #expect(reopened.manifest.memberIDs == [3])
            #expect(reopened.manifest.removed == [1, 2])
            #expect(reopened.manifest.epoch == 2)
            #expect(reopened.manifest.nextReplicaID == 4)
            #expect(try names(in: url) == [ClusterDirectory.manifestFileName], "no temporary file is left")
        }
    }

    @Test func refusedChangesChangeNothing() throws {
        try withTemporaryDirectory { url in
            var directory = try ClusterDirectory.open(at: url, creating: Configuration())
            try directory.addMember(1, incarnation: 4)
            try directory.addMember(2)
            try directory.removeMember(2)
            let manifest = directory.manifest
            let before = try snapshot(of: url)

            let changes: [(String, (inout ClusterDirectory) throws -> Void)] = [
                ("add a member again", { try $0.addMember(1) }),
                ("add a removed replica again", { try $0.addMember(2) }),
                ("add the replica UInt64.max", { try $0.addMember(ReplicaID(.max)) }),
                ("remove a removed replica", { try $0.removeMember(2) }),
                ("remove a stranger", { try $0.removeMember(9) }),
                ("lower an incarnation", { try $0.recordIncarnation(3, of: 1) }),
                ("record the incarnation of a removed replica", { try $0.recordIncarnation(5, of: 2) }),
            ]
            for (name, change) in changes {
                var attempt = directory
                let error = #expect(throws: ConcordError.self, "\(name)") { try change(&attempt) }
                #expect(error?.code == .invalidArgument, "\(name): \(String(describing: error))")
                #expect(error?.message.contains(url.path) ?? false || error?.message.contains("out of range") ?? false)
                #expect(attempt.manifest == manifest, "\(name)")
            }
            try directory.recordIncarnation(4, of: 1)
            #expect(try snapshot(of: url) == before, "refused and idempotent changes write nothing")
        }
    }

    @Test func aFailedWriteChangesNothing() throws {
        try withTemporaryDirectory { url in
            var directory = try ClusterDirectory.open(at: url, creating: Configuration())
            try directory.addMember(1)
            let manifest = directory.manifest
            // A folder in the way of the temporary file makes the write fail before the rename.
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("cluster-manifest.json.tmp"), withIntermediateDirectories: false)
            let error = #expect(throws: ConcordError.self) { try directory.removeMember(1) }
            #expect(error?.code == .storage)
            #expect(error?.message.contains(url.path) == true)
            #expect(directory.manifest == manifest)
            #expect(try ClusterDirectory.readManifest(at: url) == manifest)
        }
    }

    // MARK: Migrating the loose files of the previous build

    @Test func migratesTheLooseFilesOfThePreviousBuild() throws {
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            let configuration = Configuration(durability: .noSync, seed: 42)
            let directory = try ClusterDirectory.open(at: url, creating: configuration)
            let manifest = directory.manifest
            #expect(manifest.members == [.init(id: 1, incarnation: 3), .init(id: 2, incarnation: 0)])
            #expect(manifest.removed == [3])
            #expect(manifest.epoch == 1)
            #expect(manifest.nextReplicaID == 4)
            #expect(manifest.configuration == configuration)
            #expect(try names(in: url) == ["replica-1", "replica-2", ClusterDirectory.manifestFileName])
            #expect(
                try Data(contentsOf: url.appendingPathComponent("replica-1/data.mdb")) == Data("data of replica 1".utf8)
            )

            #expect(try ClusterDirectory.readManifest(at: url) == manifest)
            #expect(try ClusterDirectory.open(at: url, creating: Configuration()).manifest == manifest)
        }
    }

    @Test func migrationKeepsTheIdOfAReplicaWhoseFolderIsGone() throws {
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            try Data("8\n".utf8).write(to: url.appendingPathComponent("incarnation-5"))
            // Removed, but its folder was not deleted yet: the marker is written first.
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("replica-3"), withIntermediateDirectories: false)
            let manifest = try ClusterDirectory.open(at: url, creating: Configuration()).manifest
            #expect(manifest.memberIDs == [1, 2])
            #expect(manifest.removed == [3, 5])
            #expect(manifest.epoch == 2)
            #expect(manifest.nextReplicaID == 6)
        }
    }

    @Test func migrationRefusesAnUnreadableIncarnationFile() throws {
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            try Data("three\n".utf8).write(to: url.appendingPathComponent("incarnation-2"))
            let before = try snapshot(of: url)
            let error = #expect(throws: ConcordError.self) {
                try ClusterDirectory.open(at: url, creating: Configuration())
            }
            #expect(error?.code == .corrupted)
            #expect(error?.message.contains(url.appendingPathComponent("incarnation-2").path) == true)
            #expect(try snapshot(of: url) == before)
            let reading = #expect(throws: ConcordError.self) { try ClusterDirectory.readManifest(at: url) }
            #expect(reading?.code == .formatVersionMismatch, "not migrated yet")
        }
    }

    @Test func anInterruptedMigrationIsFinishedOnOpen() throws {
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            let loose = try snapshot(of: url).filter { !$0.key.hasPrefix("replica-") }
            let manifest = try ClusterDirectory.open(at: url, creating: Configuration()).manifest
            // As if the process died after writing the manifest, before deleting the loose files.
            for case (let name, let bytes?) in loose {
                try bytes.write(to: url.appendingPathComponent(name))
            }
            #expect(try ClusterDirectory.readManifest(at: url) == manifest)
            #expect(try ClusterDirectory.open(at: url, creating: Configuration()).manifest == manifest)
            #expect(try names(in: url) == ["replica-1", "replica-2", ClusterDirectory.manifestFileName])
        }
    }

    @Test func looseFilesThatContradictTheManifestAreRefused() throws {
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            _ = try ClusterDirectory.open(at: url, creating: Configuration())
            // An earlier build, which ignores the manifest, removed replica 2 since.
            try Data().write(to: url.appendingPathComponent("removed-replica-2"))
            try expectRefusal(of: url, .corrupted)
        }
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            _ = try ClusterDirectory.open(at: url, creating: Configuration())
            try Data("9\n".utf8).write(to: url.appendingPathComponent("incarnation-1"))
            try expectRefusal(of: url, .corrupted)
        }
    }

    // MARK: Refusals

    @Test func aTruncatedOrGarbageManifestIsCorrupted() throws {
        for damage in [
            { (bytes: Data) in bytes.prefix(bytes.count / 2) },
            { (_: Data) in Data() },
            { (_: Data) in Data([0, 0, 0, 0, 0, 0, 0, 0]) },
            { (_: Data) in Data("not json at all".utf8) },
        ] {
            try withTemporaryDirectory { url in
                var directory = try ClusterDirectory.open(at: url, creating: Configuration())
                try directory.addMember(1)
                let bytes = try Data(contentsOf: manifestURL(url))
                try damage(bytes).write(to: manifestURL(url))
                try expectRefusal(of: url, .corrupted)
            }
        }
    }

    @Test func aManifestMissingAFieldOrWithAWrongTypeIsCorrupted() throws {
        for edit in [
            { (object: inout [String: Any]) in object["epoch"] = nil },
            { (object: inout [String: Any]) in object["members"] = "1, 2" },
            { (object: inout [String: Any]) in object["format"] = "one" },
            { (object: inout [String: Any]) in object["format"] = nil },
            { (object: inout [String: Any]) in object["epoch"] = -1 },
        ] {
            try withTemporaryDirectory { url in
                _ = try ClusterDirectory.open(at: url, creating: Configuration())
                try editManifest(at: url, edit)
                try expectRefusal(of: url, .corrupted)
            }
        }
    }

    @Test func anInconsistentManifestIsCorrupted() throws {
        for edit in [
            // A member listed twice.
            { (object: inout [String: Any]) in
                object["members"] = [["id": 1, "incarnation": 1], ["id": 1, "incarnation": 2]]
            },
            // A member also listed as removed.
            { (object: inout [String: Any]) in
                object["members"] = [["id": 1, "incarnation": 1]]
                object["removed"] = [1]
                object["epoch"] = 1
            },
            // A removed replica listed twice.
            { (object: inout [String: Any]) in
                object["removed"] = [2, 2]
                object["epoch"] = 2
            },
            // An epoch below the number removed.
            { (object: inout [String: Any]) in
                object["removed"] = [2, 3]
                object["epoch"] = 1
            },
            // Configuration values no `Configuration` holds.
            { (object: inout [String: Any]) in
                var configuration = object["configuration"] as! [String: Any]
                configuration["durability"] = "fast"
                object["configuration"] = configuration
            },
            { (object: inout [String: Any]) in
                var configuration = object["configuration"] as! [String: Any]
                configuration["logBound"] = 0
                object["configuration"] = configuration
            },
            { (object: inout [String: Any]) in
                var configuration = object["configuration"] as! [String: Any]
                configuration["latencyMicroseconds"] = ["lowerBound": 9, "upperBound": 3]
                object["configuration"] = configuration
            },
            { (object: inout [String: Any]) in
                var configuration = object["configuration"] as! [String: Any]
                configuration["deliveryMode"] = ["mode": "background"]
                object["configuration"] = configuration
            },
        ] {
            try withTemporaryDirectory { url in
                _ = try ClusterDirectory.open(at: url, creating: Configuration())
                try editManifest(at: url, edit)
                try expectRefusal(of: url, .corrupted)
            }
        }
    }

    @Test func anIdThatWouldMakeTheNextIdOverflowIsCorrupted() throws {
        try withTemporaryDirectory { url in
            var directory = try ClusterDirectory.open(at: url, creating: Configuration())
            try directory.addMember(5)
            let text = try String(contentsOf: manifestURL(url), encoding: .utf8)
            #expect(text.contains("\"id\" : 5,"))
            try Data(text.replacingOccurrences(of: "\"id\" : 5,", with: "\"id\" : \(UInt64.max),").utf8)
                .write(to: manifestURL(url))
            try expectRefusal(of: url, .corrupted)
            let error = #expect(throws: ConcordError.self) { try ClusterDirectory.readManifest(at: url) }
            #expect(error?.message.contains("out of range") == true)
        }
    }

    @Test func aManifestOfANewerFormatIsRefusedAsSuch() throws {
        try withTemporaryDirectory { url in
            _ = try ClusterDirectory.open(at: url, creating: Configuration())
            // A newer format may change any other field: only `kind` and `format` are read.
            try editManifest(at: url) { object in
                object["format"] = 3
                object["members"] = ["a shape this build does not know"]
            }
            try expectRefusal(of: url, .formatVersionMismatch)
            let error = #expect(throws: ConcordError.self) { try ClusterDirectory.readManifest(at: url) }
            #expect(error?.message.contains("format version 3") == true)
            #expect(error?.message.contains("reads versions 1 and 2") == true)
            #expect(error?.message.contains("newer Concord build") == true)
        }
    }

    @Test func anotherJSONFileIsNotTakenForAManifest() throws {
        for json in [#"{"format": 1, "members": []}"#, #"{"kind": "something-else", "format": 1}"#, "[1, 2]", "7"] {
            try withTemporaryDirectory { url in
                try Data(json.utf8).write(to: manifestURL(url))
                try expectRefusal(of: url, .invalidArgument)
            }
        }
    }

    @Test func aDirectoryOfUnrelatedFilesIsNotAdopted() throws {
        try withTemporaryDirectory { url in
            try Data("my notes".utf8).write(to: url.appendingPathComponent("notes.txt"))
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("photos"), withIntermediateDirectories: false)
            try Data().write(to: url.appendingPathComponent("replica-01"))
            try expectRefusal(of: url, .invalidArgument)
        }
    }

    @Test func anEntryOfTheWrongTypeIsRefused() throws {
        try withTemporaryDirectory { url in
            try Data().write(to: url.appendingPathComponent("replica-1"))
            try expectRefusal(of: url, .invalidArgument)
        }
        try withTemporaryDirectory { url in
            try FileManager.default.createDirectory(at: manifestURL(url), withIntermediateDirectories: false)
            try expectRefusal(of: url, .invalidArgument)
        }
    }

    @Test func aFileIsNotADirectory() throws {
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("file")
            try Data("x".utf8).write(to: url)
            let error = #expect(throws: ConcordError.self) {
                try ClusterDirectory.open(at: url, creating: Configuration())
            }
            #expect(error?.code == .invalidArgument)
            #expect(try Data(contentsOf: url) == Data("x".utf8))
        }
    }

    // MARK: Reading from another process

    @Test func readingNeverWrites() throws {
        try withTemporaryDirectory { url in
            try makeLegacyDirectory(at: url)
            let before = try snapshot(of: url)
            let error = #expect(throws: ConcordError.self) { try ClusterDirectory.readManifest(at: url) }
            #expect(error?.code == .formatVersionMismatch)
            #expect(error?.message.contains(url.path) == true)
            #expect(try snapshot(of: url) == before, "reading must not migrate")
        }
        try withTemporaryDirectory { url in
            let error = #expect(throws: ConcordError.self) { try ClusterDirectory.readManifest(at: url) }
            #expect(error?.code == .invalidArgument)
            let names = try names(in: url)
            #expect(names.isEmpty, "reading must not create a manifest")
        }
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("missing")
            let error = #expect(throws: ConcordError.self) { try ClusterDirectory.readManifest(at: url) }
            #expect(error?.code == .invalidArgument)
            #expect(!FileManager.default.fileExists(atPath: url.path), "reading must not create the directory")
        }
    }
}
