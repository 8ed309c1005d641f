import Concord
import ConcordSimulation
import Foundation
import Testing

/// Each network fault alone, then all together, over many seeds: after heal and
/// quiescence every replica equals the model of every acknowledged operation.
@Suite struct FaultScenarioTests {
    enum Fault: String, CaseIterable, Sendable {
        case loss, duplication, reordering, delay, all
    }

    @Test(
        "Convergence under each network fault alone and all together",
        arguments: Fault.allCases, 1...6)
    func networkFault(_ fault: Fault, seed: Int) throws {
        var options = SimulationOptions(
            seed: UInt64(seed) &* 7919, operations: 80, dropRate: 0, duplicateRate: 0, reorder: false,
            delayMicroseconds: 0...0, partitions: false, clogs: false, crashes: false, wipes: false,
            membership: false)
        switch fault {
        case .loss: options.dropRate = 0.25
        case .duplication: options.duplicateRate = 0.3
        case .reordering: options.reorder = true
        case .delay: options.delayMicroseconds = 0...20_000
        case .all:
            options.dropRate = 0.2
            options.duplicateRate = 0.2
            options.reorder = true
            options.delayMicroseconds = 0...20_000
        }
        let report = try Simulation.run(options)
        #expect(report.passed, "\(fault), seed \(seed): \(report.failures) — replay: \(options.replayCommand)")
        if fault == .loss || fault == .all { #expect(report.network.dropped > 0, "no message was dropped") }
        if fault == .duplication || fault == .all { #expect(report.network.duplicated > 0, "nothing was duplicated") }
    }
}

@Suite struct PartitionTests {
    let counter = Key<PNCounter>("counter")
    let set = Key<AWSet<String>>("set")

    @Test("A partition of one against two, writes on both sides, then heal", arguments: 1...5)
    func oneAgainstTwo(seed: Int) throws {
        var configuration = Configuration(durability: .noSync, seed: UInt64(seed))
        configuration.latencyMicroseconds = 100...3_000
        try withCluster(configuration: configuration) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            cluster.network.faults = .init(drop: 0.1, duplicate: 0.1, reorder: true)
            cluster.network.partition([a.id], [b.id, c.id])
            for i in 0..<20 {
                try a.update(counter, .increment(1))
                try b.update(counter, .increment(10))
                try c.update(set, .add("c\(i % 4)"))
                try a.update(set, .add("a\(i % 3)"))
                if i % 5 == 0 { try b.update(set, .remove("c0")) }
                cluster.step()
            }
            try cluster.synchronize()
            // While cut, the minority never sees the majority's writes.
            #expect(try a.read(counter) == 20)
            #expect(try b.read(counter) == 200)
            cluster.network.heal()
            try cluster.synchronize()
            for replica in cluster.replicas {
                #expect(try replica.read(counter) == 220, "seed \(seed)")
                #expect(try replica.read(set) == (try a.read(set)), "seed \(seed)")
            }
            #expect(try a.read(set).isSuperset(of: ["a0", "a1", "a2", "c1", "c2", "c3"]))
            #expect(cluster.status().isConverged)
        }
    }

    @Test("A and C cut from each other converge through B before healing", arguments: 1...5)
    func convergeThroughB(seed: Int) throws {
        try withCluster(configuration: Configuration(durability: .noSync, seed: UInt64(seed))) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            cluster.network.faults = .init(drop: 0.1, reorder: true)
            cluster.network.partition([a.id], [c.id])
            for i in 0..<15 {
                try a.update(counter, .increment(1))
                try c.update(counter, .increment(100))
                try a.update(set, .add("a\(i)"))
                try c.update(set, .add("c\(i)"))
            }
            try cluster.synchronize()
            #expect(cluster.network.isCut(from: a.id, to: c.id))
            for replica in [a, b, c] {
                #expect(try replica.read(counter) == 1_515, "seed \(seed) at \(replica.id)")
                #expect(try replica.read(set).count == 30, "seed \(seed) at \(replica.id)")
            }
            #expect(cluster.status().isConverged)
            // A cannot know what C has without hearing from C, so A keeps its log until the
            // cut heals; then every log empties.
            cluster.network.heal()
            try cluster.synchronize()
            for replica in cluster.status().replicas {
                #expect(replica.logLength == 0, "seed \(seed): log of \(replica.replica)")
            }
        }
    }
}

@Suite struct CausalityTests {
    let set = Key<AWSet<String>>("set")
    let first = Key<PNCounter>("first")
    let second = Key<PNCounter>("second")

    @Test("A remote replica never reads part of a transaction", arguments: 1...8)
    func atomicVisibility(seed: Int) throws {
        try withCluster(configuration: Configuration(durability: .noSync, seed: UInt64(seed))) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            cluster.network.faults = .init(drop: 0.2, duplicate: 0.2, reorder: true)
            var written: Int64 = 0
            for round in 0..<30 {
                try (round % 2 == 0 ? a : b).transaction { tx in
                    try tx.update(first, .increment(1))
                    try tx.update(second, .increment(1))
                }
                written += 1
                for _ in 0..<5 {
                    cluster.step()
                    for replica in [a, b, c] {
                        #expect(try replica.read(first) == (try replica.read(second)), "seed \(seed)")
                    }
                }
            }
            try cluster.synchronize()
            for replica in [a, b, c] { #expect(try replica.read(first) == written) }
        }
    }

    @Test("Add at A, remove at B after seeing it: C never shows the remove undone", arguments: 1...8)
    func removeIsNeverUndone(seed: Int) throws {
        try withCluster(configuration: Configuration(durability: .noSync, seed: UInt64(seed))) { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            cluster.network.faults = .init(duplicate: 0.3, reorder: true, delayMicroseconds: 0...5_000)
            let added = try a.update(set, .add("x"))
            cluster.network.partition([c.id], [a.id, b.id])
            try cluster.synchronize()
            #expect(try b.read(set, after: added, timeoutMicroseconds: 0) == ["x"])
            let removed = try b.update(set, .remove("x"))
            cluster.network.heal()
            var sawRemove = false
            while cluster.step() {
                let clock = try c.clock
                let value = try c.read(set)
                if clock.dominates(removed) { sawRemove = true }
                if sawRemove { #expect(value.isEmpty, "seed \(seed): C shows x again after the remove") }
                if clock.dominates(added) && !clock.dominates(removed) { #expect(value == ["x"]) }
            }
            #expect(sawRemove)
            #expect(try c.read(set).isEmpty)
        }
    }
}
