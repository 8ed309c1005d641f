import Foundation
import Synchronization
import Testing

@testable import Concord

/// `Durability.groupCommit`: concurrent writers share flushes, and none returns before a
/// flush that started after its commit has finished.
@Suite struct GroupCommitTests {
    /// A flush that takes a while and records how far it reached.
    private final class SlowDevice: @unchecked Sendable {
        let lock = NSLock()
        /// Every commit up to this number is "on the device".
        var durableThrough: UInt64 = 0
        var flushes = 0
        /// Flush numbers (1-based) that fail.
        var failing: Set<Int> = []

        func flush(_ group: GroupCommit) throws(ConcordError) {
            let reach = group.lastCommitted
            usleep(300)
            lock.lock()
            defer { lock.unlock() }
            flushes += 1
            if failing.contains(flushes) { throw ConcordError(.storage, "flush \(flushes) failed") }
            durableThrough = max(durableThrough, reach)
        }
    }

    /// Runs `body(i)` for i in 0..<count, each on a thread of its own (`concurrentPerform`
    /// would run only as many at once as there are cores), and waits for all.
    private static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchGroup()
        for i in 0..<count {
            done.enter()
            Thread {
                body(i)
                done.leave()
            }.start()
        }
        done.wait()
    }

    @Test("Each writer returns only once a flush covers its commit, and writers share flushes")
    func writersShareFlushesAndNoneReturnsEarly() throws {
        let group = GroupCommit()
        let device = SlowDevice()
        let writers = 8
        let commitsEach = 40
        let lock = NSLock()  // stands for the replica's lock: commits are numbered in order
        let early = Atomic<Int>(0)
        Self.onThreads(writers) { _ in
            for _ in 0..<commitsEach {
                let sequence = lock.withLock { group.noteCommitted() }
                do {
                    try group.waitUntilFlushed(sequence) { () throws(ConcordError) in try device.flush(group) }
                } catch {
                    Issue.record("unexpected \(error)")
                }
                if device.lock.withLock({ device.durableThrough }) < sequence { early.add(1, ordering: .relaxed) }
            }
        }
        #expect(early.load(ordering: .relaxed) == 0)
        #expect(!group.hasUnflushedCommits)
        #expect(group.flushesMade == UInt64(device.flushes))
        #expect(
            device.flushes < writers * commitsEach, "\(device.flushes) flushes for \(writers * commitsEach) commits")
    }

    @Test("A failed flush is reported to every writer it was to cover, even after a later flush succeeded")
    func aFailedFlushIsReportedToTheWritersItCovered() throws {
        let group = GroupCommit()
        let device = SlowDevice()
        device.failing = [1]
        let first = group.noteCommitted()
        let second = group.noteCommitted()
        let flush = { () throws(ConcordError) in try device.flush(group) }
        #expect(throws: ConcordError.self) { try group.waitUntilFlushed(first, flush: flush) }
        // The second commit was also to be covered by the failed flush: it hears of it too,
        // although a flush made for a third commit succeeds first.
        let third = group.noteCommitted()
        try group.waitUntilFlushed(third, flush: flush)
        #expect(throws: ConcordError.self) { try group.waitUntilFlushed(second, flush: flush) }
        #expect(device.flushes == 2)
        #expect(!group.hasUnflushedCommits)
    }

    @Test("Concurrent updates under .groupCommit all land, with fewer flushes than commits, and survive a reopen")
    func concurrentUpdatesShareFlushes() throws {
        try withTemporaryDirectory { url in
            let writers = 8
            let updatesEach = 25
            var flushes: UInt64 = 0
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 2, configuration: Configuration(durability: .groupCommit))
                let replica = cluster.replicas[0]
                let failures = Atomic<Int>(0)
                Self.onThreads(writers) { writer in
                    for i in 0..<updatesEach {
                        do {
                            try replica.update(Key<PNCounter>("w\(writer)"), .increment(1))
                            try replica.update(Key<AWSet<String>>("all"), .add("\(writer)-\(i)"))
                        } catch {
                            failures.add(1, ordering: .relaxed)
                        }
                    }
                }
                #expect(failures.load(ordering: .relaxed) == 0)
                let store = try #require(replica.condition.withLock { replica.store })
                flushes = try #require(store.flushes).flushesMade
                #expect(!(store.flushes?.hasUnflushedCommits ?? true))
                cluster.close()
            }
            // 400 commits from 8 writers: they share flushes (2 writers on 2 cores shared
            // about one in five; 8 share more).
            print("group commit: \(flushes) flushes for \(2 * writers * updatesEach) commits")
            #expect(flushes > 0 && flushes < UInt64(2 * writers * updatesEach), "\(flushes) flushes")
            let cluster = try Cluster(
                directory: url, replicas: 2, configuration: Configuration(durability: .groupCommit))
            defer { cluster.close() }
            for writer in 0..<writers {
                #expect(try cluster.replicas[0].read(Key<PNCounter>("w\(writer)")) == Int64(updatesEach))
            }
            #expect(try cluster.replicas[0].read(Key<AWSet<String>>("all")).count == writers * updatesEach)
        }
    }
}
