import Foundation
import Locking
import Testing

@testable import LMDB

/// Runs each closure on a thread of its own and waits for all of them.
func runOnThreads(_ bodies: [@Sendable () -> Void]) {
    let done = DispatchSemaphore(value: 0)
    for body in bodies {
        Thread {
            body()
            done.signal()
        }.start()
    }
    for _ in bodies { done.wait() }
}

func counter(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
func counterValue(_ bytes: UnsafeRawBufferPointer) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }

@Suite struct ConcurrencyTests {
    @Test func readerKeepsItsSnapshotWhileAnotherThreadCommits() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            try environment.write { try $0.put(bytes("before"), forKey: bytes("k"), in: db) }
            try environment.read { snapshot throws in
                let committed = DispatchSemaphore(value: 0)
                let failure = Mutex<(any Error)?>(nil)
                Thread {
                    do {
                        try environment.write { try $0.put(bytes("after"), forKey: bytes("k"), in: db) }
                    } catch {
                        failure.withLock { $0 = error }
                    }
                    committed.signal()
                }.start()
                committed.wait()  // the writer never waits for this reader
                #expect(failure.withLock { $0 == nil })
                #expect(try snapshot.get(bytes("k"), in: db) == bytes("before"))
            }
            #expect(try environment.read { try $0.get(bytes("k"), in: db) } == bytes("after"))
        }
    }

    @Test func readersSeeConsistentSnapshotsWhileOneThreadWrites() throws {
        try withEnvironment { environment throws in
            let db = try environment.database("counters")
            try environment.write { transaction throws in
                try transaction.put(counter(0), forKey: bytes("a"), in: db)
                try transaction.put(counter(0), forKey: bytes("b"), in: db)
            }
            let commits: UInt64 = 300
            let writerDone = Atomic<Bool>(false)
            let problems = Mutex<[String]>([])
            let readCounts = Mutex<[Int]>([])
            let writer: @Sendable () -> Void = {
                defer { writerDone.store(true, ordering: .releasing) }
                do {
                    for round in 1...commits {
                        try environment.write { transaction throws in
                            try transaction.put(counter(round), forKey: bytes("a"), in: db)
                            try transaction.put(bytes("filler \(round)"), forKey: bytes("f\(round % 17)"), in: db)
                            try transaction.put(counter(round), forKey: bytes("b"), in: db)
                        }
                    }
                } catch {
                    problems.withLock { $0.append("writer: \(error)") }
                }
            }
            let reader: @Sendable () -> Void = {
                var last: UInt64 = 0
                var reads = 0
                do {
                    // At least 200 reads, and on until the writer is done: no timing assumptions.
                    while reads < 200 || !writerDone.load(ordering: .acquiring) {
                        let (a, b) = try environment.read { transaction throws in
                            (
                                try transaction.withValue(forKey: bytes("a"), in: db, counterValue),
                                try transaction.withValue(forKey: bytes("b"), in: db, counterValue)
                            )
                        }
                        guard let a, let b, a == b, a >= last else {
                            problems.withLock {
                                $0.append(
                                    "inconsistent read: a \(String(describing: a)) b \(String(describing: b)) after \(last)"
                                )
                            }
                            return
                        }
                        last = a
                        reads += 1
                    }
                    let final = try environment.read { try $0.withValue(forKey: bytes("a"), in: db, counterValue) }
                    if final != commits { problems.withLock { $0.append("final read \(String(describing: final))") } }
                } catch {
                    problems.withLock { $0.append("reader: \(error)") }
                }
                readCounts.withLock { $0.append(reads) }
            }
            runOnThreads([writer, reader, reader, reader])
            #expect(problems.withLock { $0 } == [])
            #expect(readCounts.withLock { $0.count } == 3)
        }
    }

    @Test func concurrentWritersAreSerialized() throws {
        try withEnvironment { environment throws in
            let db = try environment.database(nil)
            let failures = Atomic<Int>(0)
            let increment: @Sendable () -> Void = {
                for _ in 0..<100 {
                    do {
                        try environment.write { transaction throws in
                            let current = try transaction.withValue(forKey: bytes("n"), in: db, counterValue) ?? 0
                            try transaction.put(counter(current + 1), forKey: bytes("n"), in: db)
                        }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            runOnThreads([increment, increment, increment])
            #expect(failures.load(ordering: .relaxed) == 0)
            #expect(try environment.read { try $0.withValue(forKey: bytes("n"), in: db, counterValue) } == 300)
        }
    }

    @Test func manyReadersBeyondThePoolAndReadersFull() throws {
        try withEnvironment(.init(maximumReaders: 4, syncMode: .noSync)) { environment throws in
            let db = try environment.database(nil)
            try environment.write { try $0.put(bytes("v"), forKey: bytes("k"), in: db) }
            // Nested reads each hold a slot: the fifth exceeds the table of four.
            func nest(_ depth: Int) throws {
                try environment.read { transaction throws in
                    #expect(try transaction.get(bytes("k"), in: db) == bytes("v"))
                    if depth > 1 { try nest(depth - 1) }
                }
            }
            try nest(4)
            #expect(throws: LMDBError.readersFull) { try nest(5) }
            try nest(3)  // slots came back
        }
    }
}
