import Concord
import Foundation
import Testing

@Suite struct RecoveryTests {
    let counter = Key<PNCounter>("counter")
    let set = Key<AWSet<String>>("set")

    @Test("A replica crashed mid-stream restarts from disk and converges", arguments: 1...5)
    func crashAndRestart(seed: Int) throws {
        try withCluster(configuration: Configuration(durability: .noSync, seed: UInt64(seed))) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            cluster.network.faults = .init(drop: 0.1, reorder: true)
            for i in 0..<10 {
                try a.update(counter, .increment(1))
                try c.update(set, .add("c\(i)"))
                cluster.step()
                cluster.step()
            }
            let before = try c.clock
            try cluster.crash(c.id)
            #expect(throws: ConcordError.self) { try c.read(counter) }
            for _ in 0..<10 {
                try a.update(counter, .increment(1))
                try b.update(counter, .increment(2))
                cluster.step()
            }
            try cluster.restart(c.id)
            #expect(try c.clock.dominates(before), "seed \(seed): the restarted replica lost commits")
            try c.update(set, .add("after"))
            try cluster.synchronize()
            for replica in cluster.replicas {
                #expect(try replica.read(counter) == 40, "seed \(seed)")
                #expect(try replica.read(set).count == 11, "seed \(seed)")
            }
            #expect(cluster.status().isConverged)
        }
    }

    @Test(
        "A wiped replica writes at once under its incarnation's writer id, refuses remove-wins sets until it has resynced, then converges",
        arguments: 1...5)
    func wipeAndResync(seed: Int) throws {
        let flags = Key<RWSet<String>>("flags")
        try withCluster(configuration: Configuration(durability: .noSync, seed: UInt64(seed), logBound: 5)) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            for i in 0..<12 {
                try c.update(counter, .increment(1))
                try a.update(set, .add("a\(i)"))
            }
            try cluster.synchronize()
            try cluster.wipe(c.id)
            #expect(try c.read(counter) == 0)
            // Its counter entry is 12 at every peer: an increment under its own id would be
            // lost in the join. Under the writer id of this incarnation it counts.
            let writer = try c.writer
            #expect(writer != c.id && writer.description.hasPrefix("\(c.id)."), "seed \(seed)")
            #expect(try c.update(counter, .increment(1)) == [writer: 1], "seed \(seed)")
            try c.update(set, .add("c"))
            let refused = try #require(throws: ConcordError.self) { try c.update(flags, .add("x")) }
            #expect(refused.code == .bootstrapping && refused.message.contains("RWSet"), "seed \(seed)")
            try b.update(counter, .increment(5))
            try cluster.synchronize()
            #expect(!c.status().isBootstrapping)
            #expect(try c.writer == c.id)
            // Caught up, it knows its own transactions again and takes the next of its own dots.
            #expect(try c.update(counter, .increment(100))[c.id] == 13, "seed \(seed)")
            try c.update(flags, .add("x"))
            try cluster.synchronize()
            for replica in cluster.replicas {
                #expect(try replica.read(counter) == 118, "seed \(seed)")
                #expect(try replica.read(set).count == 13, "seed \(seed)")
                #expect(try replica.read(flags) == ["x"], "seed \(seed)")
                #expect(try replica.clock[writer] == 2, "seed \(seed)")
            }
            #expect(cluster.status().isConverged)
        }
    }

    @Test("With one replica down the others' logs stay within the bound; it returns and converges")
    func logBoundWithDeadReplica() throws {
        let bound = 20
        try withCluster(configuration: Configuration(durability: .noSync, logBound: bound)) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            try cluster.crash(c.id)
            for i in 0..<150 {
                try a.update(counter, .increment(1))
                try b.update(set, .add("b\(i % 40)"))
                if i % 10 == 0 { try cluster.synchronize() }
            }
            try cluster.synchronize()
            for status in cluster.status().replicas where status.isRunning {
                #expect(status.logLength <= bound, "\(status.replica) holds \(status.logLength) entries")
            }
            try cluster.restart(c.id)
            try cluster.synchronize()
            #expect(try c.read(counter) == 150)
            #expect(try c.read(set).count == 40)
            let status = cluster.status()
            #expect(status.isConverged)
            for replica in status.replicas { #expect(replica.logLength == 0) }
            #expect(status.replicas.contains { $0.statesSent > 0 }, "the returning replica needed a state transfer")
        }
    }

    @Test("A cluster reopened from its directory keeps every value, clock and id")
    func reopen() throws {
        try withTemporaryDirectory { url in
            var clocks: [VectorClock] = []
            do {
                let cluster = try Cluster(directory: url, replicas: 3, configuration: Configuration(durability: .full))
                try cluster.replicas[0].update(counter, .increment(3))
                try cluster.replicas[1].update(set, .add("kept"))
                try cluster.synchronize()
                clocks = try cluster.replicas.map { try $0.clock }
                cluster.close()
            }
            let cluster = try Cluster(directory: url, replicas: 3)
            defer { cluster.close() }
            #expect(cluster.replicas.map(\.id) == [1, 2, 3])
            #expect(try cluster.replicas.map { try $0.clock } == clocks)
            for replica in cluster.replicas {
                #expect(try replica.read(counter) == 3)
                #expect(try replica.read(set) == ["kept"])
            }
        }
    }

    @Test("A dropped cluster releases its environments so the directory reopens at once")
    func droppedClusterReopens() throws {
        try withTemporaryDirectory { url in
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 2, configuration: Configuration(durability: .noSync))
                try cluster.replicas[0].update(counter, .increment(1))
            }
            let cluster = try Cluster(directory: url, replicas: 2, configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            #expect(try cluster.replicas[0].read(counter) == 1)
        }
    }

    @Test("Added replicas catch up by state transfer; removed ones stop blocking GC")
    func membership() throws {
        try withCluster(configuration: Configuration(durability: .noSync, logBound: 10)) { cluster in
            let a = cluster.replicas[0]
            for i in 0..<30 { try a.update(set, .add("e\(i)")) }
            try cluster.synchronize()
            let d = try cluster.addReplica()
            #expect(d.id == 4)
            try cluster.synchronize()
            #expect(try d.read(set).count == 30)
            try d.update(counter, .increment(7))
            let c = cluster.replicas[2]
            try cluster.crash(c.id)
            try a.update(counter, .increment(1))
            try cluster.synchronize()
            #expect(cluster.status().replicas.first { $0.replica == a.id }!.logLength > 0, "crashed member blocks GC")
            try cluster.removeReplica(c.id)
            try cluster.synchronize()
            #expect(cluster.replicas.map(\.id) == [1, 2, 4])
            for replica in cluster.replicas {
                #expect(try replica.read(counter) == 8)
                #expect(replica.status().logLength == 0)
            }
        }
    }

    @Test("A local commit writes no clock record; the log's last entry holds the clock across a crash, GC and a reopen")
    func theClockIsTheLogsLastEntry() throws {
        try withTemporaryDirectory { url in
            let path = url.appendingPathComponent("replica-1").path
            /// The clock record as raw LMDB reads it (nil: none).
            func recordedClock() throws -> VectorClock? {
                let environment = try LMDBTestAccess.open(path)
                defer { environment.close() }
                let meta = try environment.database("meta")
                guard let bytes = try environment.read({ txn in try txn.get(Array("clock".utf8), in: meta) }) else {
                    return nil
                }
                var reader = ByteReader(bytes)
                return try VectorClock(from: &reader)
            }
            var configuration = Configuration(durability: .noSync)
            configuration.deliveryMode = .manual
            var cluster = try Cluster(directory: url, replicas: 2, configuration: configuration)
            for i in 1...5 { try cluster.replicas[0].update(counter, .increment(Int64(i))) }
            let clock = try cluster.replicas[0].clock
            #expect(clock[1] == 5)
            cluster.close()
            #expect((try recordedClock()?[1] ?? 0) < 5, "local commits should not rewrite the clock record")
            cluster = try Cluster(directory: url, replicas: 2, configuration: configuration)
            #expect(try cluster.replicas[0].clock == clock)
            let verified = cluster.verify()
            #expect(verified.isIntact, "\(verified.allProblems)")
            #expect(verified.replicas.first { $0.replica == 1 }?.clock == clock)

            // A crash keeps every commit and its dot: the next one takes dot 6.
            try cluster.crash(1)
            try cluster.restart(1)
            #expect(try cluster.replicas[0].clock == clock)
            try cluster.replicas[0].update(counter, .increment(6))
            #expect(try cluster.replicas[0].clock[1] == 6)

            // Once every member has them the entries are collected; the clock is recorded then.
            try cluster.synchronize()
            _ = try cluster.collectGarbage()
            #expect(cluster.replicas[0].status().logLength == 0)
            let collected = try cluster.replicas[0].clock
            cluster.close()
            #expect(try recordedClock() == collected)
            cluster = try Cluster(directory: url, replicas: 2, configuration: configuration)
            defer { cluster.close() }
            #expect(try cluster.replicas[0].clock == collected)
            #expect(try cluster.replicas[1].read(counter) == 21)
        }
    }

    @Test("A store of format 2 opens with its clock and is recorded as format 3")
    func aFormat2StoreOpens() throws {
        try withTemporaryDirectory { url in
            var clock = VectorClock()
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
                for i in 1...3 { try cluster.replicas[0].update(counter, .increment(Int64(i))) }
                clock = try cluster.replicas[0].clock
                cluster.close()
            }
            // As format 2 left it: the clock record current, the format record 2.
            let path = url.appendingPathComponent("replica-1").path
            let environment = try LMDBTestAccess.open(path)
            try LMDBTestAccess.putMeta(environment, key: "clock", value: clock.encodedBytes())
            try LMDBTestAccess.putMeta(environment, key: "format", value: [2])
            environment.close()
            // A process that only reads takes it as it is.
            do {
                let reader = try ClusterReader(directory: url)
                #expect(try reader.read(counter, at: 1) == 6)
                #expect(reader.verify().replicas.first?.clock == clock)
            }

            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            #expect(try cluster.replicas[0].clock == clock)
            try cluster.replicas[0].update(counter, .increment(4))
            #expect(try cluster.replicas[0].read(counter) == 10)
            cluster.close()
            let format = try LMDBTestAccess.open(path)
            defer { format.close() }
            let meta = try format.database("meta")
            #expect(try format.read { txn in try txn.get(Array("format".utf8), in: meta) } == [3])
        }
    }

    @Test("A store of another format version is refused with a clear error")
    func formatVersionMismatch() throws {
        try withTemporaryDirectory { url in
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            cluster.close()
            // Rewrite the format version with raw LMDB.
            let path = url.appendingPathComponent("replica-1").path
            let environment = try LMDBTestAccess.open(path)
            try LMDBTestAccess.putMeta(environment, key: "format", value: [9])
            environment.close()
            #expect {
                _ = try Cluster(directory: url, replicas: 1)
            } throws: { error in
                (error as? ConcordError)?.code == .formatVersionMismatch
            }
        }
    }
}

@Suite struct MembershipGuardTests {
    @Test("Wiping or removing is refused while every other member is bootstrapping")
    func theLastServingMemberStays() throws {
        try withCluster(replicas: 2) { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(Key<GCounter>("n"), .increment(1))
            try cluster.synchronize()
            try cluster.wipe(a.id)
            #expect(a.status().isBootstrapping)
            #expect(throws: ConcordError.self) { try cluster.wipe(b.id) }
            #expect(throws: ConcordError.self) { try cluster.removeReplica(b.id) }
            try cluster.synchronize()
            #expect(!a.status().isBootstrapping)
            #expect(try a.read(Key<GCounter>("n")) == 1)
            try cluster.removeReplica(b.id)
            #expect(cluster.replicas.map(\.id) == [a.id])
        }
    }
}

@Suite struct CompactionTests {
    @Test("At quiescence remove-wins metadata is compacted; values are unchanged", arguments: 1...4)
    func removeMarkersAreCompacted(seed: Int) throws {
        let set = Key<RWSet<String>>("rw")
        let map = Key<RRMap>("map")
        try withCluster(configuration: Configuration(durability: .noSync, seed: UInt64(seed))) { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            cluster.network.faults = .init(drop: 0.1, duplicate: 0.1, reorder: true)
            for i in 0..<10 {
                try a.update(set, .add("e\(i)"))
                try a.update(map, .update("tags", RWSet<String>.self, .add("t\(i)")))
            }
            try cluster.synchronize()
            for i in 0..<10 where i % 2 == 0 {
                try b.update(set, .remove("e\(i)"))
                try b.update(map, .update("tags", RWSet<String>.self, .remove("t\(i)")))
            }
            try cluster.synchronize()
            for replica in cluster.replicas {
                let state = try replica.state(of: set)
                #expect(state.value == Set((0..<10).filter { $0 % 2 == 1 }.map { "e\($0)" }), "seed \(seed)")
                #expect(state.state.store.entries.count == 5, "seed \(seed): remove markers left at \(replica.id)")
                let tags = try replica.state(of: map).state(of: "tags", as: RWSet<String>.self)
                #expect(tags?.state.store.entries.count == 5, "seed \(seed): nested remove markers left")
            }
            // Compacted replicas keep converging with new concurrent operations.
            try a.update(set, .add("e0"))
            try b.update(set, .remove("e1"))
            try cluster.synchronize()
            for replica in cluster.replicas {
                #expect(try replica.read(set) == (try a.read(set)), "seed \(seed)")
                #expect(try replica.read(set).contains("e0"))
                #expect(!(try replica.read(set).contains("e1")))
            }
        }
    }

    /// C adds e while cut off, concurrently with B's remove; only B gets C's add, and B's
    /// last report to A predates it. Once C is removed, that old report equals A's clock,
    /// but A must not compact on it: B still holds C's add, which would reach A after A
    /// dropped the remove marker (A would show e, B would not). Reports count toward
    /// compaction only from the current membership epoch.
    @Test func compactionWaitsForReportsFromTheCurrentMembership() throws {
        let set = Key<RWSet<String>>("rw")
        try withCluster { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            let network = cluster.network
            try a.update(set, .add("e"))
            try cluster.synchronize()
            network.partition([c.id], [a.id, b.id])
            try c.update(set, .add("e"))  // concurrent with the remove below
            try b.update(set, .remove("e"))
            try cluster.synchronize()  // A and B exchange the remove and report equal clocks
            #expect(try a.read(set).isEmpty)
            network.heal()
            network.partition([a.id], [b.id, c.id])
            try cluster.synchronize()  // B gets C's add; A hears nothing new from B
            try cluster.removeReplica(c.id)
            try cluster.synchronize()
            network.heal()
            try cluster.synchronize()
            #expect(try a.read(set) == (try b.read(set)), "A and B diverge on e")
            #expect(try a.read(set).isEmpty, "remove wins over the concurrent add")
            #expect(try a.state(of: set).state.store.entries.isEmpty, "A compacts the marker in the end")
        }
    }
}
