import CRDTs

/// Decides when a replica may compact the causal metadata of its objects, and which.
///
/// A replica compacts (`CRDT.compactObserved()`) once every member of the current membership
/// has acknowledged exactly its clock, with reports from the current membership epoch, and
/// it is not bootstrapping. Then every member's transactions up to its report are here, each
/// member's later ones happen after all of them, and a wiped or new member writes only once
/// it has what this replica had when it learned of it (see `Bootstrap`). So no operation
/// concurrent with anything stored here can still arrive, and each object may treat all it
/// has observed as stable. Values never change.
///
/// The objects changed since the last compaction are kept in memory only, so the first
/// compaction after opening visits every object. Objects of types that keep nothing to
/// compact (`CRDT.compactsObservedMetadata`) are never noted or visited.
struct Compactor {
    private(set) var changedObjects: Set<ObjectKey> = []
    private(set) var compactsEveryObject = true
    /// The clock of the last compaction.
    private(set) var compactedAt = VectorClock()
    /// The types of the objects noted.
    private var types = RegisteredTypes()

    /// Whether a compaction at `clock` is due and safe.
    func isDue(clock: VectorClock, bootstrapping: Bool, peers: PeerTable, epoch: UInt64) -> Bool {
        (compactsEveryObject || !changedObjects.isEmpty) && clock != compactedAt && !bootstrapping
            && peers.allAcknowledge(exactly: clock, epoch: epoch)
    }

    mutating func noteChanged(_ keys: some Sequence<ObjectKey>) {
        for key in keys where compacts(key.type) { changedObjects.insert(key) }
    }

    /// Whether objects of type `code` may have something to compact (an unregistered type
    /// is visited: it fails to decode, which reports the damage).
    mutating func compacts(_ code: CRDTTypeCode) -> Bool {
        types.type(for: code)?.compactsObservedMetadata ?? true
    }

    /// The compaction at `clock` is in the store.
    mutating func noteCompacted(at clock: VectorClock) {
        changedObjects.removeAll()
        compactsEveryObject = false
        compactedAt = clock
    }
}
