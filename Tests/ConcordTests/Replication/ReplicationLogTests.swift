import Testing

@testable import Concord

@Suite struct ReplicationLogTests {
    private func entry(_ index: UInt64, _ clock: VectorClock) -> ReplicationLog.Entry {
        .init(index: index, to: clock, timeMicroseconds: index * 10)
    }

    @Test func appendsInTurnAndListsWhatAPeerLacks() {
        var log = ReplicationLog()
        let first = log.nextEntry(to: [1: 1], timeMicroseconds: 5)
        #expect(first.index == 1)
        log.append(first)
        log.append(log.nextEntry(to: [1: 2], timeMicroseconds: 6))
        log.append(log.nextEntry(to: [1: 2, 2: 1], timeMicroseconds: 7))
        #expect(log.count == 3)
        #expect(log.entries(missingFrom: [1: 1], limit: 10).map(\.index) == [2, 3])
        #expect(log.entries(missingFrom: [1: 1], limit: 1).map(\.index) == [2])
        #expect(log.entries(missingFrom: [1: 2, 2: 1], limit: 10).isEmpty)
        #expect(log.oldestEntry(missingFrom: [1: 2])?.index == 3)
    }

    /// The binary search over the log's reaches finds what a linear scan finds, for logs
    /// whose entries' clocks do not grow in order (remote intervals carry their sender's
    /// clock), before and after collections.
    @Test(arguments: 1...40 as ClosedRange<UInt64>) func searchingTheLogAgreesWithAScan(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var log = ReplicationLog()
        var clock = VectorClock()
        func randomClock() -> VectorClock {
            var result = VectorClock()
            for member in 1...3 where random.next() % 2 == 0 {
                result.merge([ReplicaID(UInt64(member)): random.next() % 12])
            }
            return result
        }
        for round in 0..<6 {
            for _ in 0..<(random.next() % 20) {
                // A local entry reaches the clock; a remote one carries a clock of its own.
                let to: VectorClock
                if random.next() % 2 == 0 {
                    clock.increment(ReplicaID(1))
                    to = clock
                } else {
                    to = randomClock()
                    clock.merge(to)
                }
                log.append(log.nextEntry(to: to, timeMicroseconds: 0))
            }
            for _ in 0..<10 {
                let base = randomClock()
                let limit = Int(random.next() % 8) + 1
                let scanned = log.entries.filter { !base.dominates($0.to) }
                #expect(
                    log.entries(missingFrom: base, limit: limit) == Array(scanned.prefix(limit)),
                    "seed \(seed), round \(round), base \(base)")
                #expect(log.oldestEntry(missingFrom: base) == scanned.first, "seed \(seed), round \(round)")
                let stable = randomClock()
                let collection = log.collection(stable: stable, bound: 1_000, clock: clock)
                #expect(
                    (collection?.doomed ?? [])
                        == log.entries.filter { stable.dominates($0.to) }.map(\.index),
                    "seed \(seed), round \(round), stable \(stable)")
                // A log rebuilt from its entries (as after a reopen) answers alike.
                let rebuilt = ReplicationLog(entries: log.entries, floor: log.floor)
                #expect(
                    rebuilt.entries(missingFrom: base, limit: limit) == log.entries(missingFrom: base, limit: limit))
            }
            if let collection = log.collection(stable: randomClock(), bound: Int(random.next() % 10), clock: clock) {
                log.remove(collection)
            }
        }
    }

    @Test func reopenedLogContinuesAfterItsLastEntry() {
        let log = ReplicationLog(entries: [entry(4, [1: 1]), entry(9, [1: 2])], floor: [1: 0])
        #expect(log.nextIndex == 10)
    }

    @Test func collectsStableEntriesAndRaisesTheFloorToTheStableClock() throws {
        let log = ReplicationLog(entries: [entry(1, [1: 1]), entry(2, [1: 2]), entry(3, [1: 3])])
        let collection = try #require(log.collection(stable: [1: 2], bound: 100, clock: [1: 3]))
        #expect(collection.doomed == [1, 2])
        #expect(collection.stableCount == 2)
        #expect(collection.floor == [1: 2])
        var collected = log
        collected.remove(collection)
        #expect(collected.entries.map(\.index) == [3])
        #expect(collected.floor == [1: 2])
        // Nothing more to do at the same stable clock.
        #expect(collected.collection(stable: [1: 2], bound: 100, clock: [1: 3]) == nil)
    }

    @Test func forcesTheOldestEntriesOutPastTheBound() throws {
        let log = ReplicationLog(entries: (1...5).map { entry($0, [1: $0]) })
        let collection = try #require(log.collection(stable: VectorClock(), bound: 2, clock: [1: 5]))
        #expect(collection.doomed == [1, 2, 3])
        #expect(collection.stableCount == 0)
        // A peer that lacks a forced-out entry is below the floor and gets a state transfer.
        #expect(collection.floor == [1: 3])
    }

    @Test func theFloorNeverRisesAboveWhatTheReplicaHas() throws {
        let log = ReplicationLog(entries: [entry(1, [1: 1])])
        // A peer's acknowledgement may run ahead of this replica (it heard from a third).
        let collection = try #require(log.collection(stable: [1: 1, 2: 7], bound: 100, clock: [1: 1, 2: 3]))
        #expect(collection.floor == [1: 1, 2: 3])
    }
}

@Suite struct CausalBufferTests {
    private func interval(from: VectorClock, to: VectorClock) -> DeltaInterval {
        DeltaInterval(from: from, to: to, transactions: 1, timeMicroseconds: 0, objects: [])
    }

    @Test func holdsEarlyIntervalsOnceAndReleasesThemInArrivalOrder() {
        var buffer = CausalBuffer(bound: 4)
        let second = interval(from: [1: 1], to: [1: 2])
        let third = interval(from: [1: 2], to: [1: 3])
        #expect(buffer.hold(third) == .buffered)
        #expect(buffer.hold(second) == .buffered)
        #expect(buffer.hold(second) == .alreadyWaiting)
        #expect(buffer.takeReady(at: [1: 0]) == nil)
        #expect(buffer.takeReady(at: [1: 1]) == second)
        #expect(buffer.takeReady(at: [1: 2]) == third)
        #expect(buffer.count == 0)
    }

    @Test func isBoundedAndDiscardsWhatTheClockCovers() {
        var buffer = CausalBuffer(bound: 2)
        #expect(buffer.hold(interval(from: [1: 5], to: [1: 6])) == .buffered)
        #expect(buffer.hold(interval(from: [1: 6], to: [1: 7])) == .buffered)
        #expect(buffer.hold(interval(from: [1: 7], to: [1: 8])) == .full)
        buffer.discard(coveredBy: [1: 6])
        #expect(buffer.intervals == [interval(from: [1: 6], to: [1: 7])])
    }
}
