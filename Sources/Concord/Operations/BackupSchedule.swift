import Foundation

/// Backups on a schedule, with retention — the seed's `BackupManager` settings
/// (`backup_interval_ms`, `backup_dir`, `max_backups`). Set `Configuration.backups`; a
/// cluster in background delivery mode then takes a backup every `intervalSeconds` into
/// `directory` (named `backup-<UTC time>`), and after each one deletes what the retention
/// allows (`Backups.cleanup(keeping:maximumAge:)`: the newest backup always stays).
public struct BackupSchedule: Sendable, Hashable {
    /// Where the backups go (created if missing).
    public var directory: URL
    /// Seconds between backups; the first is taken one interval after the cluster opens.
    /// Default one hour, as the seed's.
    public var intervalSeconds: TimeInterval
    /// Keep the newest this many (nil: no limit by count). Default 24, as the seed's.
    public var keep: Int?
    /// Delete backups older than this many seconds (nil: no limit by age).
    public var maximumAgeSeconds: TimeInterval?

    /// A schedule; every setting but the directory has a default.
    public init(
        directory: URL, intervalSeconds: TimeInterval = 3_600, keep: Int? = 24, maximumAgeSeconds: TimeInterval? = nil
    ) {
        self.directory = directory
        self.intervalSeconds = max(0.001, intervalSeconds)
        self.keep = keep.map { max(1, $0) }
        self.maximumAgeSeconds = maximumAgeSeconds
    }
}

/// What the scheduled backups of a cluster have done so far.
public struct ScheduledBackups: Sendable, Hashable {
    /// Backups taken since the cluster opened.
    public var taken: Int
    /// The last one taken.
    public var last: BackupManifest?
    /// The last failure (of a backup or of its cleanup), if the last attempt failed.
    public var lastError: String?
    /// Backups the retention deleted since the cluster opened.
    public var deleted: Int
}

/// The thread that takes scheduled backups until stopped.
final class BackupScheduler: @unchecked Sendable {
    private let schedule: BackupSchedule
    private let condition = NSCondition()
    private var stopping = false
    private var finished = false
    private var state = ScheduledBackups(taken: 0, last: nil, lastError: nil, deleted: 0)

    /// Starts the thread; `take` takes one backup into the schedule's directory.
    init(schedule: BackupSchedule, take: @escaping @Sendable (URL) throws(ConcordError) -> BackupManifest) {
        self.schedule = schedule
        let thread = Thread { [self] in run(take) }
        thread.name = "concord-backups"
        thread.start()
    }

    var current: ScheduledBackups { condition.withLock { state } }

    private func run(_ take: @Sendable (URL) throws(ConcordError) -> BackupManifest) {
        condition.lock()
        while !stopping {
            let due = Date().addingTimeInterval(schedule.intervalSeconds)
            while !stopping && Date() < due { _ = condition.wait(until: due) }
            if stopping { break }
            condition.unlock()
            let outcome = Result { () throws(ConcordError) -> (BackupManifest, [String]) in
                let manifest = try take(schedule.directory)
                let deleted = try Backups(directory: schedule.directory).cleanup(
                    keeping: schedule.keep, maximumAge: schedule.maximumAgeSeconds)
                return (manifest, deleted)
            }
            condition.lock()
            switch outcome {
            case .success(let (manifest, deleted)):
                state.taken += 1
                state.last = manifest
                state.deleted += deleted.count
                state.lastError = nil
            case .failure(let error):
                state.lastError = error.description
            }
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the thread, waiting for a backup in progress to end. Idempotent.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
