import Concord
import Foundation
import Testing

@testable import Concord

/// A local transaction reads its objects through the LMDB write transaction it then commits
/// into (`Transaction.held`): these check the edges of that design.
@Suite struct HeldWriteTransactionTests {
    let stock = Key<BoundedCounter>("stock", bucket: "shop")
    let note = Key<LWWRegister<String>>("note", bucket: "shop")

    @Test("A commit that fills the map is committed again where the map grows, all of it")
    func aCommitThatFillsTheMapGrowsItAndLandsWhole() throws {
        // 256 KiB of map; the transaction writes about 600 KiB.
        let configuration = Configuration(durability: .noSync, mapSizeBytes: 256 << 10)
        try withCluster(replicas: 2, configuration: configuration) { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            let keys = (0..<150).map { Key<LWWRegister<String>>("k\($0)", bucket: "big") }
            let clock = try a.transaction { transaction in
                for (index, key) in keys.enumerated() {
                    #expect(try transaction.read(key) == nil)
                    try transaction.update(key, .assign(String(repeating: "\(index % 10)", count: 4_000)))
                }
            }
            #expect(clock[a.id] == 1)
            for (index, key) in keys.enumerated() {
                #expect(try a.read(key) == String(repeating: "\(index % 10)", count: 4_000))
            }
            // The next transaction at the replica (its write lock released) and replication work.
            try a.update(note, .assign("after"))
            try cluster.synchronize()
            #expect(try b.read(keys[149]) == String(repeating: "9", count: 4_000))
            #expect(try b.read(note) == "after")
        }
    }

    @Test("A refusal inside a transaction is recorded on its own; the rest commits, or nothing if the body throws")
    func aRefusalInsideATransactionIsRecordedOnItsOwn() throws {
        struct Abandon: Error {}
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            try a.update(stock, .increment(2))
            try a.transaction { transaction in
                try transaction.update(note, .assign("before the refusal"))
                #expect(throws: ConcordError.self) { try transaction.update(stock, .decrement(5)) }
                try transaction.update(stock, .decrement(1))
                #expect(try transaction.read(note) == "before the refusal")
            }
            #expect(try a.read(note) == "before the refusal")
            #expect(try a.read(stock) == 1)
            #expect(try a.conflicts().map(\.kind) == [.boundedCounterRefused])

            do {
                try a.transaction { transaction in
                    try transaction.update(note, .assign("abandoned"))
                    do {
                        try transaction.update(stock, .decrement(5))
                        Issue.record("the decrement was not refused")
                    } catch let error as ConcordError {
                        #expect(error.code == .operationRejected)
                    }
                    throw Abandon()
                }
                Issue.record("the transaction did not throw")
            } catch is Abandon {}
            #expect(try a.read(note) == "before the refusal")
            #expect(try a.read(stock) == 1)
            #expect(try a.conflicts().map(\.kind) == [.boundedCounterRefused, .boundedCounterRefused])
        }
    }

    @Test("Reads at the replica do not wait for an open transaction, and see only what is committed")
    func readsDoNotWaitForAnOpenTransaction() throws {
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            try a.update(note, .assign("committed"))
            try whileATransactionIsOpen(at: a, assigning: "pending") { () throws in
                #expect(try a.read(note) == "committed")
                #expect(try a.state(of: note).value == "committed")
            }
            #expect(try a.read(note) == "pending")
        }
    }

    @Test("A transaction that only reads, or that throws after reading, writes nothing and releases the store")
    func aTransactionThatWritesNothingReleasesTheStore() throws {
        struct Abandon: Error {}
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            let clock = try a.clock
            try a.transaction { transaction in
                let value = try transaction.read(note)
                #expect(value == nil)
            }
            do {
                try a.transaction { transaction in
                    let value = try transaction.read(stock)
                    #expect(value == 0)
                    throw Abandon()
                }
                Issue.record("the transaction did not throw")
            } catch is Abandon {}
            #expect(try a.clock == clock)
            try a.update(note, .assign("written"))
            #expect(try a.read(note) == "written")
        }
    }

    @Test(
        "A backup and a verification run beside an open transaction without waiting for it, and hold what was committed",
        .timeLimit(.minutes(1)))
    func aBackupAndAVerificationRunBesideAnOpenTransaction() throws {
        try withTemporaryDirectory { root in
            let cluster = try Cluster(
                directory: root.appendingPathComponent("cluster"), replicas: 1,
                configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            let a = cluster.replicas[0]
            try a.update(note, .assign("committed"))
            try whileATransactionIsOpen(at: a, assigning: "pending") { () throws in
                // Both run while the transaction holds the replica's LMDB write transaction.
                #expect(cluster.verify().problems.isEmpty)
                let backups = root.appendingPathComponent("backups")
                let taken = try cluster.backup(to: backups, name: "beside")
                #expect(taken.members.map(\.objects) == [1])
                #expect(try Backups(directory: backups).verify("beside").isIntact)
                let restored = root.appendingPathComponent("restored")
                _ = try Backups(directory: backups).restore("beside", to: restored)
                let copy = try Cluster(directory: restored, replicas: 1)
                defer { copy.close() }
                #expect(try copy.replicas[0].read(note) == "committed")
            }
        }
    }

    /// Runs `body` while another thread holds a transaction open at `replica` that assigned
    /// `value` to `note` and has not committed; the transaction commits after `body`.
    private func whileATransactionIsOpen(
        at replica: Replica, assigning value: String, _ body: () throws -> Void
    ) throws {
        let updated = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread { [note] in
            do {
                try replica.transaction { transaction in
                    try transaction.update(note, .assign(value))
                    updated.signal()
                    release.wait()
                }
            } catch {
                Issue.record("the transaction failed: \(error)")
            }
            finished.signal()
        }
        thread.start()
        updated.wait()
        defer {
            release.signal()
            finished.wait()
        }
        try body()
    }
}
