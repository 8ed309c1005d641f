// The conflict rules of the built-in types. Counters and `GSet` have none: their joins
// lose nothing. A `BoundedCounter` conflict is a refused operation, not a join
// (`DetectedConflict.refusal(of:error:at:)`).

extension MVRegister: ConflictDetecting {
    /// A join that changes the surviving assignments and leaves more than one distinct
    /// value. The detail is the values in reading order; the replicas, those whose
    /// assignments survive. A delta the state holds changes nothing, and an assignment that
    /// observed the local ones replaces them, so neither reports.
    /// - Complexity: that of the join.
    public func conflicts(joining other: MVRegister, knowledge: JoinKnowledge) -> [DetectedConflict] {
        let joined = self.joined(other)
        guard joined.state.store.dots != state.store.dots else { return [] }
        return joined.standingConflicts
    }

    /// More than one distinct value.
    public var standingConflicts: [DetectedConflict] {
        let values = Set(state.store.values)
        guard values.count > 1 else { return [] }
        return [
            DetectedConflict(
                kind: .mvRegisterConcurrentValues, detail: .sorted(values),
                replicas: Set(state.store.dots.map(\.replica)).sorted())
        ]
    }
}

extension LWWRegister: ConflictDetecting {
    /// Two assignments by different writers, where the losing one was not known to the
    /// winning side. A register keeps timestamps, not dots, so the sides' clocks decide:
    /// - the incoming one wins: the local assignment was lost unless the incoming side had
    ///   seen every transaction of the local writer this replica had;
    /// - the local one wins: the incoming assignment was lost unless this replica had
    ///   already seen every transaction of its writer the incoming side had (then it is an
    ///   old assignment the local one overwrote).
    /// The clocks are those of whole replicas, so an assignment made before its side learnt
    /// of the other can pass for a causal one (a missed report, never a false one, when
    /// the side reports at once). The detail names the lost and winning values, timestamps
    /// and writers; the replicas are the losing writer, then the winning one.
    /// - Complexity: O(log n) in the clocks' sizes, plus comparing the values.
    @_specialize(where V == Int64)
    @_specialize(where V == UInt64)
    @_specialize(where V == String)
    @_specialize(where V == [UInt8])
    @_specialize(where V == Bool)
    public func conflicts(joining other: LWWRegister, knowledge: JoinKnowledge) -> [DetectedConflict] {
        guard let theirs = other.entry, let ours = entry,
            Self.assignmentIsLost(ours: ours.timestamp, theirs: theirs.timestamp, knowledge: knowledge)
        else {
            return []
        }
        let (lost, won) = theirs.timestamp > ours.timestamp ? (ours, theirs) : (theirs, ours)
        return [
            DetectedConflict(
                kind: .lwwAssignmentLost,
                detail: .object([
                    ("lost", .of(lost.value)), ("lostTimestamp", .of(lost.timestamp)),
                    ("won", .of(won.value)), ("wonTimestamp", .of(won.timestamp)),
                ]),
                replicas: [lost.timestamp.replica, won.timestamp.replica])
        ]
    }

    /// The rule above on the two entries' timestamps: whether joining the assignment
    /// stamped `theirs` into the one stamped `ours` loses one the winning side had not seen.
    static func assignmentIsLost(ours: HybridTimestamp, theirs: HybridTimestamp, knowledge: JoinKnowledge) -> Bool {
        guard theirs.replica != ours.replica else { return false }
        if theirs > ours {
            return knowledge.incomingClock[ours.replica] < knowledge.localClock[ours.replica]
        }
        return knowledge.localClock[theirs.replica] < knowledge.incomingClock[theirs.replica]
    }
}

/// The add-wins rule over one element's (or one flag's) dots, shared by `AWSet` and
/// `EWFlag`. A remove leaves no dot, so a concurrent remove shows only through the dots
/// both sides observed:
/// - the incoming side removed some of the local dots (its context covers them, its store
///   does not hold them) while the local side holds a dot it has not seen: a local add
///   concurrent with the incoming remove survives it;
/// - the local side does not hold the element, and the incoming side brings a dot it has
///   not seen after observing a dot the local side had seen and no longer holds: an
///   incoming (re-)add concurrent with the local remove, and it wins.
/// Returns the replicas of the dots involved, or nil when neither holds.
struct AddWinsRule {
    /// Contexts larger than this many dots are not searched for observed dots (a whole
    /// state's, not an operation's): the second case is not looked for then.
    static let searchBound: UInt64 = 4_096

    static func conflict(
        ours: Set<Dot>, ourContext: CausalContext, ourHeld: () -> Set<Dot>,
        theirs: Set<Dot>, theirContext: CausalContext, theirHeld: () -> Set<Dot>
    ) -> [ReplicaID]? {
        if !ours.isEmpty {
            let removedByThem = ours.filter { theirContext.contains($0) && !theirs.contains($0) }
            let unseenByThem = ours.filter { !theirContext.contains($0) }
            guard !removedByThem.isEmpty, !unseenByThem.isEmpty else { return nil }
            return Set(removedByThem.union(unseenByThem).map(\.replica)).sorted()
        }
        let new = theirs.filter { !ourContext.contains($0) }
        guard !new.isEmpty, theirContext.vector.total &+ UInt64(theirContext.cloud.count) <= searchBound else {
            return nil
        }
        let (held, theirsHeld) = (ourHeld(), theirHeld())
        var observed: [Dot] = theirContext.cloud.filter { ourContext.contains($0) }
        for entry in theirContext.vector.entries {
            for counter in 1...entry.counter {
                let dot = Dot(replica: entry.replica, counter: counter)
                if ourContext.contains(dot) { observed.append(dot) }
            }
        }
        let removedHere = observed.filter { !held.contains($0) && !theirsHeld.contains($0) }
        guard !removedHere.isEmpty else { return nil }
        return Set(new.map(\.replica)).sorted()
    }
}

extension AWSet: ConflictDetecting {
    /// An add and a remove of one element that were concurrent (`AddWinsRule`); the second
    /// case only when the incoming side adds exactly one element this replica has not seen
    /// (in a joined interval the observed dots of several operations mix, and could not be
    /// told apart). The detail is the element.
    /// - Complexity: O(n) dots, plus at most `AddWinsRule.searchBound` context lookups.
    public func conflicts(joining other: AWSet, knowledge: JoinKnowledge) -> [DetectedConflict] {
        var found: [(E, [ReplicaID])] = []
        for (element, ours) in state.store.entries {
            if let replicas = AddWinsRule.conflict(
                ours: ours.dots, ourContext: state.context, ourHeld: { [] },
                theirs: other.state.store[element].dots, theirContext: other.state.context, theirHeld: { [] })
            {
                found.append((element, replicas))
            }
        }
        let added = other.state.store.entries.filter { element, dots in
            state.store[element].isEmpty && dots.dots.contains { !state.context.contains($0) }
        }
        if added.count == 1, let (element, dots) = added.first,
            let replicas = AddWinsRule.conflict(
                ours: [], ourContext: state.context, ourHeld: { state.store.dots },
                theirs: dots.dots, theirContext: other.state.context, theirHeld: { other.state.store.dots })
        {
            found.append((element, replicas))
        }
        return E.sortedForReading(found.map(\.0)).compactMap { element in
            found.first { $0.0 == element }.map {
                DetectedConflict(kind: .concurrentAddRemove, detail: .of(element), replicas: $0.1)
            }
        }
    }
}

extension EWFlag: ConflictDetecting {
    /// An enable and a disable that were concurrent (`AddWinsRule`, with the enables as
    /// the one element's dots): the enable wins. The detail is the flag's value after the
    /// join (`true`).
    /// - Complexity: O(n) dots, plus at most `AddWinsRule.searchBound` context lookups.
    public func conflicts(joining other: EWFlag, knowledge: JoinKnowledge) -> [DetectedConflict] {
        guard
            let replicas = AddWinsRule.conflict(
                ours: state.store.dots, ourContext: state.context, ourHeld: { state.store.dots },
                theirs: other.state.store.dots, theirContext: other.state.context,
                theirHeld: { other.state.store.dots })
        else { return [] }
        return [
            DetectedConflict(kind: .concurrentEnableDisable, detail: .bool(joined(other).value), replicas: replicas)
        ]
    }
}

extension RWSet: ConflictDetecting {
    /// An element whose surviving operations after the join include an add and a remove
    /// (surviving operations are pairwise concurrent), when the join changed them: the
    /// remove wins. A delta the state holds changes nothing, and an operation that observed
    /// the others replaces them, so neither reports. The detail is the element; the
    /// replicas, those of the surviving operations.
    /// - Complexity: that of the join.
    public func conflicts(joining other: RWSet, knowledge: JoinKnowledge) -> [DetectedConflict] {
        let joined = self.joined(other)
        let elements = other.state.store.keys.filter { element in
            let operations = joined.state.store[element]
            let flags = operations.values
            return flags.contains(true) && flags.contains(false) && operations.dots != state.store[element].dots
        }
        return E.sortedForReading(elements).map { element in
            DetectedConflict(
                kind: .concurrentAddRemove, detail: .of(element),
                replicas: Set(joined.state.store[element].dots.map(\.replica)).sorted())
        }
    }
}

extension DWFlag: ConflictDetecting {
    /// Surviving operations after the join that include an enable and a disable, when the
    /// join changed them: the disable wins. The detail is the flag's value (`false`).
    /// - Complexity: that of the join.
    public func conflicts(joining other: DWFlag, knowledge: JoinKnowledge) -> [DetectedConflict] {
        let joined = self.joined(other)
        let flags = joined.state.store.values
        guard flags.contains(true), flags.contains(false), joined.state.store.dots != state.store.dots else {
            return []
        }
        return [
            DetectedConflict(
                kind: .concurrentEnableDisable, detail: .bool(joined.value),
                replicas: Set(joined.state.store.dots.map(\.replica)).sorted())
        ]
    }
}

extension GMap: ConflictDetecting {
    /// The conflicts of every field `other` holds, joined into this map's field (or into an
    /// empty one), with the field's name in front of their paths.
    /// - Complexity: that of the nested detections.
    public func conflicts(joining other: GMap, knowledge: JoinKnowledge) -> [DetectedConflict] {
        FieldKey.nestedConflicts(mine: keys, fieldState(_:), theirs: other.keys, other.fieldState(_:), knowledge)
    }

    /// The standing conflicts of every field.
    public var standingConflicts: [DetectedConflict] { FieldKey.nestedStanding(keys, fieldState(_:)) }
}

extension RRMap: ConflictDetecting {
    /// The conflicts of every field `other` holds, joined into this map's field (or into an
    /// empty one), with the field's name in front of their paths.
    /// - Complexity: that of the nested detections.
    public func conflicts(joining other: RRMap, knowledge: JoinKnowledge) -> [DetectedConflict] {
        FieldKey.nestedConflicts(mine: keys, fieldState(_:), theirs: other.keys, other.fieldState(_:), knowledge)
    }

    /// The standing conflicts of every field.
    public var standingConflicts: [DetectedConflict] { FieldKey.nestedStanding(keys, fieldState(_:)) }
}

extension FieldKey {
    static func nestedConflicts(
        mine: [FieldKey], _ myState: (FieldKey) -> (any CRDT)?, theirs: [FieldKey],
        _ theirState: (FieldKey) -> (any CRDT)?, _ knowledge: JoinKnowledge
    ) -> [DetectedConflict] {
        let all = Set(mine).union(theirs).sorted()
        let names = Dictionary(uniqueKeysWithValues: zip(all, inspectedNames(all)))
        var found: [DetectedConflict] = []
        for key in theirs {
            guard let incoming = theirState(key) else { continue }
            let local = myState(key) ?? Swift.type(of: incoming).init()
            found += DetectedConflict.conflicts(in: local, joining: incoming, knowledge: knowledge).map {
                $0.nested(under: names[key] ?? key.name)
            }
        }
        return found
    }

    static func nestedStanding(_ keys: [FieldKey], _ state: (FieldKey) -> (any CRDT)?) -> [DetectedConflict] {
        let names = inspectedNames(keys)
        var found: [DetectedConflict] = []
        for (name, key) in zip(names, keys) {
            guard let nested = state(key) else { continue }
            found += DetectedConflict.standing(in: nested).map { $0.nested(under: name) }
        }
        return found
    }
}
