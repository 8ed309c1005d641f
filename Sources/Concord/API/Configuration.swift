/// How durable a replica's commits are. Each case maps to LMDB flags.
///
/// | case | LMDB | after a process crash | after a power loss |
/// |---|---|---|---|
/// | `.full` | fsync per commit | every commit | every commit |
/// | `.noSync` | `MDB_NOSYNC` | every commit (the OS has the pages) | the last commits may be gone; the environment stays consistent |
/// | `.noSyncWriteMap` | `MDB_NOSYNC` + `MDB_WRITEMAP` | every commit (the pages are in the shared file mapping) | the last commits may be gone, and the environment may be corrupted: restore from a backup or resync the replica from a peer (`Cluster.wipe`) |
public enum Durability: Sendable, Hashable, CaseIterable {
    /// Every commit is flushed to the device before the call returns (the default).
    case full
    /// Commits reach the OS but are not flushed (AntidoteDB's `ANTIDOTE_SYNC_LOG=false`).
    case noSync
    /// As `.noSync`, and LMDB writes through a writable memory map instead of one `pwrite`
    /// per dirty page: the fastest commits (a few microseconds), at the price of
    /// consistency after a power loss (not after a process crash: the kernel keeps the
    /// mapped pages). Also, a stray write through a bad pointer in this process could
    /// damage the file. For replicas that peers can rebuild, caches and benchmarks.
    case noSyncWriteMap
    /// Group commit: as `.full`, every local transaction is on the device before `update`
    /// or `transaction` returns, but concurrent writers at one replica share flushes. A
    /// commit does not fsync; its writer releases the replica's lock and waits for an
    /// `fsync` that covers its commit: the first writer to wait makes one for every commit
    /// made so far, and those that commit meanwhile share the next. A lone writer pays what
    /// it pays under `.full`; many writers pay far fewer flushes than transactions (how much
    /// faster that is depends on the device: see BENCHMARKS.md). What the replica applies
    /// from its peers is flushed with the next local transaction or by the OS, as under
    /// `.noSync`: after a power loss the replica recovers what it may have lost from its
    /// peers, as under `.noSync`, while every transaction `update` acknowledged survives.
    /// Should the flush fail, `update` throws `ConcordError.storage` although its
    /// transaction committed (it is read, and replicated): it may not survive a power loss.
    case groupCommit
}

/// How messages between replicas are delivered.
public enum DeliveryMode: Sendable, Hashable {
    /// Nothing moves until the caller calls `Cluster.step()` or `synchronize()`: one seeded
    /// scheduler drives delivery, timers and faults, so a run replays exactly from its seed.
    case manual
    /// A delivery thread moves messages in real time, each after `latencyMicroseconds`.
    case background(latencyMicroseconds: UInt64)
}

/// Every knob of the engine, each with a sensible default.
///
/// `Configuration(durability: .noSync)` reads naturally; set the others by name.
public struct Configuration: Sendable, Hashable {
    /// How durable commits are. Default `.full`.
    public var durability: Durability
    /// How messages move. Default `.manual`.
    public var deliveryMode: DeliveryMode
    /// The seed of every random choice of the network (faults, latencies, ordering).
    public var seed: UInt64
    /// A replica ships a delta interval once this many transactions are waiting (1 ships
    /// every transaction at once). Default 16.
    public var deltaIntervalTransactions: Int
    /// …or once the oldest waiting transaction is this old. Default 1 ms.
    public var deltaIntervalMicroseconds: UInt64
    /// At most this many log entries go into one interval message. Default 4096.
    public var maximumIntervalEntries: Int
    /// How often a replica resends what a reachable peer has not acknowledged, and
    /// collects garbage. Default 5 ms (simulated time in manual mode).
    public var antiEntropyIntervalMicroseconds: UInt64
    /// The most log entries a replica keeps for peers that lag behind. Past it the oldest
    /// go, and a peer that still lacks them gets a full state transfer instead — so a dead
    /// replica cannot make the log grow without bound. Default 10 000.
    public var logBound: Int
    /// The most intervals a replica buffers while waiting for their causal dependencies;
    /// past it new ones are dropped and anti-entropy resends them. Default 1024.
    public var causalBufferBound: Int
    /// Network latency in manual mode: each message takes a time drawn from this range.
    public var latencyMicroseconds: ClosedRange<UInt64>
    /// How long `Replica.read(_:after:)` waits by default. Default 2 s.
    public var readTimeoutMicroseconds: UInt64
    /// The initial LMDB map size of each replica (it grows on demand). Default 64 MiB.
    public var mapSizeBytes: Int
    /// The most an LMDB map may grow to. Default 64 GiB.
    public var maximumMapSizeBytes: Int
    /// The most conflict records a replica keeps (see `Replica.conflicts()`): past it, the
    /// oldest go in the same commit that adds new ones, so a hot register cannot make them
    /// grow without bound. At least 1 (the newest record also carries the running total).
    /// Default 1000.
    public var conflictRecordBound: Int
    /// Backups taken on a schedule while the cluster runs in background delivery mode (nil:
    /// none; ignored in manual mode, where the caller decides when anything happens). Not
    /// recorded in the cluster manifest: a schedule belongs to the process that runs the
    /// cluster. See `BackupSchedule` and `Cluster.scheduledBackups`.
    public var backups: BackupSchedule?
    /// Encryption at rest and authenticated messages (nil: plain). The manifest records the
    /// key's identifier, never the key. See `Encryption`.
    public var encryption: Encryption?
    /// Whether administrative actions (open, close, crash, backup, …) are recorded in the
    /// directory's audit log (see `AuditLog`). Default true; the simulator turns it off.
    public var auditLog: Bool
    /// How long an observer that has found nothing new keeps looking (yielding its thread
    /// between looks) before it parks until the next commit. A writer that commits again
    /// within this time finds its observers awake and never pays to wake one: on a virtual
    /// machine, waking a parked thread cost the writer about 7 µs per commit here, more than
    /// half of what the commit itself took (BENCHMARKS.md, "Observation"). 0 parks at once.
    /// The time is spent only after a change was delivered or looked for, never while
    /// nothing happens. Default 50 µs.
    public var observationSpinMicroseconds: UInt64

    /// Creates a configuration; every parameter has a default.
    public init(
        durability: Durability = .full,
        deliveryMode: DeliveryMode = .manual,
        seed: UInt64 = 1,
        deltaIntervalTransactions: Int = 16,
        deltaIntervalMicroseconds: UInt64 = 1_000,
        maximumIntervalEntries: Int = 4_096,
        antiEntropyIntervalMicroseconds: UInt64 = 5_000,
        logBound: Int = 10_000,
        causalBufferBound: Int = 1_024,
        latencyMicroseconds: ClosedRange<UInt64> = 100...1_000,
        readTimeoutMicroseconds: UInt64 = 2_000_000,
        mapSizeBytes: Int = 64 << 20,
        maximumMapSizeBytes: Int = 64 << 30,
        conflictRecordBound: Int = 1_000,
        backups: BackupSchedule? = nil,
        encryption: Encryption? = nil,
        auditLog: Bool = true,
        observationSpinMicroseconds: UInt64 = 50
    ) {
        self.durability = durability
        self.deliveryMode = deliveryMode
        self.seed = seed
        self.deltaIntervalTransactions = max(1, deltaIntervalTransactions)
        self.deltaIntervalMicroseconds = deltaIntervalMicroseconds
        self.maximumIntervalEntries = max(1, maximumIntervalEntries)
        self.antiEntropyIntervalMicroseconds = max(1, antiEntropyIntervalMicroseconds)
        self.logBound = max(1, logBound)
        self.causalBufferBound = max(1, causalBufferBound)
        self.latencyMicroseconds = latencyMicroseconds
        self.readTimeoutMicroseconds = readTimeoutMicroseconds
        self.mapSizeBytes = mapSizeBytes
        self.maximumMapSizeBytes = max(mapSizeBytes, maximumMapSizeBytes)
        self.conflictRecordBound = max(1, conflictRecordBound)
        self.backups = backups
        self.encryption = encryption
        self.auditLog = auditLog
        self.observationSpinMicroseconds = observationSpinMicroseconds
    }
}
