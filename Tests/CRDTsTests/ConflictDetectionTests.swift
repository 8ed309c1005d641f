import Testing

@testable import CRDTs

@Suite struct ConflictDetectionTests {
    let r1 = UpdateContext(replica: 1, timeMicroseconds: 10)
    let r2 = UpdateContext(replica: 2, timeMicroseconds: 20)
    let r3 = UpdateContext(replica: 3, timeMicroseconds: 30)
    let none = JoinKnowledge(localClock: VectorClock(), incomingClock: VectorClock())

    // MARK: MVRegister

    @Test func mvRegisterConcurrentAssignmentsConflict() throws {
        var a = MVRegister<String>()
        var b = MVRegister<String>()
        _ = try a.apply(.assign("a"), context: r1)
        let delta = try b.apply(.assign("b"), context: r2)
        let found = a.conflicts(joining: delta, knowledge: none)
        #expect(found.map(\.kind) == [.mvRegisterConcurrentValues])
        #expect(found.first?.detail == .array([.string("a"), .string("b")]))
        #expect(found.first?.replicas == [1, 2])
        // The state holds the delta now: joining it again shows nothing.
        a.join(delta)
        #expect(a.conflicts(joining: delta, knowledge: none).isEmpty)
        #expect(a.standingConflicts.count == 1)
    }

    @Test func mvRegisterCausallyLaterOrEqualAssignmentsDoNotConflict() throws {
        var a = MVRegister<String>()
        var b = MVRegister<String>()
        let first = try a.apply(.assign("a"), context: r1)
        b.join(first)
        let later = try b.apply(.assign("b"), context: r2)
        #expect(a.conflicts(joining: later, knowledge: none).isEmpty)

        var c = MVRegister<String>()
        var d = MVRegister<String>()
        _ = try c.apply(.assign("same"), context: r1)
        let same = try d.apply(.assign("same"), context: r2)
        #expect(c.conflicts(joining: same, knowledge: none).isEmpty, "two assignments of one value read as one")
    }

    // MARK: LWWRegister

    @Test func lwwConcurrentAssignmentLosesAndSaysWhichWriter() throws {
        var a = LWWRegister<String>()
        var b = LWWRegister<String>()
        _ = try a.apply(.assign("early"), context: r1)
        let delta = try b.apply(.assign("late"), context: r2)
        // r1 has its own transaction 1; r2's interval does not cover it: concurrent.
        let atA = JoinKnowledge(localClock: [1: 1], incomingClock: [2: 1])
        let found = a.conflicts(joining: delta, knowledge: atA)
        #expect(found.map(\.kind) == [.lwwAssignmentLost])
        #expect(found.first?.replicas == [1, 2], "the loser first")
        let detail = try #require(found.first?.detail.jsonText)
        #expect(detail.hasPrefix(#"{"lost":"early""#) && detail.contains(#""won":"late""#))

        // At r2, the incoming assignment is the one that loses.
        let atB = JoinKnowledge(localClock: [2: 1], incomingClock: [1: 1])
        var aDelta = LWWRegister<String>()
        _ = try aDelta.apply(.assign("early"), context: r1)
        #expect(b.conflicts(joining: aDelta, knowledge: atB).first?.replicas == [1, 2])
    }

    @Test func lwwCausallyLaterDuplicateAndOldAssignmentsDoNotConflict() throws {
        var a = LWWRegister<String>()
        let first = try a.apply(.assign("first"), context: r1)
        var b = LWWRegister<String>()
        b.join(first)
        let later = try b.apply(.assign("second"), context: r2)
        // r2 had seen r1's transaction when it assigned.
        #expect(
            a.conflicts(joining: later, knowledge: JoinKnowledge(localClock: [1: 1], incomingClock: [1: 1, 2: 1]))
                .isEmpty)
        // Duplicate delivery: the same entry.
        #expect(
            a.conflicts(joining: first, knowledge: JoinKnowledge(localClock: [1: 1], incomingClock: [1: 1])).isEmpty)
        // An old assignment arriving again at a replica that had overwritten it.
        #expect(
            b.conflicts(joining: first, knowledge: JoinKnowledge(localClock: [1: 1, 2: 1], incomingClock: [1: 1]))
                .isEmpty)
        // One writer's successive assignments never conflict.
        let again = try a.apply(.assign("third"), context: r1)
        var c = LWWRegister<String>()
        c.join(first)
        #expect(
            c.conflicts(joining: again, knowledge: JoinKnowledge(localClock: [1: 1], incomingClock: [1: 2])).isEmpty)
    }

    // MARK: AWSet and EWFlag

    @Test func awSetReAddConcurrentWithRemoveConflicts() throws {
        var a = AWSet<String>()
        let add = try a.apply(.add("x"), context: r1)
        var b = AWSet<String>()
        b.join(add)
        _ = try a.apply(.remove("x"), context: r1)  // r1 removes x
        let readd = try b.apply(.add("x"), context: r2)  // r2, not having seen it, adds x again
        let found = a.conflicts(joining: readd, knowledge: none)
        #expect(found.map(\.kind) == [.concurrentAddRemove])
        #expect(found.first?.detail == .string("x"))
        #expect(found.first?.replicas == [2])
    }

    @Test func awSetRemoveConcurrentWithAnotherReplicasAddConflicts() throws {
        var a = AWSet<String>()
        let add = try a.apply(.add("x"), context: r1)
        var b = AWSet<String>()
        b.join(add)
        var c = AWSet<String>()
        c.join(add)
        let remove = try b.apply(.remove("x"), context: r2)
        var d = AWSet<String>()
        let concurrentAdd = try d.apply(.add("x"), context: r3)
        c.join(concurrentAdd)  // c holds x with the dots of r1 and r3
        let found = c.conflicts(joining: remove, knowledge: none)
        #expect(found.map(\.kind) == [.concurrentAddRemove])
        #expect(found.first?.replicas == [1, 3])
    }

    @Test func awSetCausalRemoveAndReAddDoNotConflict() throws {
        var a = AWSet<String>()
        let add = try a.apply(.add("x"), context: r1)
        var b = AWSet<String>()
        b.join(add)
        let remove = try b.apply(.remove("x"), context: r2)
        #expect(a.conflicts(joining: remove, knowledge: none).isEmpty, "the remove saw every add")
        a.join(remove)
        let readd = try a.apply(.add("x"), context: r1)
        #expect(b.conflicts(joining: readd, knowledge: none).isEmpty, "the re-add saw the remove")
        b.join(readd)
        #expect(b.conflicts(joining: readd, knowledge: none).isEmpty, "a duplicate")
    }

    @Test func ewFlagEnableConcurrentWithDisableConflicts() throws {
        var a = EWFlag()
        let enable = try a.apply(.enable, context: r1)
        var b = EWFlag()
        b.join(enable)
        let disable = try a.apply(.disable, context: r1)
        let reenable = try b.apply(.enable, context: r2)
        #expect(a.conflicts(joining: reenable, knowledge: none).map(\.kind) == [.concurrentEnableDisable])
        var c = EWFlag()
        c.join(enable)
        c.join(disable)
        let later = try c.apply(.enable, context: r3)
        #expect(a.conflicts(joining: later, knowledge: none).isEmpty)
    }

    // MARK: RWSet and DWFlag

    @Test func rwSetConcurrentAddAndRemoveConflictAndCausalOnesDoNot() throws {
        var a = RWSet<Int64>()
        var b = RWSet<Int64>()
        _ = try a.apply(.add(7), context: r1)
        let remove = try b.apply(.remove(7), context: r2)
        let found = a.conflicts(joining: remove, knowledge: none)
        #expect(found.map(\.kind) == [.concurrentAddRemove])
        #expect(found.first?.detail == .integer(7))
        #expect(found.first?.replicas == [1, 2])
        a.join(remove)
        #expect(a.conflicts(joining: remove, knowledge: none).isEmpty, "a duplicate")

        var c = RWSet<Int64>()
        let add = try c.apply(.add(1), context: r1)
        var d = RWSet<Int64>()
        d.join(add)
        let laterRemove = try d.apply(.remove(1), context: r2)
        #expect(c.conflicts(joining: laterRemove, knowledge: none).isEmpty)
    }

    @Test func dwFlagConcurrentEnableAndDisableConflict() throws {
        var a = DWFlag()
        var b = DWFlag()
        _ = try a.apply(.enable, context: r1)
        let disable = try b.apply(.disable, context: r2)
        let found = a.conflicts(joining: disable, knowledge: none)
        #expect(found.map(\.kind) == [.concurrentEnableDisable])
        #expect(found.first?.detail == .bool(false))
        a.join(disable)
        let later = try a.apply(.enable, context: r1)
        #expect(b.conflicts(joining: later, knowledge: none).isEmpty)
    }

    // MARK: Maps, erasure, refusals

    @Test func nestedConflictsCarryTheirFieldPath() throws {
        var a = GMap()
        var b = GMap()
        _ = try a.apply(
            .update("profile", RRMap.self, .update("motto", MVRegister<String>.self, .assign("a"))), context: r1)
        let delta = try b.apply(
            .update("profile", RRMap.self, .update("motto", MVRegister<String>.self, .assign("b"))), context: r2)
        let found = DetectedConflict.conflicts(in: a as any CRDT, joining: delta as any CRDT, knowledge: none)
        #expect(found.map(\.fieldPath) == [["profile", "motto"]])
        a.join(delta)
        #expect(DetectedConflict.standing(in: a).map(\.fieldPath) == [["profile", "motto"]])
        #expect(DetectedConflict.conflicts(in: a, joining: delta, knowledge: none).isEmpty)
        #expect(DetectedConflict.conflicts(in: GCounter(), joining: GCounter(), knowledge: none).isEmpty)
        #expect(DetectedConflict.conflicts(in: a, joining: GCounter(), knowledge: none).isEmpty)
    }

    @Test func refusedBoundedCounterOperationsAreConflicts() throws {
        var counter = BoundedCounter()
        let operation = BoundedCounter.Operation.decrement(3)
        let error = try #require(throws: CRDTError.self) { try counter.apply(operation, context: r1) }
        let refusal = try #require(DetectedConflict.refusal(of: operation, error: error, at: 1))
        #expect(refusal.kind == .boundedCounterRefused)
        #expect(refusal.replicas == [1])
        #expect(refusal.fieldPath.isEmpty)

        var map = GMap()
        let nested = GMap.Operation.update("stock", GMap.self, .update("units", BoundedCounter.self, .decrement(1)))
        let nestedError = try #require(throws: CRDTError.self) { try map.apply(nested, context: r2) }
        #expect(DetectedConflict.refusal(of: nested, error: nestedError, at: 2)?.fieldPath == ["stock", "units"])

        let other = CRDTError(.overflow, "too big")
        #expect(DetectedConflict.refusal(of: operation, error: other, at: 1) == nil)
    }
}
