import Concord
import Foundation

/// The settings of one simulated run. Everything random is drawn from `seed`, so a run
/// replays exactly: same seed, same commit, same trace.
public struct SimulationOptions: Sendable, Hashable {
    /// The seed of every random choice (workload, faults, network).
    public var seed: UInt64
    /// Replicas at the start.
    public var replicas: Int
    /// Transactions to attempt.
    public var operations: Int
    /// Objects per CRDT kind.
    public var keysPerKind: Int
    /// Distinct set elements.
    public var elements: Int
    /// Probability that a message is lost / duplicated; whether links reorder.
    public var dropRate: Double
    /// Probability that a message is delivered twice.
    public var duplicateRate: Double
    /// Whether messages may overtake each other.
    public var reorder: Bool
    /// Extra delay per message, in microseconds.
    public var delayMicroseconds: ClosedRange<UInt64>
    /// Fault kinds to inject.
    public var partitions: Bool
    /// Clog single links and restore them in random order.
    public var clogs: Bool
    /// Crash and restart replicas.
    public var crashes: Bool
    /// Wipe a replica's files and let it resync.
    public var wipes: Bool
    /// Add and remove replicas.
    public var membership: Bool
    /// Make replicas' commits fail now and then (an I/O error, a full map).
    public var storageFaults: Bool
    /// Log bound of every replica (small values force state transfers).
    public var logBound: Int
    /// Where the replicas' files go (a fresh temporary directory when nil).
    public var directory: URL?
    /// Bytes that drive the workload's and the faults' random choices before the seed
    /// takes over: a fuzzer's input becomes a whole schedule. Empty for seeded runs.
    public var schedule: [UInt8] = []

    /// Creates options; the defaults are a small run with every fault on.
    public init(
        seed: UInt64 = 1, replicas: Int = 3, operations: Int = 300, keysPerKind: Int = 2, elements: Int = 6,
        dropRate: Double = 0.05, duplicateRate: Double = 0.05, reorder: Bool = true,
        delayMicroseconds: ClosedRange<UInt64> = 0...2_000, partitions: Bool = true, clogs: Bool = true,
        crashes: Bool = true, wipes: Bool = true, membership: Bool = true, storageFaults: Bool = true,
        logBound: Int = 10_000, directory: URL? = nil
    ) {
        self.seed = seed
        self.replicas = max(1, replicas)
        self.operations = max(0, operations)
        self.keysPerKind = max(1, keysPerKind)
        self.elements = max(1, elements)
        self.dropRate = dropRate
        self.duplicateRate = duplicateRate
        self.reorder = reorder
        self.delayMicroseconds = delayMicroseconds
        self.partitions = partitions
        self.clogs = clogs
        self.crashes = crashes
        self.wipes = wipes
        self.membership = membership
        self.storageFaults = storageFaults
        self.logBound = logBound
        self.directory = directory
    }

    /// The `concord simulate` command line that replays this run.
    public var replayCommand: String {
        var parts = [
            "concord simulate --seed \(seed) --replicas \(replicas) --ops \(operations)",
            "--keys \(keysPerKind) --elements \(elements) --drop \(dropRate) --duplicate \(duplicateRate)",
        ]
        if !reorder { parts.append("--no-reorder") }
        if !partitions { parts.append("--no-partitions") }
        if !clogs { parts.append("--no-clogs") }
        if !crashes { parts.append("--no-crashes") }
        if !wipes { parts.append("--no-wipes") }
        if !membership { parts.append("--no-membership") }
        if !storageFaults { parts.append("--no-storage-faults") }
        if logBound != 10_000 { parts.append("--log-bound \(logBound)") }
        return parts.joined(separator: " ")
    }
}

/// What a run did and whether every check held.
public struct SimulationReport: Sendable {
    /// The options of the run.
    public var options: SimulationOptions
    /// Transactions attempted, acknowledged, and refused (e.g. bounded-counter rights).
    public var attempted = 0
    /// Transactions acknowledged (committed) by a replica.
    public var acknowledged = 0
    /// Operations inside acknowledged transactions.
    public var acknowledgedOperations = 0
    /// Of the acknowledged transactions, those committed by a replica still catching up
    /// (wiped, new or recovering from a power loss), under its incarnation's writer id.
    public var acknowledgedWhileBootstrapping = 0
    /// Changes delivered to the observations of objects (three per replica), each checked
    /// against the model at its clock.
    public var observedChanges = 0
    /// Transactions refused by a replica (no rights, bootstrapping).
    public var refused = 0
    /// Of those, the ones refused because the replica was still catching up and the
    /// transaction wrote a type that needs the complete state.
    public var refusedWhileBootstrapping = 0
    /// Scheduler events processed.
    public var events = 0
    /// Faults injected, by kind.
    public var faults: [String: Int] = [:]
    /// The network's counters at the end.
    public var network = Network.Statistics()
    /// The longest log any replica held during the run, and the total at the end.
    public var maximumLogLength = 0
    /// Total log entries over all replicas after the final synchronization.
    public var finalLogLength = 0
    /// Full state transfers sent.
    public var stateTransfers: UInt64 = 0
    /// Objects whose remove-wins metadata the replicas compacted, summed over replicas
    /// running at the end.
    public var objectsCompacted: UInt64 = 0
    /// Safety and liveness violations (empty when the run passed).
    public var failures: [String] = []
    /// Wall-clock duration of the run in seconds.
    public var durationSeconds = 0.0

    /// Whether every check held.
    public var passed: Bool { failures.isEmpty }
}

/// A seeded, deterministic simulation of a cluster under faults, in the style of
/// FoundationDB's simulator and TigerBeetle's VOPR: one thread, one scheduler, every
/// random choice from one seed.
///
/// Safety is checked after every scheduler event (clocks never move backwards, nothing is
/// applied before its causal dependencies, GC never outruns a live member, no read shows
/// part of a transaction) and object states are checked for monotonicity at regular
/// checkpoints; liveness is checked at the end: after healing everything and quiescing,
/// every replica holds the same value for every object, that value is what the sequential
/// model computes from every acknowledged operation, and every log is empty.
public enum Simulation {
    /// Runs one simulation.
    /// - Parameter progress: called with (transactions attempted, total) now and then.
    /// - Throws: only for setup failures (the directory cannot be created); every check
    ///   failure is reported in `SimulationReport.failures`.
    public static func run(
        _ options: SimulationOptions, progress: ((Int, Int) -> Void)? = nil
    ) throws -> SimulationReport {
        var runner = try Runner(options: options)
        defer { runner.finish() }
        return runner.run(progress: progress)
    }
}
