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
            for replica in status.replicas {
                #expect(replica.logLength == 0, "log of \(replica.replica) not collected")
            }
        }
    }
}

@Suite struct ReadYourWritesTests {
    let register = Key<LWWRegister<String>>("profile", bucket: "users")

    @Test("read(_:after:) waits for the writer's clock in background mode")
    func readAfterClockInBackgroundMode() throws {
        let configuration = Configuration(durability: .noSync, deliveryMode: .background(latencyMicroseconds: 500))
        try withCluster(configuration: configuration) { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            for i in 0..<20 {
                let clock = try a.update(register, .assign("v\(i)"))
                #expect(try b.read(register, after: clock, timeoutMicroseconds: 5_000_000) == "v\(i)")
            }
        }
    }

    @Test("read(_:after:) throws a timeout when the clock cannot arrive")
    func readAfterClockTimesOut() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            let clock = try a.update(register, .assign("unseen"))
            #expect {
                try b.read(register, after: clock, timeoutMicroseconds: 20_000)
            } throws: { error in
                (error as? ConcordError)?.code == .timeout
            }
            try cluster.synchronize()
            #expect(try b.read(register, after: clock, timeoutMicroseconds: 0) == "unseen")
        }
    }

    @Test("Background delivery converges and shuts down with the cluster")
    func backgroundConvergesAndShutsDown() throws {
        let configuration = Configuration(durability: .noSync, deliveryMode: .background(latencyMicroseconds: 100))
        let counter = Key<GCounter>("hits")
        try withCluster(configuration: configuration) { cluster in
            var last = VectorClock()
            for replica in cluster.replicas {
                for _ in 0..<10 { last = last.merging(try replica.update(counter, .increment(1))) }
            }
            for replica in cluster.replicas {
                #expect(try replica.read(counter, after: last, timeoutMicroseconds: 5_000_000) == 30)
            }
        }
    }
}

@Suite struct BadInputTests {
    let counter = Key<PNCounter>("counter")

    @Test("An undecodable message is counted and dropped, never applied")
    func undecodableMessage() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            try a.update(counter, .increment(1))
            try cluster.synchronize()
            var garbage = WireFormat.sampleMessages()[1]
            garbage[garbage.count / 2] ^= 0xFF
            cluster.network.inject(garbage, from: a.id, to: b.id)
            cluster.network.inject([1, 2, 3], from: a.id, to: b.id)
            try cluster.synchronize()
            #expect(b.status().messagesUndecodable >= 1)
            #expect(try b.read(counter) == 1)
        }
    }

    @Test("A damaged stored object is a typed error; other objects still read")
    func corruptedObject() throws {
        try withTemporaryDirectory { url in
            let good = Key<PNCounter>("good")
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
                try cluster.replicas[0].update(counter, .increment(1))
                try cluster.replicas[0].update(good, .increment(2))
                cluster.close()
            }
            let environment = try LMDBTestAccess.open(url.appendingPathComponent("replica-1").path)
            var keyBytes = ByteWriter()
            keyBytes.writeString("default")
            PNCounter.typeCode.encode(to: &keyBytes)
            keyBytes.writeRaw("counter".utf8)
            try LMDBTestAccess.putObject(environment, key: keyBytes.bytes, value: [1, 2, 0, 0xFF, 0xFF])
            environment.close()
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(durability: .noSync))
            defer { cluster.close() }
            // The error names the damaged object, read alone or within a transaction.
            #expect {
                try cluster.replicas[0].read(counter)
            } throws: { error in
                (error as? ConcordError)?.code == .corrupted
                    && (error as? ConcordError)?.message.contains("the state of default/counter") == true
            }
            #expect {
                try cluster.replicas[0].transaction { try $0.read(counter) }
            } throws: { error in
                (error as? ConcordError)?.code == .corrupted
                    && (error as? ConcordError)?.message.contains("the state of default/counter") == true
            }
            #expect(try cluster.replicas[0].read(good) == 2)
            #expect(throws: ConcordError.self) { try cluster.replicas[0].update(counter, .increment(1)) }
        }
    }

    @Test("A bounded-counter decrement beyond the replica's rights writes nothing")
    func rejectedOperationWritesNothing() throws {
        try withCluster { cluster in
            let a = cluster.replicas[0]
            let stock = Key<BoundedCounter>("stock")
            try a.update(stock, .increment(3))
            let before = try a.clock
            #expect {
                try a.update(stock, .decrement(5))
            } throws: { error in
                (error as? ConcordError)?.code == .operationRejected
            }
            #expect(try a.clock == before)
            #expect(try a.read(stock) == 3)
        }
    }
}
