import Concord
import CoreMetrics
import Foundation
import Locking

/// A seeded mixed workload that keeps a served cluster busy, so a dashboard has something
/// to show: counters, sets, registers, flags and multi-key transactions spread over the
/// replicas, reads and compare-and-swaps, a `BoundedCounter` decremented now and then where
/// it has no rights (refusals), and one `MVRegister` assigned at two replicas at once
/// (concurrent values, as background delivery has not carried one to the other yet).
///
/// It runs on a thread of its own (Concord's calls block: LMDB commits), ten ticks a second,
/// each doing a tenth of the rate; a tick never does more than `maximumTransactionsPerTick`,
/// and a late tick does not catch up, so a slow disk slows the workload, not the server.
final class Workload: Sendable {
    /// The most transactions one tick runs, whatever the rate.
    static let maximumTransactionsPerTick = 1_000
    /// Ticks per second.
    static let ticksPerSecond = 10

    private let cluster: Cluster
    private let transactionsPerSecond: Int
    private let seed: UInt64
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    /// Error codes already reported on standard error (each once).
    private let reportedCodes = Mutex<Set<String>>([])
    private let committed = Counter(
        label: "concord_workload_transactions_total", dimensions: [("outcome", "committed")])

    init(cluster: Cluster, transactionsPerSecond: Int, seed: UInt64) {
        self.cluster = cluster
        self.transactionsPerSecond = transactionsPerSecond
        self.seed = seed
    }

    /// Starts the thread. Idempotent.
    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "concord-workload"
        thread.start()
    }

    /// Stops the thread and waits for its tick to end. Idempotent; nothing when not started.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        guard started.load(ordering: .acquiring) else { return }
        finished.wait()
    }

    private func run() {
        var generator = WorkloadGenerator(seed: seed)
        let perTick = Double(transactionsPerSecond) / Double(Self.ticksPerSecond)
        var carry = 0.0
        let tick = 1.0 / Double(Self.ticksPerSecond)
        var next = Date()
        while !stopping.load(ordering: .acquiring) {
            carry += perTick
            let count = min(Int(carry), Self.maximumTransactionsPerTick)
            carry -= Double(Int(carry))
            for _ in 0..<count where !stopping.load(ordering: .acquiring) {
                perform(generator.nextStep())
            }
            next += tick
            let wait = next.timeIntervalSinceNow
            if wait > 0 {
                Thread.sleep(forTimeInterval: wait)
            } else {
                next = Date()  // late: do not catch up
            }
        }
    }

    /// Runs one step, counting its outcome; refusals and replicas catching up are part of the
    /// workload, other errors are reported once per code on standard error.
    private func perform(_ step: WorkloadStep) {
        let replicas = cluster.replicas
        guard !replicas.isEmpty else { return }
        do {
            try step.run(on: replicas)
            committed.increment()
        } catch let error as ConcordError {
            let code = error.code.description.replacingOccurrences(of: " ", with: "_")
            Counter(label: "concord_workload_transactions_total", dimensions: [("outcome", code)]).increment()
            guard error.code != .operationRejected, error.code != .bootstrapping else { return }
            let isNew = reportedCodes.withLock { $0.insert(code).inserted }
            if isNew {
                FileHandle.standardError.write(Data("concord serve: workload: \(error) (reported once)\n".utf8))
            }
        } catch {
            Counter(label: "concord_workload_transactions_total", dimensions: [("outcome", "other")]).increment()
            FileHandle.standardError.write(Data("concord serve: workload: \(error)\n".utf8))
        }
    }
}

/// One step of the workload, drawn by `WorkloadGenerator`.
enum WorkloadStep: Sendable, Equatable {
    case counter(replica: Int, key: Int, delta: Int64)
    case visits(replica: Int, count: UInt64)
    case tag(replica: Int, element: Int, add: Bool)
    case lww(replica: Int, value: Int)
    case flag(replica: Int, enable: Bool)
    case transaction(replica: Int, key: Int, element: Int)
    case read(replica: Int, key: Int)
    case compareAndSwap(replica: Int, value: Int)
    case boundedIncrement(replica: Int, amount: Int64)
    case boundedDecrement(replica: Int, amount: Int64)
    case concurrentAssign(first: Int, second: Int, value: Int)

    static let bucket = "workload"

    func run(on replicas: [Replica]) throws {
        let bucket = Self.bucket
        func at(_ index: Int) -> Replica { replicas[index % replicas.count] }
        switch self {
        case .counter(let replica, let key, let delta):
            let key = Key<PNCounter>("counter-\(key)", bucket: bucket)
            try at(replica).update(key, delta >= 0 ? .increment(delta) : .decrement(-delta))
        case .visits(let replica, let count):
            try at(replica).update(Key<GCounter>("visits", bucket: bucket), .increment(count))
        case .tag(let replica, let element, let add):
            let key = Key<AWSet<String>>("tags", bucket: bucket)
            try at(replica).update(key, add ? .add("tag-\(element)") : .remove("tag-\(element)"))
        case .lww(let replica, let value):
            try at(replica).update(Key<LWWRegister<String>>("leader", bucket: bucket), .assign("node-\(value)"))
        case .flag(let replica, let enable):
            try at(replica).update(Key<EWFlag>("maintenance", bucket: bucket), enable ? .enable : .disable)
        case .transaction(let replica, let key, let element):
            try at(replica).transaction { transaction in
                try transaction.update(Key<PNCounter>("counter-\(key)", bucket: bucket), .increment(1))
                try transaction.update(Key<AWSet<String>>("tags", bucket: bucket), .add("tag-\(element)"))
                _ = try transaction.read(Key<GCounter>("visits", bucket: bucket))
            }
        case .read(let replica, let key):
            _ = try at(replica).read(Key<PNCounter>("counter-\(key)", bucket: bucket))
        case .compareAndSwap(let replica, let value):
            let key = Key<LWWRegister<String>>("leader", bucket: bucket)
            let current = try at(replica).read(key)
            _ = try at(replica).compareAndSwap(key, expected: current, new: "node-\(value)")
        case .boundedIncrement(let replica, let amount):
            try at(replica).update(Key<BoundedCounter>("seats", bucket: bucket), .increment(amount))
        case .boundedDecrement(let replica, let amount):
            try at(replica).update(Key<BoundedCounter>("seats", bucket: bucket), .decrement(amount))
        case .concurrentAssign(let first, let second, let value):
            let key = Key<MVRegister<String>>("profile", bucket: bucket)
            try at(first).update(key, .assign("v\(value)-a"))
            try at(second).update(key, .assign("v\(value)-b"))
        }
    }
}

/// Draws the workload's steps from a seed: the same seed, the same steps.
struct WorkloadGenerator: Sendable {
    private var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// The next step: about a quarter counters, the rest spread over the other kinds; a
    /// replica index is reduced modulo the cluster's size when the step runs.
    mutating func nextStep() -> WorkloadStep {
        let replica = below(64)
        switch below(100) {
        case 0..<25: return .counter(replica: replica, key: below(4), delta: Int64(below(9)) - 3)
        case 25..<35: return .visits(replica: replica, count: UInt64(1 + below(3)))
        case 35..<50: return .tag(replica: replica, element: below(16), add: below(3) > 0)
        case 50..<57: return .lww(replica: replica, value: below(5))
        case 57..<62: return .flag(replica: replica, enable: below(2) == 0)
        case 62..<72: return .transaction(replica: replica, key: below(4), element: below(16))
        case 72..<84: return .read(replica: replica, key: below(4))
        case 84..<89: return .compareAndSwap(replica: replica, value: below(5))
        // Rights arrive at one replica; decrements go anywhere, so most elsewhere are refused.
        case 89..<93: return .boundedIncrement(replica: 0, amount: Int64(1 + below(3)))
        case 93..<97: return .boundedDecrement(replica: replica, amount: Int64(1 + below(4)))
        default: return .concurrentAssign(first: replica, second: replica + 1, value: below(1_000))
        }
    }
}
