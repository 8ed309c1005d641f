import Foundation
import Locking
import Testing

@testable import Concord

/// Observers and writers on several threads at once, with background delivery: what
/// `make tsan` runs under ThreadSanitizer (and `make test` runs as it is).
@Suite struct ObservationStressTests {
    /// With the default spin, and with none (every consumer parks whenever it finds nothing).
    @Test(arguments: [50, 0] as [UInt64])
    func manyObserversBesideSeveralWritersSeeTheLastValue(spinningMicroseconds: UInt64) async throws {
        let keys = (0..<4).map { Key<PNCounter>("k\($0)", bucket: "stress") }
        let writesPerWriter = 300
        try await withTemporaryDirectory { url in
            let cluster = try Cluster(
                directory: url, replicas: 3,
                configuration: Configuration(
                    durability: .noSync, deliveryMode: .background(latencyMicroseconds: 50),
                    observationSpinMicroseconds: spinningMicroseconds))
            defer { cluster.close() }
            let final = Int64(writesPerWriter * cluster.replicas.count / keys.count)
            // 48 observers that follow to the end, 6 of the sum of every key, 12 that never
            // pull, 4 commit feeds.
            let followers = (0..<48).map { index in
                let replica = cluster.replicas[index % 3]
                let key = keys[index % keys.count]
                return Task { () throws(ConcordError) -> Int64 in
                    var last: Change<Int64>?
                    for try await change in replica.changes(of: key) {
                        if let last, !change.clock.dominates(last.clock) {
                            throw ConcordError(.corrupted, "a clock went back at \(replica.id): \(last) then \(change)")
                        }
                        last = change
                        if change.value == final { break }
                    }
                    return last?.value ?? -1
                }
            }
            let sums = (0..<6).map { index in
                let replica = cluster.replicas[index % 3]
                return Task { () throws(ConcordError) -> Int64 in
                    var last: Int64 = -1
                    for try await change in replica.changes(of: keys, { $0.reduce(0, +) }) {
                        last = change.value
                        if last == final * Int64(keys.count) { break }
                    }
                    return last
                }
            }
            let stalled = (0..<12).map {
                cluster.replicas[$0 % 3].changes(of: keys[$0 % keys.count]).makeAsyncIterator()
            }
            let feeds = (0..<4).map { cluster.replicas[$0 % 3].commits(buffer: 64).makeAsyncIterator() }
            let callbacks = Atomic<Int>(0)
            let tokens = keys.map { key in
                cluster.replicas[0].observe(key) { _ in callbacks.add(1, ordering: .relaxed) }
            }
            // Writers on three threads, one per replica, each spreading its increments.
            await withTaskGroup(of: Void.self) { group in
                for replica in cluster.replicas {
                    group.addTask {
                        for index in 0..<writesPerWriter {
                            _ = try? replica.update(keys[index % keys.count], .increment(1))
                        }
                    }
                }
            }
            for follower in followers {
                #expect(try await follower.value == final)
            }
            for sum in sums {
                #expect(try await sum.value == final * Int64(keys.count))
            }
            for iterator in stalled {
                #expect(try iterator.poll()?.value == final)
            }
            for feed in feeds {
                var count = 0
                while try feed.poll() != nil { count += 1 }
                #expect(count > 0 && count <= 65)
            }
            #expect(callbacks.load(ordering: .relaxed) >= keys.count)
            for token in tokens { token.cancel() }
        }
    }
}
