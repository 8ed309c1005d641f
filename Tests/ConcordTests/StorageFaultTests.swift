import Concord
import Foundation
import Testing

/// Injected storage faults: a failed commit writes nothing and changes no memory, and
/// replication recovers from it by itself.
@Suite struct StorageFaultTests {
    let likes = Key<PNCounter>("likes")

    @Test(arguments: StorageFaults.Fault.allCases)
    func aFailedLocalCommitThrowsAndChangesNothing(fault: StorageFaults.Fault) throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            try a.update(likes, .increment(1))
            cluster.storageFaults.failNextCommit(of: a.id, with: fault)
            let error = try #require(throws: ConcordError.self) { try a.update(likes, .increment(5)) }
            #expect(error.code == .storage)
            #expect(error.description.contains("injected fault"))
            #expect(!cluster.storageFaults.isArmed(a.id))
            #expect(try a.read(likes) == 1)
            #expect(try a.clock == [a.id: 1])
            // The next commit goes through with the next dot.
            #expect(try a.update(likes, .increment(2)) == [a.id: 2])
            try cluster.synchronize()
            for replica in cluster.replicas { #expect(try replica.read(likes) == 3) }
        }
    }

    @Test func aFailedRemoteApplyIsRetriedUntilItLands() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            cluster.storageFaults.failNextCommit(of: b.id, with: .ioError)
            try a.update(likes, .increment(4))
            try cluster.synchronize()
            #expect(b.status().failures >= 1)
            #expect(b.status().lastFailure?.contains("injected fault") == true)
            #expect(try b.read(likes) == 4)
            #expect(cluster.status().isConverged)
        }
    }

    @Test func aRestartWhoseFirstCommitFailsStaysDownAndCanBeRetried() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            try a.update(likes, .increment(1))
            try cluster.crash(a.id)
            cluster.storageFaults.failNextCommit(of: a.id, with: .mapFull)
            let error = try #require(throws: ConcordError.self) { try cluster.restart(a.id) }
            #expect(error.code == .storage)
            #expect(!a.isRunning)
            try cluster.restart(a.id)
            #expect(try a.read(likes) == 1)
        }
    }
}

extension StorageFaultTests {
    /// A wipe whose reopening fails leaves an empty store behind; when the replica restarts
    /// from it, it must still bootstrap, or it would reuse dots that its peers hold.
    @Test func aReplicaWhoseWipeFailedToReopenBootstrapsOnRestart() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(likes, .increment(1))
            try cluster.synchronize()
            cluster.storageFaults.failNextCommit(of: a.id, with: .ioError)
            let error = try #require(throws: ConcordError.self) { try cluster.wipe(a.id) }
            #expect(error.code == .storage)
            #expect(!a.isRunning)
            try cluster.restart(a.id)
            #expect(a.status().isBootstrapping)
            // Meanwhile it writes under its incarnation's writer id, never under its own.
            let writer = try a.writer
            #expect(writer != a.id)
            #expect(try a.update(likes, .increment(100)) == [writer: 1])
            try cluster.synchronize()
            #expect(!a.status().isBootstrapping)
            // Its next transaction takes a dot its peers have not seen.
            let clock = try a.update(likes, .increment(10))
            #expect(clock[a.id] == 2)
            try cluster.synchronize()
            #expect(try b.read(likes) == 111)
        }
    }
}
