import Concord
import Foundation
import Testing

/// The fault controls and the manual scheduler belong to the in-memory bus; `Cluster`'s
/// `step()` and `synchronize()` delegate to it.
@Suite struct BusTests {
    let likes = Key<PNCounter>("likes")

    @Test func theBusStepsAndSynchronizesOnItsOwn() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(likes, .increment(3))
            #expect(cluster.network.step())
            try cluster.network.synchronize()
            #expect(!cluster.network.step())
            #expect(try b.read(likes) == 3)
            #expect(cluster.network.seed == cluster.configuration.seed)
        }
    }

    @Test func aBoundedSynchronizeNamesTheSeed() throws {
        try withCluster { cluster in
            try cluster.replicas[0].update(likes, .increment(1))
            let error = #expect(throws: ConcordError.self) { try cluster.network.synchronize(maximumSteps: 1) }
            #expect(error?.code == .didNotQuiesce)
            #expect(error?.message.contains("seed \(cluster.configuration.seed)") == true)
        }
    }
}
