import CRDTs
import Locking

/// A replica's clock after a commit, with the commit's LMDB transaction id, noted by the writer
/// while the replica is observed. A consumer whose read transaction has that id sees exactly
/// that commit, so it takes the clock from here instead of reading the clock record and the
/// log's last entry (`Storage.snapshotClock`); with any other id it reads them as before.
///
/// The writer copies the clock into the note's own storage and a reader copies it out: no
/// clock buffer is shared between threads, so neither the writer's next change to its clock
/// nor a reader's release of its copy touches memory the other uses.
final class CommittedClock: Sendable {
    private let note = Mutex<(transaction: UInt64?, clock: VectorClock)>((nil, VectorClock()))

    /// Notes `clock` as the clock of the snapshot of commit `transaction`, replacing the last note.
    /// The caller notes only a clock it knows to be the stored one at that commit.
    func note(_ clock: VectorClock, committedIn transaction: UInt64) {
        note.withLock { note in
            note.transaction = transaction
            note.clock.overwrite(with: clock)
        }
    }

    /// The clock noted for commit `transaction`, in storage of its own; nil when the last note
    /// is of another commit, or there is none.
    func clock(committedIn transaction: UInt64) -> VectorClock? {
        note.withLock { note in
            note.transaction == transaction ? note.clock.copiedToOwnStorage() : nil
        }
    }
}
