import CRDTs

/// The conflicts a step's joins show, for its batch (see `Replica.conflicts()`).
///
/// Every conflict is counted, but only the last `bound` are encoded as records: the store
/// keeps no more than that many (`Configuration.conflictRecordBound`), and a state transfer
/// after a long partition can show one for every object it brings.
struct FoundConflicts {
    /// What the replica and the incoming side knew.
    let knowledge: JoinKnowledge
    /// When the step runs.
    let nowMicroseconds: UInt64
    /// The most records kept.
    let bound: Int
    /// Every conflict's kind, in the order found.
    private(set) var kinds: [ConflictKind] = []
    /// The last `bound` conflicts found (a ring once full; `first` is the oldest).
    private var kept: [(key: ObjectKey, found: Found)] = []
    private var first = 0

    /// A conflict as found.
    private enum Found {
        case detected(DetectedConflict)
        /// Found by an encoded join (`CRDT.joinEncoded`), which gives only the kind: the
        /// details come from decoding both states, for the records kept only.
        case deferred(kind: ConflictKind, local: [UInt8], incoming: any CRDT)
    }

    init(knowledge: JoinKnowledge, nowMicroseconds: UInt64, bound: Int) {
        self.knowledge = knowledge
        self.nowMicroseconds = nowMicroseconds
        self.bound = max(1, bound)
    }

    /// Records the conflicts that joining `delta` into `state` shows (into the initial
    /// state when the replica holds none). Takes `state` as a separate argument so that
    /// any copy made to look at it is gone before the caller joins in place.
    mutating func detect(in state: (any CRDT)?, joining delta: ObjectDelta) {
        let local = state ?? type(of: delta.state).init()
        for conflict in DetectedConflict.conflicts(in: local, joining: delta.state, knowledge: knowledge) {
            keep(.detected(conflict), kind: conflict.kind, key: delta.key)
        }
    }

    /// Records a conflict of `kind` that an encoded join of `delta` into the stored state
    /// `local` (`CRDT.serialized()` bytes) found.
    mutating func note(_ kind: ConflictKind, joining delta: ObjectDelta, into local: [UInt8]) {
        keep(.deferred(kind: kind, local: local, incoming: delta.state), kind: kind, key: delta.key)
    }

    private mutating func keep(_ found: Found, kind: ConflictKind, key: ObjectKey) {
        kinds.append(kind)
        if kept.count < bound {
            kept.append((key, found))
        } else {
            kept[first] = (key, found)
            first = (first + 1) % bound
        }
    }

    /// Adds the conflicts to `batch`: every one counted, the kept ones as records, oldest first.
    func add(to batch: inout StorageBatch) {
        guard !kinds.isEmpty else { return }
        let dropped = kinds.count - kept.count
        for kind in kinds[..<dropped] { batch.countConflict(kind: kind) }
        for offset in 0..<kept.count {
            let (key, found) = kept[(first + offset) % kept.count]
            switch found {
            case .detected(let conflict):
                batch.appendConflict(
                    Storage.encodeConflict(conflict, key: key, timeMicroseconds: nowMicroseconds), kind: conflict.kind)
            case .deferred(let kind, let local, let incoming):
                // A stored state that does not decode (damage the encoded join did not look
                // at) is counted, not recorded; `verify` reports the damage.
                guard let state = try? Storage.decodeObject(key, local),
                    let conflict = DetectedConflict.conflicts(in: state, joining: incoming, knowledge: knowledge)
                        .first(where: { $0.kind == kind })
                else {
                    batch.countConflict(kind: kind)
                    continue
                }
                batch.appendConflict(
                    Storage.encodeConflict(conflict, key: key, timeMicroseconds: nowMicroseconds), kind: kind)
            }
        }
    }
}
