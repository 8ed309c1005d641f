import Concord
import Foundation
import Testing

/// A transaction's closure holds its replica's lock: calls on the same replica from inside
/// it used to wait forever. They throw now, and leave the transaction able to go on.
@Suite struct ReentrancyTests {
    let likes = Key<PNCounter>("likes")

    @Test func updateClockTransactionAndWaitInsideATransactionThrow() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            try a.update(likes, .increment(1))
            let committed = try a.transaction { tx in
                for call in ["update", "transaction", "clock", "wait(for:)"] {
                    let error = #expect(throws: ConcordError.self, "\(call)") {
                        switch call {
                        case "update": try a.update(likes, .increment(5))
                        case "transaction": try a.transaction { _ in }
                        case "clock": _ = try a.clock
                        default: try a.wait(for: [:], timeoutMicroseconds: 1)
                        }
                    }
                    #expect(error?.code == .reentrantCall)
                    #expect(error?.message.contains("inside a transaction") == true)
                }
                // The transaction itself goes on and commits.
                try tx.update(likes, .increment(2))
                // Status reports the state before this transaction instead of waiting.
                #expect(a.status().clock == [a.id: 1])
                // A snapshot read takes no transaction lock: it sees the last commit.
                #expect(try a.read(likes) == 1)
            }
            #expect(committed == [a.id: 2])
            #expect(try a.read(likes) == 3)
        }
    }

    @Test func anotherReplicaMayBeUsedInsideATransaction() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.transaction { tx in
                try tx.update(likes, .increment(1))
                try b.update(likes, .increment(10))
            }
            try cluster.synchronize()
            #expect(try a.read(likes) == 11)
        }
    }

    @Test func otherThreadsStillWaitTheirTurn() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            let key = likes
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                for _ in 0..<25 {
                    #expect(throws: Never.self) { try a.update(key, .increment(1)) }
                }
            }
            let total = try a.read(likes)
            #expect(total == 100)
        }
    }
}
