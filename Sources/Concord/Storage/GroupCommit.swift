import Foundation

/// The flushes that the writers of one store share under `Durability.groupCommit`.
///
/// Every commit of the store takes the next sequence number (`noteCommitted`, called with
/// the replica's lock held, so in commit order). A writer that must not return before its
/// commit is on the device calls `waitUntilFlushed` with its number after releasing the
/// replica's lock. The first to wait flushes (one `fsync` of the whole file) and thereby
/// covers every commit numbered up to `committed` when it started; writers that committed
/// meanwhile wait for it, and the first of them then flushes for all of them. So N writers
/// that commit while a flush runs share the next one.
///
/// A failed flush is reported to every writer it was to cover, never hidden by a later
/// flush that succeeds (after a failed `fsync` the kernel may have dropped those pages).
final class GroupCommit: @unchecked Sendable {
    private let condition = NSCondition()
    /// The number of the last commit (guarded by `condition`, as every field below).
    private var committed: UInt64 = 0
    /// Every commit up to this number is on the device.
    private var flushed: UInt64 = 0
    /// A writer is flushing now.
    private var flushing = false
    /// The flushes that failed (the last `failuresKept`): the commits each was to cover,
    /// and its error. A writer whose commit one was to cover gets its error, even when a
    /// later flush succeeded before the writer came to wait.
    private var failures: [(commits: ClosedRange<UInt64>, error: ConcordError)] = []
    private static let failuresKept = 64
    /// How many flushes ran (for tests and reports).
    private var flushCount: UInt64 = 0

    /// Numbers a commit that has just succeeded; returns its number.
    @discardableResult
    func noteCommitted() -> UInt64 {
        condition.withLock {
            committed += 1
            return committed
        }
    }

    /// The number of the last commit.
    var lastCommitted: UInt64 { condition.withLock { committed } }

    /// Whether a commit is not yet known to be on the device.
    var hasUnflushedCommits: Bool { condition.withLock { flushed < committed } }

    /// How many flushes have run.
    var flushesMade: UInt64 { condition.withLock { flushCount } }

    /// Returns once commit `sequence` is on the device: at once if a flush covered it,
    /// after the running flush and maybe one more otherwise. When no flush runs, this
    /// writer runs `flush` for every commit made so far.
    /// - Throws: the error of the flush that was to cover `sequence`.
    func waitUntilFlushed(_ sequence: UInt64, flush: () throws(ConcordError) -> Void) throws(ConcordError) {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let failed = failures.last(where: { $0.commits.contains(sequence) }) { throw failed.error }
            if flushed >= sequence { return }
            if flushing {
                condition.wait()
                continue
            }
            flushing = true
            let target = committed
            condition.unlock()
            let result = Result { () throws(ConcordError) in try flush() }
            condition.lock()
            flushing = false
            flushCount += 1
            switch result {
            case .success: flushed = max(flushed, target)
            case .failure(let error):
                if target > flushed {
                    if failures.count == Self.failuresKept { failures.removeFirst() }
                    failures.append(((flushed + 1)...target, error))
                }
            }
            condition.broadcast()
        }
    }
}
