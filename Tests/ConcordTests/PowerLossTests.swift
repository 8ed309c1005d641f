import Concord
import Foundation
import Testing

/// A power loss under `.noSync` may take a replica's last commit; the replica finds out at
/// its next opening (its store was left open in another boot) and recovers before it
/// writes, so it never reuses a dot a peer holds, and gets back what peers have.
@Suite struct PowerLossTests {
    let likes = Key<PNCounter>("likes")

    @Test func aLostLocalCommitThatNoPeerHadIsGoneAndItsDotIsTakenAgainSafely() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(likes, .increment(1))
            try cluster.synchronize()
            // Cut off, so no peer gets the next transaction before the power goes.
            cluster.network.partition([a.id], [b.id, cluster.replicas[2].id])
            #expect(try a.update(likes, .increment(2)) == [a.id: 2])
            try cluster.crash(a.id, losingUnsyncedCommits: true)
            cluster.network.heal()
            try cluster.restart(a.id)
            #expect(try a.clock == [a.id: 1])
            // It recovers: until every member has reported, it writes under the writer id of
            // this incarnation (it cannot know yet whether a peer holds (a, 2)), and types
            // that need the complete state wait.
            #expect(a.status().isBootstrapping)
            let writer = try a.writer
            #expect(try a.update(likes, .increment(4)) == [a.id: 1, writer: 1])
            let refused = try #require(throws: ConcordError.self) {
                try a.update(Key<BoundedCounter>("seats"), .increment(1))
            }
            #expect(refused.code == .bootstrapping && refused.message.contains("power loss"))
            let swap = try #require(throws: ConcordError.self) {
                try a.compareAndSwap(Key<LWWRegister<String>>("leader"), expected: nil, new: "a")
            }
            #expect(swap.code == .bootstrapping)
            try cluster.synchronize()
            #expect(!a.status().isBootstrapping)
            // No peer held (a, 2): taking it again is safe.
            #expect(try a.update(likes, .increment(8)) == [a.id: 2, writer: 1])
            try cluster.synchronize()
            for replica in cluster.replicas { #expect(try replica.read(likes) == 13) }
        }
    }

    @Test func aRecoveringReplicaGetsBackWhatPeersHoldAndNeverReusesTheirDots() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            for _ in 0..<3 {
                try a.update(likes, .increment(1))
                try cluster.synchronize()
            }
            let beforeLoss = try a.clock[a.id]
            try cluster.crash(a.id, losingUnsyncedCommits: true)
            try cluster.restart(a.id)
            try cluster.synchronize()
            #expect(try a.clock[a.id] == beforeLoss)
            #expect(try a.update(likes, .increment(10))[a.id] == beforeLoss + 1)
            try cluster.synchronize()
            #expect(try b.read(likes) == 13)
            #expect(cluster.status().isConverged)
        }
    }

    @Test func aCrashInTheSameBootLosesNothingAndNeedsNoRecovery() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            try a.update(likes, .increment(1))
            try cluster.crash(a.id)
            try cluster.restart(a.id)
            #expect(!a.status().isBootstrapping)
            #expect(try a.update(likes, .increment(1)) == [a.id: 2])
        }
    }

    @Test func underFullDurabilityAPowerLossLosesNothing() throws {
        try withCluster(configuration: Configuration(durability: .full)) { cluster in
            let a = cluster.replicas[0]
            try a.update(likes, .increment(1))
            try cluster.crash(a.id, losingUnsyncedCommits: true)
            try cluster.restart(a.id)
            #expect(!a.status().isBootstrapping)
            #expect(try a.read(likes) == 1)
        }
    }

    @Test("Under group commit a power loss keeps what update acknowledged; an unflushed remote apply may go")
    func underGroupCommitAPowerLossKeepsWhatWasAcknowledged() throws {
        try withCluster(configuration: Configuration(durability: .groupCommit)) { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(likes, .increment(1))
            try cluster.crash(a.id, losingUnsyncedCommits: true)
            try cluster.restart(a.id)
            // Acknowledged means flushed: the simulated power loss found nothing to take.
            #expect(try a.read(likes) == 1)
            #expect(try a.clock[a.id] == 1)
            // B applies A's interval (a commit nobody waits for, so not flushed) and then
            // loses it; it recovers and gets it back from A.
            try a.update(likes, .increment(2))
            try cluster.synchronize()
            #expect(try b.read(likes) == 3)
            try cluster.crash(b.id, losingUnsyncedCommits: true)
            try cluster.restart(b.id)
            #expect(b.status().isBootstrapping, "B recovers from the power loss")
            try cluster.synchronize()
            for replica in cluster.replicas { #expect(try replica.read(likes) == 3) }
            #expect(cluster.status().isConverged)
        }
    }

    @Test func aCleanCloseLeavesNoMarkBehind() throws {
        try withTemporaryDirectory { url in
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 2, configuration: Configuration(durability: .noSync))
                try cluster.replicas[0].update(likes, .increment(1))
                cluster.close()
            }
            // Reopened (in this boot) after a clean close: nothing to recover.
            let cluster = try Cluster(directory: url, replicas: 2, configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            #expect(!cluster.replicas[0].status().isBootstrapping)
            #expect(try cluster.replicas[0].read(likes) == 1)
        }
    }

    @Test func aReplicaThatCrashesOrClosesWhileItRecoversRecoversAgain() throws {
        try withTemporaryDirectory { url in
            let configuration = Configuration(durability: .noSync)
            do {
                let cluster = try Cluster(directory: url, replicas: 2, configuration: configuration)
                defer { cluster.close() }
                let (a, b) = (cluster.replicas[0], cluster.replicas[1])
                try a.update(likes, .increment(1))
                try cluster.synchronize()
                try cluster.crash(a.id, losingUnsyncedCommits: true)
                // b is down too: a cannot finish its recovery.
                try cluster.crash(b.id)
                try cluster.restart(a.id)
                #expect(a.status().isBootstrapping)
                // A crash in this boot while it recovers: it recovers again.
                try cluster.crash(a.id)
                try cluster.restart(a.id)
                #expect(a.status().isBootstrapping)
                let refused = try #require(throws: ConcordError.self) {
                    try a.update(Key<RWSet<String>>("tags"), .add("x"))
                }
                #expect(refused.code == .bootstrapping)
            }
            // A clean close while it recovers: the reopened cluster recovers again.
            let cluster = try Cluster(directory: url, replicas: 2, configuration: configuration)
            defer { cluster.close() }
            let a = cluster.replicas[0]
            #expect(a.status().isBootstrapping)
            try cluster.synchronize()
            #expect(!a.status().isBootstrapping)
            #expect(try a.update(likes, .increment(1))[a.id] == 2)
        }
    }
}
