import Concord
import Foundation
import Testing

@Suite struct ReplicaTests {
    let likes = Key<PNCounter>("likes", bucket: "posts")
    let tags = Key<AWSet<String>>("tags", bucket: "posts")

    @Test func updatesAreReadBackLocally() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            try a.update(likes, .increment(2))
            try a.transaction { tx in
                try tx.update(tags, .add("swift"))
                try tx.update(likes, .increment(1))
                #expect(try tx.read(likes) == 3)
            }
            #expect(try a.read(likes) == 3)
            #expect(try a.read(tags) == ["swift"])
        }
    }

    @Test func updatesReplicateAndConverge() throws {
        try withCluster { cluster in
            let (a, b, c) = (cluster.replicas[0], cluster.replicas[1], cluster.replicas[2])
            try a.update(likes, .increment(2))
            try b.update(likes, .increment(5))
            try c.update(tags, .add("x"))
            try cluster.synchronize(maximumSteps: 2000)
            for replica in cluster.replicas {
                #expect(try replica.read(likes) == 7)
                #expect(try replica.read(tags) == ["x"])
            }
            let status = cluster.status()
            #expect(status.isConverged)
            for replica in status.replicas { #expect(replica.logLength == 0, "log of \(replica.replica) not collected") }
        }
    }
}
