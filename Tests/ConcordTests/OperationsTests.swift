import Concord
import Foundation
import Testing

/// Backup, verify, restore, compaction, garbage collection, health, the owner's lock and
/// reading a directory without owning it.
@Suite struct OperationsTests {
    let likes = Key<PNCounter>("likes", bucket: "posts")
    let tags = Key<AWSet<String>>("tags", bucket: "posts")

    // MARK: The owner's lock

    @Test func aSecondOwnerIsRefusedNamingTheProcessAndTheDirectoryReopensAfterClose() throws {
        try withTemporaryDirectory { url in
            let cluster = try Cluster(directory: url, replicas: 2)
            let error = try #require(throws: ConcordError.self) { _ = try Cluster(directory: url, replicas: 2) }
            #expect(error.code == .directoryInUse)
            #expect(error.message.contains("process \(getpid())"))
            cluster.close()
            let again = try Cluster(directory: url, replicas: 2)
            again.close()
        }
    }

    @Test func aReaderInTheOwningProcessIsToldToUseTheCluster() throws {
        try withCluster { cluster in
            let reader = try ClusterReader(directory: cluster.directory)
            let error = try #require(throws: ConcordError.self) { try reader.read(likes, at: cluster.replicas[0].id) }
            #expect(error.code == .directoryInUse)
        }
    }

    @Test func aReaderSeesValuesStatusAndAnIntactStoreOfAClosedCluster() throws {
        try withTemporaryDirectory { url in
            do {
                let cluster = try Cluster(directory: url, replicas: 3)
                try cluster.replicas[0].update(likes, .increment(5))
                try cluster.replicas[1].update(tags, .add("swift"))
                try cluster.synchronize()
                cluster.close()
            }
            let reader = try ClusterReader(directory: url)
            #expect(reader.owner == nil)
            #expect(try reader.read(likes, at: 3) == 5)
            #expect(try reader.read(tags, at: 1) == ["swift"])
            let status = reader.status()
            #expect(status.map(\.replica) == [1, 2, 3])
            #expect(status.allSatisfy { $0.clock == [1: 1, 2: 1] && $0.objects == 2 && $0.hasStore })
            let report = reader.verify()
            #expect(report.isIntact, "\(report.allProblems)")
            #expect(report.replicas.map(\.objects) == [2, 2, 2])
            #expect(try reader.objects(at: 2, bucket: "posts").map(\.name) == ["likes", "tags"])
            let dump = try reader.dumpState(replica: 2)
            #expect(dump.map(\.typeName).sorted() == ["AWSet<String>", "PNCounter"])
            #expect(dump.first { $0.name == "tags" }?.value == .array([.string("swift")]))
            #expect(dump.first { $0.name == "tags" }?.metadata != .null)
            #expect(try reader.dumpState().count == 6)
            #expect(reader.health().state == .healthy)
        }
    }

    @Test func aDirectoryThatIsNotAClusterIsRefusedByTheReader() throws {
        try withTemporaryDirectory { url in
            try Data("hello".utf8).write(to: url.appendingPathComponent("notes.txt"))
            let error = try #require(throws: ConcordError.self) { _ = try ClusterReader(directory: url) }
            #expect(error.code == .invalidArgument)
        }
    }

    // MARK: Backups

    @Test func aBackupVerifiesListsAndDetectsAFlippedByte() throws {
        try withTemporaryDirectory { root in
            let backups = root.appendingPathComponent("backups")
            let cluster = try Cluster(directory: root.appendingPathComponent("cluster"), replicas: 3)
            defer { cluster.close() }
            for i in 0..<50 { try cluster.replicas[i % 3].update(likes, .increment(1)) }
            try cluster.synchronize()
            let taken = try cluster.backup(to: backups, name: "first", comment: "before the test")
            #expect(taken.members.map(\.id) == [1, 2, 3])
            #expect(taken.members.allSatisfy { $0.vectorClock.total == 50 && $0.objects == 1 })
            #expect(taken.comment == "before the test")
            let store = Backups(directory: backups)
            #expect(try store.verify("first").isIntact)
            let second = try cluster.backup(to: backups)
            #expect(second.name.hasPrefix("backup-"))
            let duplicate = try #require(throws: ConcordError.self) { try cluster.backup(to: backups, name: "first") }
            #expect(duplicate.code == .invalidArgument)
            #expect(try store.list().map(\.name) == ["first", second.name])
            let statistics = try store.statistics()
            #expect(statistics.count == 2 && statistics.damaged.isEmpty)
            #expect(statistics.totalBytes == taken.totalBytes + second.totalBytes)

            // A flipped byte anywhere in a copy is found.
            let file = backups.appendingPathComponent("first/replica-2/data.mdb")
            var bytes = try Data(contentsOf: file)
            bytes[bytes.count / 2] ^= 0x5A
            try bytes.write(to: file)
            let report = try store.verify("first")
            #expect(!report.isIntact)
            #expect(report.allProblems.contains { $0.contains("replica-2/data.mdb") && $0.contains("SHA-256") })
            // And restoring it is refused, changing nothing.
            let target = root.appendingPathComponent("restored")
            let refused = try #require(throws: ConcordError.self) { try store.restore("first", to: target) }
            #expect(refused.code == .corrupted)
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test func cleanupKeepsTheNewestAndNeverTheLastOne() throws {
        try withTemporaryDirectory { root in
            let backups = root.appendingPathComponent("backups")
            let cluster = try Cluster(directory: root.appendingPathComponent("cluster"), replicas: 1)
            defer { cluster.close() }
            for name in ["a", "b", "c", "d"] {
                try cluster.replicas[0].update(likes, .increment(1))
                try cluster.backup(to: backups, name: name)
            }
            let store = Backups(directory: backups)
            #expect(try store.cleanup(keeping: 2) == ["a", "b"])
            #expect(try store.list().map(\.name) == ["c", "d"])
            // An age limit that every backup exceeds still leaves the newest.
            #expect(try store.cleanup(maximumAge: 0, now: Date().addingTimeInterval(60)) == ["c"])
            #expect(try store.list().map(\.name) == ["d"])
            #expect(throws: ConcordError.self) { try store.cleanup(keeping: -1) }
        }
    }

    @Test func aWholeClusterRestoresAsOfItsBackupAndAcceptsWritesOnceItsReplicasReported() throws {
        try withTemporaryDirectory { root in
            let backups = root.appendingPathComponent("backups")
            let cluster = try Cluster(
                directory: root.appendingPathComponent("cluster"), replicas: 3,
                configuration: Configuration(durability: .noSync))
            try cluster.replicas[0].update(likes, .increment(2))
            try cluster.replicas[1].update(tags, .add("kept"))
            try cluster.synchronize()
            // Not yet delivered when the backup is taken: replica 3 has it, the others not.
            try cluster.replicas[2].update(likes, .increment(40))
            let taken = try cluster.backup(to: backups, name: "snapshot")
            try cluster.replicas[0].update(tags, .add("after the backup"))
            try cluster.synchronize()
            cluster.close()

            let target = root.appendingPathComponent("restored")
            let report = try Backups(directory: backups).restore("snapshot", to: target)
            #expect(report.replicas == [1, 2, 3] && report.replacedMovedTo == nil)
            let restored = try Cluster(
                directory: target, replicas: 3, configuration: Configuration(durability: .noSync))
            defer { restored.close() }
            #expect(restored.replicas.allSatisfy { $0.status().isBootstrapping })
            try restored.synchronize()
            for replica in restored.replicas {
                #expect(!replica.status().isBootstrapping)
                #expect(try replica.read(likes) == 42)
                #expect(try replica.read(tags) == ["kept"])
            }
            // Replica 3's own transaction (3, 1) is kept, so its next write takes (3, 2).
            #expect(try restored.replicas[2].update(likes, .increment(1)) == [1: 1, 2: 1, 3: 2])
            try restored.synchronize()
            for replica in restored.replicas { #expect(try replica.read(likes) == 43) }
            _ = taken

            // Restoring over an existing cluster needs `replacing`, and moves it aside.
            let refused = try #require(throws: ConcordError.self) {
                try Backups(directory: backups).restore("snapshot", to: root.appendingPathComponent("cluster"))
            }
            #expect(refused.code == .invalidArgument)
            let replaced = try Backups(directory: backups).restore(
                "snapshot", to: root.appendingPathComponent("cluster"), replacing: true)
            let aside = try #require(replaced.replacedMovedTo)
            #expect(FileManager.default.fileExists(atPath: aside.appendingPathComponent("cluster-manifest.json").path))
        }
    }

    @Test func oneReplicaRestoredFromAnOlderBackupCatchesUpAndNothingAPeerHoldsIsLost() throws {
        try withTemporaryDirectory { root in
            let backups = root.appendingPathComponent("backups")
            let cluster = try Cluster(directory: root.appendingPathComponent("cluster"), replicas: 3)
            defer { cluster.close() }
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(tags, .add("x"))
            try cluster.synchronize()
            try cluster.backup(to: backups, name: "old")
            // Later work: a's own transactions too, which only its peers will still hold.
            try a.update(tags, .add("z"))
            try b.update(tags, .add("y"))
            try cluster.synchronize()
            for _ in 0..<3 { _ = try cluster.collectGarbage() }
            let incarnation = cluster.manifest.members[0].incarnation

            let report = try cluster.restore(replica: a.id, fromBackupAt: backups.appendingPathComponent("old"))
            #expect(report.replicas == [a.id])
            #expect(cluster.manifest.members[0].incarnation > incarnation)
            #expect(try a.read(tags) == ["x"])
            #expect(a.status().isBootstrapping)
            // Meanwhile it writes under its incarnation's writer id; remove-wins sets wait.
            let writer = try a.writer
            #expect(try a.update(tags, .add("meanwhile"))[writer] == 1)
            #expect(throws: ConcordError.self) { try a.update(Key<RWSet<String>>("flags"), .add("too early")) }
            try cluster.synchronize()
            #expect(!a.status().isBootstrapping)
            #expect(try a.read(tags) == ["meanwhile", "x", "y", "z"])
            // a's next transaction does not reuse (a, 2), which its peers hold.
            #expect(try a.update(tags, .add("w"))[a.id] == 3)
            try cluster.synchronize()
            for replica in cluster.replicas {
                #expect(try replica.read(tags) == ["meanwhile", "w", "x", "y", "z"])
            }
            let aside = try #require(report.replacedMovedTo)
            #expect(FileManager.default.fileExists(atPath: aside.appendingPathComponent("data.mdb").path))
        }
    }

    @Test func oneReplicaRestoresOfflineAndABackupOfAnotherClusterIsRefused() throws {
        try withTemporaryDirectory { root in
            let backups = root.appendingPathComponent("backups")
            let url = root.appendingPathComponent("cluster")
            do {
                let cluster = try Cluster(directory: url, replicas: 2)
                try cluster.replicas[0].update(likes, .increment(1))
                try cluster.synchronize()
                try cluster.backup(to: backups, name: "mine")
                try cluster.replicas[1].update(likes, .increment(10))
                try cluster.synchronize()
                // Offline restore needs the directory: refused while the cluster owns it.
                let busy = try #require(throws: ConcordError.self) {
                    try Backups(directory: backups).restore("mine", to: url, replica: 1)
                }
                #expect(busy.code == .directoryInUse)
                cluster.close()
            }
            _ = try Backups(directory: backups).restore("mine", to: url, replica: 1)
            let cluster = try Cluster(directory: url, replicas: 2)
            defer { cluster.close() }
            try cluster.synchronize()
            for replica in cluster.replicas { #expect(try replica.read(likes) == 11) }

            let other = root.appendingPathComponent("other")
            let stranger = try Cluster(directory: other, replicas: 2)
            try stranger.backup(to: backups, name: "theirs")
            stranger.close()
            let refused = try #require(throws: ConcordError.self) {
                try cluster.restore(replica: 1, fromBackupAt: backups.appendingPathComponent("theirs"))
            }
            #expect(refused.code == .invalidArgument)
            #expect(cluster.replicas[0].isRunning)
        }
    }

    // MARK: Maintenance

    @Test func compactionShrinksTheFileAndKeepsEveryValue() throws {
        try withCluster(replicas: 2) { cluster in
            let a = cluster.replicas[0]
            for i in 0..<400 {
                try a.update(Key<LWWRegister<String>>("k\(i)"), .assign(String(repeating: "v", count: 500)))
            }
            for i in 0..<400 where i % 4 != 0 {
                try a.update(Key<LWWRegister<String>>("k\(i)"), .assign("short"))
            }
            try cluster.synchronize()
            _ = try cluster.collectGarbage()
            let results = try cluster.compact()
            #expect(results.count == 2)
            #expect(results.allSatisfy { $0.bytesAfter <= $0.bytesBefore })
            #expect(results.contains { $0.bytesAfter < $0.bytesBefore })
            let dump = try cluster.dumpState(replica: a.id)
            #expect(dump.count == 400 && dump.allSatisfy { $0.replica == a.id })
            #expect(try cluster.dumpState().count == 800)
            #expect(throws: ConcordError.self) { try cluster.dumpState(replica: 9) }
            #expect(try a.read(Key<LWWRegister<String>>("k1")) == "short")
            #expect(try a.read(Key<LWWRegister<String>>("k0"))?.count == 500)
            try a.update(likes, .increment(1))
            try cluster.synchronize()
            #expect(try cluster.replicas[1].read(likes) == 1)
            #expect(cluster.verify().isIntact)
        }
    }

    @Test func garbageCollectionNowEmptiesTheLogOnceEveryMemberHasIt() throws {
        try withCluster { cluster in
            let down = cluster.replicas[2].id
            try cluster.crash(down)
            for i in 0..<30 { try cluster.replicas[i % 2].update(likes, .increment(1)) }
            try cluster.synchronize()
            // The log keeps what the crashed member lacks.
            #expect(cluster.replicas[0].status().logLength > 0)
            #expect(throws: ConcordError.self) { try cluster.replicas[2].collectGarbage() }
            // Once it is removed, everything is stable: collected now, without a timer.
            try cluster.removeReplica(down)
            let results = try cluster.collectGarbage()
            #expect(results.map(\.replica) == [1, 2])
            #expect(results.allSatisfy { $0.logEntriesCollected > 0 && $0.logLength == 0 })
            #expect(cluster.replicas.allSatisfy { $0.status().logLength == 0 })
        }
    }

    @Test func healthIsDegradedWithAReplicaDownAndUnhealthyWithNone() throws {
        try withCluster(replicas: 2) { cluster in
            #expect(cluster.health().state == .healthy)
            try cluster.crash(cluster.replicas[0].id)
            let degraded = cluster.health()
            #expect(degraded.state == .degraded)
            #expect(degraded.reasons == ["replica 1 is down"])
            try cluster.crash(cluster.replicas[1].id)
            #expect(cluster.health().state == .unhealthy)
            try cluster.restart(cluster.replicas[0].id)
            try cluster.restart(cluster.replicas[1].id)
            try cluster.synchronize()
            #expect(cluster.health().state == .healthy)
            let tight = HealthThresholds(mapDegradedFraction: 0, mapUnhealthyFraction: 1)
            #expect(cluster.replicas[0].health(thresholds: tight).state == .degraded)
        }
    }
}

@Suite struct ScheduledBackupTests {
    @Test func aBackgroundClusterTakesBackupsOnScheduleAndKeepsTheNewest() throws {
        try withTemporaryDirectory { root in
            let backups = root.appendingPathComponent("backups")
            let configuration = Configuration(
                durability: .noSync, deliveryMode: .background(latencyMicroseconds: 100),
                backups: BackupSchedule(directory: backups, intervalSeconds: 0.05, keep: 2))
            let cluster = try Cluster(
                directory: root.appendingPathComponent("cluster"), replicas: 2, configuration: configuration)
            try cluster.replicas[0].update(Key<GCounter>("ticks"), .increment(1))
            var waited = 0
            while (cluster.scheduledBackups?.taken ?? 0) < 4 && waited < 400 {
                usleep(10_000)
                waited += 1
            }
            cluster.close()
            let state = try #require(cluster.scheduledBackups)
            #expect(state.taken >= 4, "\(state)")
            #expect(state.lastError == nil)
            let left = try Backups(directory: backups).list()
            #expect(left.count == 2)
            #expect(state.deleted == state.taken - 2)
            #expect(try Backups(directory: backups).verify(left[1].name).isIntact)
        }
    }

    @Test func aManualClusterRunsNoSchedule() throws {
        try withTemporaryDirectory { root in
            let configuration = Configuration(
                backups: BackupSchedule(directory: root.appendingPathComponent("backups"), intervalSeconds: 0.01))
            let cluster = try Cluster(
                directory: root.appendingPathComponent("cluster"), replicas: 1, configuration: configuration)
            defer { cluster.close() }
            #expect(cluster.scheduledBackups == nil)
        }
    }
}
