import Concord
import Foundation
import Locking
import Testing

@Suite struct CompareAndSwapTests {
    let leader = Key<LWWRegister<String>>("leader", bucket: "election")

    @Test func swapsOnlyWhenTheCurrentValueIsTheExpectedOne() throws {
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            let swapped1 = try a.compareAndSwap(leader, expected: nil, new: "a")
            #expect(swapped1 == true)
            #expect(try a.read(leader) == "a")
            let swapped2 = try a.compareAndSwap(leader, expected: nil, new: "b")
            #expect(swapped2 == false)
            let swapped3 = try a.compareAndSwap(leader, expected: "x", new: "b")
            #expect(swapped3 == false)
            #expect(try a.read(leader) == "a")
            let swapped4 = try a.compareAndSwap(leader, expected: "a", new: "b")
            #expect(swapped4 == true)
            #expect(try a.read(leader) == "b")
        }
    }

    @Test func aFailedSwapWritesNothing() throws {
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            try a.update(leader, .assign("a"))
            let before = try a.clock
            let swapped5 = try a.compareAndSwap(leader, expected: "z", new: "b")
            #expect(swapped5 == false)
            #expect(try a.clock == before, "a failed compare-and-swap must not commit a transaction")
        }
    }

    @Test func swapsReplicateLikeAssignments() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            let swapped6 = try a.compareAndSwap(leader, expected: nil, new: "a")
            #expect(swapped6 == true)
            try cluster.synchronize()
            #expect(try b.read(leader) == "a")
            let swapped7 = try b.compareAndSwap(leader, expected: "a", new: "b")
            #expect(swapped7 == true)
            try cluster.synchronize()
            for replica in cluster.replicas { #expect(try replica.read(leader) == "b") }
        }
    }

    @Test func concurrentSwapsAtOneReplicaAreAtomic() throws {
        // Many threads race to move the register from n to n + 1: each value is taken by
        // exactly one swap, so the successes add up to the final value.
        let counter = Key<LWWRegister<Int64>>("counter")
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            try a.update(counter, .assign(0))
            let successes = Mutex(0)
            let failures = Mutex<[String]>([])
            let threads = 4
            let attempts = 200
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                for _ in 0..<attempts {
                    do {
                        let current = try a.read(counter) ?? 0
                        if try a.compareAndSwap(counter, expected: current, new: current + 1) {
                            successes.withLock { $0 += 1 }
                        }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let final = try #require(try a.read(counter))
            #expect(Int(final) == successes.withLock { $0 })
            #expect(final > 0)
        }
    }

    @Test func aRegisterOfAnotherValueTypeIsAnotherObject() throws {
        try withCluster(replicas: 1) { cluster in
            let a = cluster.replicas[0]
            // Same name, another value type: another object (the type is part of the name).
            let other = Key<LWWRegister<Int64>>("leader", bucket: "election")
            try a.update(other, .assign(7))
            let swapped8 = try a.compareAndSwap(leader, expected: nil, new: "a")
            #expect(swapped8 == true)
            #expect(try a.read(other) == 7)
        }
    }

    @Test func aDownReplicaThrowsUnavailable() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            try cluster.crash(a.id)
            #expect {
                _ = try a.compareAndSwap(leader, expected: nil, new: "a")
            } throws: { error in
                (error as? ConcordError)?.code == .unavailable
            }
        }
    }
}
