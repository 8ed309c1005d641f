import Concord
import Foundation
import LMDB
import Testing

@testable import Concord

@Suite struct ConflictTests {
    let title = Key<LWWRegister<String>>("title", bucket: "posts")
    let motto = Key<MVRegister<String>>("motto", bucket: "posts")
    let stock = Key<BoundedCounter>("stock", bucket: "shop")

    /// Two replicas write `write` on each side of a partition, then heal and converge.
    func writeConcurrently(_ cluster: Cluster, _ write: (Replica, String) throws -> Void) throws {
        let (a, b) = (cluster.replicas[0], cluster.replicas[1])
        cluster.network.partition([a.id], [b.id])
        try write(a, "from a")
        try write(b, "from b")
        try cluster.synchronize()
        cluster.network.heal()
        try cluster.synchronize()
    }

    func recorded(_ records: [ConflictRecord]) -> [ConflictRecord] {
        records.filter { if case .recorded = $0.origin { true } else { false } }
    }

    @Test("Concurrent LWW assignments: the winning replica records the lost one, with its writer first")
    func concurrentLWWAssignments() throws {
        try withCluster(replicas: 2) { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try writeConcurrently(cluster) { replica, value in try replica.update(title, .assign(value)) }
            let final = try #require(try a.read(title))
            #expect(try b.read(title) == final)
            let (winner, loser) = final == "from a" ? (a, b) : (b, a)
            let records = try cluster.conflicts()
            #expect(!records.isEmpty)
            for record in records {
                #expect(record.kind == .lwwAssignmentLost)
                #expect(record.bucket == "posts" && record.name == "title" && record.typeName == "LWWRegister<String>")
                #expect(record.replicas == [loser.id, winner.id])
                #expect(record.fieldPath.isEmpty)
                #expect(record.description.contains("lwwAssignmentLost posts/title"))
            }
            let atWinner = try winner.conflicts()
            #expect(atWinner.count == 1)
            #expect(atWinner.first?.origin == .recorded(sequenceNumber: 1))
            #expect(atWinner.first?.replica == winner.id)
            #expect(winner.status().conflictsDetected == 1)
            let json = try #require(atWinner.first?.inspected.jsonText)
            #expect(json.contains(#""lost":"from \#(loser === a ? "a" : "b")""#))
        }
    }

    @Test("Concurrent MVRegister assignments: each replica records them once, and the scan shows the register")
    func concurrentMVAssignments() throws {
        try withCluster(replicas: 2, configuration: Configuration(durability: .noSync, seed: 7)) { cluster in
            cluster.network.faults = .init(duplicate: 0.5, reorder: true)
            try writeConcurrently(cluster) { replica, value in try replica.update(motto, .assign(value)) }
            for replica in cluster.replicas {
                let records = try replica.conflicts()
                let live = recorded(records)
                #expect(live.count == 1, "duplicates record nothing more at \(replica)")
                #expect(live.first?.kind == .mvRegisterConcurrentValues)
                #expect(live.first?.detail == .array([.string("from a"), .string("from b")]))
                #expect(live.first?.replicas == cluster.replicas.map(\.id).sorted())
                let scanned = records.filter { $0.origin == .scan }
                #expect(scanned.count == 1)
                #expect(scanned.first?.name == "motto")
                #expect(scanned.first?.timeMicroseconds == nil)
            }
            // A later assignment that saw both values resolves the register: nothing new is
            // recorded, and the scan finds nothing.
            try cluster.replicas[0].update(motto, .assign("agreed"))
            try cluster.synchronize()
            for replica in cluster.replicas {
                let records = try replica.conflicts()
                #expect(recorded(records).count == 1)
                #expect(records.allSatisfy { $0.origin != .scan })
            }
        }
    }

    @Test("Causally later assignments, delivered with duplicates, record nothing", arguments: 1...3)
    func causallyLaterAssignmentsRecordNothing(seed: UInt64) throws {
        try withCluster(configuration: Configuration(durability: .noSync, seed: seed)) { cluster in
            cluster.network.faults = .init(duplicate: 0.5, reorder: true)
            for (index, replica) in cluster.replicas.enumerated() {
                try replica.update(title, .assign("v\(index)"))
                try replica.update(motto, .assign("v\(index)"))
                try cluster.synchronize()
            }
            #expect(try cluster.conflicts().isEmpty)
            #expect(cluster.status().replicas.allSatisfy { $0.conflictsDetected == 0 })
            #expect(cluster.network.statistics.duplicated > 0)
        }
    }

    @Test("A refused BoundedCounter decrement is recorded, and writes nothing else")
    func refusedDecrementIsRecorded() throws {
        try withCluster(replicas: 2) { cluster in
            let a = cluster.replicas[0]
            try a.update(stock, .increment(2))
            let clock = try a.clock
            #expect {
                try a.update(stock, .decrement(5))
            } throws: { error in
                (error as? ConcordError)?.code == .operationRejected
            }
            #expect(try a.clock == clock)
            #expect(try a.read(stock) == 2)
            let records = try a.conflicts()
            #expect(records.count == 1)
            #expect(records.first?.kind == .boundedCounterRefused)
            #expect(records.first?.replicas == [a.id])
            #expect(records.first?.name == "stock")
            #expect(a.status().conflictsDetected == 1)
            #expect(try cluster.replicas[1].conflicts().isEmpty)
        }
    }

    @Test("At most conflictRecordBound records are kept; the total and the records survive a restart")
    func boundAndRestart() throws {
        let configuration = Configuration(durability: .noSync, conflictRecordBound: 3)
        try withCluster(replicas: 2, configuration: configuration) { cluster in
            let a = cluster.replicas[0]
            for _ in 0..<5 {
                #expect(throws: ConcordError.self) { try a.update(stock, .decrement(1)) }
            }
            let sequence = { () throws -> [UInt64] in
                try a.conflicts().compactMap { record in
                    if case .recorded(let number) = record.origin { number } else { nil }
                }
            }
            #expect(try sequence() == [3, 4, 5])
            #expect(a.status().conflictsDetected == 5)
            try cluster.crash(a.id)
            #expect(throws: ConcordError.self) { try a.conflicts() }
            try cluster.restart(a.id)
            #expect(try sequence() == [3, 4, 5])
            #expect(a.status().conflictsDetected == 5)
            #expect(throws: ConcordError.self) { try a.update(stock, .decrement(1)) }
            #expect(try sequence() == [4, 5, 6])
            #expect(try cluster.conflicts().count == 3)
        }
    }

    @Test("A state transfer showing more conflicts than the bound keeps the last ones and counts them all")
    func stateTransferPastTheBound() throws {
        let configuration = Configuration(durability: .noSync, logBound: 2, conflictRecordBound: 3)
        try withCluster(replicas: 2, configuration: configuration) { cluster in
            let keys = (0..<7).map { Key<LWWRegister<String>>("k\($0)", bucket: "posts") }
            try writeConcurrently(cluster) { replica, value in
                for key in keys { try replica.update(key, .assign(value)) }
            }
            #expect(cluster.status().replicas.allSatisfy { $0.statesSent > 0 }, "the logs were cut: states moved")
            for replica in cluster.replicas {
                let detected = replica.status().conflictsDetected
                let names = try recorded(replica.conflicts()).map(\.name)
                // Keys are joined in key order: the records kept are the last three found.
                #expect(detected == 7 || detected == 0, "at \(replica): \(detected)")
                #expect(names == (detected == 7 ? ["k4", "k5", "k6"] : []), "at \(replica)")
            }
            #expect(cluster.status().replicas.map(\.conflictsDetected).reduce(0, +) >= 7)
        }
    }

    @Test("A record that does not decode is reported as corrupted, naming it")
    func corruptedRecord() throws {
        try withTemporaryDirectory { url in
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            let a = cluster.replicas[0]
            #expect(throws: ConcordError.self) { try a.update(stock, .decrement(1)) }
            try cluster.crash(a.id)
            let environment = try LMDBTestAccess.open(url.appendingPathComponent("replica-\(a.id.rawValue)").path)
            let conflicts = try environment.database("conflicts")
            try environment.write { txn in try txn.put([1, 0xFF], forKey: [0, 0, 0, 0, 0, 0, 0, 2], in: conflicts) }
            environment.close()
            try cluster.restart(a.id)
            #expect(a.status().conflictsDetected == 2)
            #expect {
                _ = try a.conflicts()
            } throws: { error in
                let error = error as? ConcordError
                return error?.code == .corrupted && error?.message.contains("conflict record 2") == true
            }
        }
    }

    @Test("A read-only store made before conflicts were recorded has none")
    func storeWithoutConflictsDatabase() throws {
        try withTemporaryDirectory { url in
            let path = url.appendingPathComponent("old").path
            let environment = try LMDBTestAccess.open(path)
            _ = try environment.database("objects")
            environment.close()
            var options = EnvironmentOptions()
            options.maximumDatabases = 8
            options.readOnly = true
            let readOnly = try Environment.open(path: path, options: options)
            defer { readOnly.close() }
            #expect(try Storage.openConflicts(in: readOnly) == nil)
        }
    }
}
