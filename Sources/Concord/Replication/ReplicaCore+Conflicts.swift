/// The conflicts the joins of one interval or state transfer show, encoded as records for
/// the step's batch (see `Storage+Conflicts`).
///
/// Only remote joins detect conflicts: a local transaction never does, so the write path
/// pays nothing. The detection reads only the states the join already has in hand.
struct FoundConflicts {
    /// What the replica and the incoming side knew.
    let knowledge: JoinKnowledge
    /// When the step runs.
    let nowMicroseconds: UInt64
    /// The encoded records and their kinds, in the order found.
    private(set) var records: [(bytes: [UInt8], kind: ConflictKind)] = []

    init(knowledge: JoinKnowledge, nowMicroseconds: UInt64) {
        self.knowledge = knowledge
        self.nowMicroseconds = nowMicroseconds
    }

    /// Records the conflicts that joining `delta` into `state` shows (into the initial
    /// state when the replica holds none). Takes `state` as a separate argument so that
    /// any copy made to look at it is gone before the caller joins in place.
    mutating func detect(in state: (any CRDT)?, joining delta: ObjectDelta) {
        let local = state ?? type(of: delta.state).init()
        for conflict in DetectedConflict.conflicts(in: local, joining: delta.state, knowledge: knowledge) {
            records.append(
                (Storage.encodeConflict(conflict, key: delta.key, timeMicroseconds: nowMicroseconds), conflict.kind))
        }
    }
}
