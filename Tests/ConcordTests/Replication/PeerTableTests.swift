import Testing

@testable import Concord

@Suite struct PeerTableTests {
    private func report(
        from sender: ReplicaID, incarnation: UInt64 = 1, clock: VectorClock, epoch: UInt64 = 0, wantsState: Bool = false
    ) -> Envelope {
        var envelope = Envelope(sender: sender, incarnation: incarnation, clock: clock, wantsState: wantsState)
        envelope.epoch = epoch
        return envelope
    }

    private func table() -> PeerTable {
        var peers = PeerTable()
        peers.setMembers([1, 2, 3], excluding: 1)
        return peers
    }

    @Test func membersExcludeTheReplicaItselfAndForgetDepartedPeers() {
        var peers = table()
        #expect(peers.members == [2, 3])
        peers.setMembers([1, 3], excluding: 1)
        #expect(peers.members == [3])
        #expect(peers[2] == nil)
    }

    @Test func reportsAcknowledgeAndTheStableClockIsTheMinimum() {
        var peers = table()
        let accepted1 = peers.noteReport(report(from: 2, clock: [1: 3, 2: 1]), nowMicroseconds: 10)
        #expect(accepted1.isAccepted)
        let accepted2 = peers.noteReport(report(from: 3, clock: [1: 2]), nowMicroseconds: 10)
        #expect(accepted2.isAccepted)
        #expect(peers.stableClock(own: [1: 3, 2: 1]) == [1: 2])
        #expect(peers.heardFrom == [2, 3])
        // A non-member's report is ignored.
        let accepted3 = peers.noteReport(report(from: 9, clock: [9: 1]), nowMicroseconds: 10)
        #expect(accepted3 == .notMember)
    }

    @Test func aNewIncarnationReplacesTheClockAndAnOldOneIsIgnored() {
        var peers = table()
        peers.noteReport(report(from: 2, incarnation: 2, clock: [2: 5]), nowMicroseconds: 0)
        // Restarted under noSync, it lost its last commits: its new report is believed.
        peers.noteReport(report(from: 2, incarnation: 3, clock: [2: 4]), nowMicroseconds: 0)
        #expect(peers[2]?.acknowledged == [2: 4])
        #expect(peers[2]?.wantsEcho == true)
        // A delayed message of the old incarnation changes nothing.
        let accepted4 = peers.noteReport(report(from: 2, incarnation: 2, clock: [2: 9]), nowMicroseconds: 0)
        #expect(accepted4 == .earlierIncarnation)
        #expect(peers[2]?.acknowledged == [2: 4])
    }

    @Test func compactionNeedsEveryMemberAtExactlyTheClockInTheCurrentEpoch() {
        var peers = table()
        peers.noteReport(report(from: 2, clock: [1: 1], epoch: 1), nowMicroseconds: 0)
        peers.noteReport(report(from: 3, clock: [1: 1], epoch: 0), nowMicroseconds: 0)
        #expect(!peers.allAcknowledge(exactly: [1: 1], epoch: 1))
        peers.noteReport(report(from: 3, clock: [1: 1], epoch: 1), nowMicroseconds: 0)
        #expect(peers.allAcknowledge(exactly: [1: 1], epoch: 1))
        #expect(!peers.allAcknowledge(exactly: [1: 2], epoch: 1))
    }

    @Test func anEchoFromABootstrappingPeerSetsNoFloor() {
        var peers = table()
        peers.noteReport(report(from: 2, clock: [1: 4]), nowMicroseconds: 0)
        peers.noteReport(report(from: 3, clock: [1: 4]), nowMicroseconds: 0)
        peers.noteEcho(from: 2, bootstrapping: false)
        peers.noteEcho(from: 3, bootstrapping: true)
        #expect(peers.echoFloor[2] == [1: 4])
        #expect(peers.echoFloor[3] == VectorClock())
        #expect(peers.knownBy == [2, 3])
    }

    @Test func shipmentsSendIntervalsWaitThenRetransmitWithBackoff() {
        var state = PeerState()
        let clock: VectorClock = [1: 3]
        let timeout: UInt64 = 100
        #expect(
            state.nextShipment(clock: clock, logFloor: [:], nowMicroseconds: 0, timeoutMicroseconds: timeout)
                == .interval(from: [:]))
        state.noteShipped(through: clock)
        // In flight: nothing more until the acknowledgement or the timeout.
        #expect(
            state.nextShipment(clock: clock, logFloor: [:], nowMicroseconds: 50, timeoutMicroseconds: timeout)
                == .inFlight)
        // The timeout expired without progress: resend from what it acknowledged, back off.
        #expect(
            state.nextShipment(clock: clock, logFloor: [:], nowMicroseconds: 100, timeoutMicroseconds: timeout)
                == .interval(from: [:]))
        #expect(state.backoff == 2)
        state.noteShipped(through: clock)
        #expect(
            state.nextShipment(clock: clock, logFloor: [:], nowMicroseconds: 250, timeoutMicroseconds: timeout)
                == .inFlight)
        state.acknowledged = clock
        #expect(
            state.nextShipment(clock: clock, logFloor: [:], nowMicroseconds: 300, timeoutMicroseconds: timeout)
                == .upToDate)
    }

    @Test func aPeerBelowTheLogFloorOrAskingGetsAState() {
        var state = PeerState()
        #expect(
            state.nextShipment(clock: [1: 9], logFloor: [1: 5], nowMicroseconds: 0, timeoutMicroseconds: 10)
                == .state)
        #expect(state.sent == [1: 9])
        var asking = PeerState()
        asking.wantsState = true
        asking.acknowledged = [1: 9]
        #expect(
            asking.nextShipment(clock: [1: 9], logFloor: [:], nowMicroseconds: 0, timeoutMicroseconds: 10)
                == .state)
        #expect(!asking.wantsState)
    }

    @Test func aSecondStateWaitsForTheFirstsAcknowledgementOrTheTimeout() {
        var state = PeerState()
        #expect(
            state.nextShipment(clock: [1: 9], logFloor: [1: 5], nowMicroseconds: 0, timeoutMicroseconds: 100) == .state)
        // States of a third replica arrived meanwhile (and raised the floor): the peer may
        // have them already from that replica, so nothing goes until it answers.
        #expect(
            state.nextShipment(
                clock: [1: 9, 3: 4], logFloor: [1: 5, 3: 4], nowMicroseconds: 50, timeoutMicroseconds: 100)
                == .inFlight)
        // It acknowledged the first state and has the third replica's too: up to date.
        var answered = state
        answered.acknowledged = [1: 9, 3: 4]
        answered.sent.merge([1: 9, 3: 4])
        #expect(
            answered.nextShipment(
                clock: [1: 9, 3: 4], logFloor: [1: 5, 3: 4], nowMicroseconds: 60, timeoutMicroseconds: 100)
                == .upToDate)
        // It acknowledged only the first: the rest goes as a second state.
        var partly = state
        partly.acknowledged = [1: 9]
        #expect(
            partly.nextShipment(
                clock: [1: 9, 3: 4], logFloor: [1: 5, 3: 4], nowMicroseconds: 60, timeoutMicroseconds: 100)
                == .state)
        #expect(partly.sent == [1: 9, 3: 4])
        // No answer before the timeout: a state again.
        #expect(
            state.nextShipment(
                clock: [1: 9, 3: 4], logFloor: [1: 5, 3: 4], nowMicroseconds: 100, timeoutMicroseconds: 100)
                == .state)
    }
}

@Suite struct BootstrapAndCompactorTests {
    @Test func bootstrapNamesWhatItWaitsForInOrder() {
        var peers = PeerTable()
        peers.setMembers([1, 2], excluding: 1)
        #expect(
            Bootstrap.waiting(receivedState: false).wait(replica: 1, clock: [:], peers: peers) == "a peer's full state")
        let waiting = Bootstrap.waiting(receivedState: true)
        #expect(waiting.wait(replica: 1, clock: [:], peers: peers) == "a message from r2")
        var envelope = Envelope(sender: 2, incarnation: 1, clock: [1: 3, 2: 2], wantsState: false)
        envelope.receiverIncarnation = 1
        peers.noteReport(envelope, nowMicroseconds: 0)
        #expect(waiting.wait(replica: 1, clock: [:], peers: peers) == "r2 to acknowledge its new incarnation")
        peers.noteEcho(from: 2, bootstrapping: false)
        // r2 knows three transactions of r1's earlier incarnation: writing now could reuse their dots.
        #expect(waiting.wait(replica: 1, clock: [2: 2], peers: peers) == "its own earlier transactions that r2 knows")
        #expect(waiting.wantsState(from: 2, replica: 1, clock: [2: 2], peers: peers))
        #expect(waiting.wait(replica: 1, clock: [1: 3, 2: 2], peers: peers) == nil)
        #expect(!waiting.wantsState(from: 2, replica: 1, clock: [1: 3, 2: 2], peers: peers))
        #expect(Bootstrap.done.wait(replica: 1, clock: [:], peers: peers) == nil)
    }

    @Test func compactionIsDueOnlyAtQuiescenceAndOnlyOncePerClock() {
        var peers = PeerTable()
        peers.setMembers([1, 2], excluding: 1)
        var compactor = Compactor()
        #expect(!compactor.isDue(clock: [1: 1], bootstrapping: false, peers: peers, epoch: 0))
        peers.noteReport(Envelope(sender: 2, incarnation: 1, clock: [1: 1], wantsState: false), nowMicroseconds: 0)
        #expect(compactor.isDue(clock: [1: 1], bootstrapping: false, peers: peers, epoch: 0))
        #expect(!compactor.isDue(clock: [1: 1], bootstrapping: true, peers: peers, epoch: 0))
        compactor.noteCompacted(at: [1: 1])
        #expect(!compactor.isDue(clock: [1: 1], bootstrapping: false, peers: peers, epoch: 0))
        // An add-wins set keeps nothing a compaction removes: a change to one is not noted.
        compactor.noteChanged([Key<AWSet<String>>("a").object])
        #expect(compactor.changedObjects.isEmpty)
        compactor.noteChanged([Key<RWSet<String>>("s").object])
        #expect(compactor.changedObjects == [Key<RWSet<String>>("s").object])
        #expect(!compactor.isDue(clock: [1: 1], bootstrapping: false, peers: peers, epoch: 0))
        #expect(
            compactor.isDue(
                clock: [1: 2], bootstrapping: false,
                peers: [2].reduce(into: peers) { table, peer in
                    table.noteReport(
                        Envelope(sender: peer, incarnation: 1, clock: [1: 2], wantsState: false), nowMicroseconds: 0)
                }, epoch: 0))
    }
}
