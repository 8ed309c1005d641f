import Concord
import Foundation

/// One simulated run: setup, the workload with faults, the final heal, and the checks.
struct Runner {
    let options: SimulationOptions
    let directory: URL
    let ownsDirectory: Bool
    let cluster: Cluster
    var random: ScheduleRandom
    var model = Model()
    let objects: [ObjectName]
    static let atomicPair = (ObjectName(kind: .awSet, index: 1_000), ObjectName(kind: .awSet, index: 1_001))
    var report: SimulationReport
    /// The last clock seen at each replica (for the never-backwards check).
    var lastClock: [ReplicaID: VectorClock] = [:]
    /// Serialized object states at each replica at the last checkpoint.
    var lastStates: [ReplicaID: [ObjectName: any CRDT]] = [:]
    var crashed: Set<ReplicaID> = []
    /// The clock at which each replica's atomic pair was last checked.
    var atomicityChecked: [ReplicaID: VectorClock] = [:]
    /// Replicas last seen bootstrapping (a wiped or new replica, even while crashed).
    var bootstrapping: Set<ReplicaID> = []
    /// The dot of each replica's last acknowledged transaction (a power loss may take it).
    var lastCommit: [ReplicaID: Dot] = [:]
    /// Observations of a few objects at each replica (see `observe(at:)`).
    var observations: [ReplicaID: [Observation]] = [:]

    /// One observation of an object's value, and the last change it delivered.
    struct Observation {
        let object: ObjectName
        let iterator: ValueChanges<ObservedValue>.Iterator
        var last: Change<ObservedValue>?
    }
    var atomicTokens = 0
    /// The last transaction of each replica whose machine lost power: it may be gone (and
    /// its dot taken again by a new transaction) if no peer had it.
    var possiblyLost: Set<Dot> = []

    init(options: SimulationOptions) throws {
        self.options = options
        if let directory = options.directory {
            self.directory = directory
            ownsDirectory = false
        } else {
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("concord-simulation-\(options.seed)-\(UUID().uuidString)")
            ownsDirectory = true
        }
        random = ScheduleRandom(seed: options.seed ^ 0x5EED_0F_C0DE, schedule: options.schedule)
        var configuration = Configuration(
            durability: .noSync, deliveryMode: .manual, seed: options.seed, deltaIntervalTransactions: 4,
            logBound: options.logBound)
        configuration.latencyMicroseconds = 100...1_000
        // Thousands of crashes and restarts per run: an audit line (and an fsync) each would
        // only slow the search for bugs.
        configuration.auditLog = false
        cluster = try Cluster(directory: directory, replicas: options.replicas, configuration: configuration)
        cluster.network.faults = .init(
            drop: options.dropRate, duplicate: options.duplicateRate, reorder: options.reorder,
            delayMicroseconds: options.delayMicroseconds)
        var names: [ObjectName] = []
        for kind in ObjectKind.allCases {
            for index in 0..<options.keysPerKind { names.append(ObjectName(kind: kind, index: index)) }
        }
        objects = names + [Self.atomicPair.0, Self.atomicPair.1]
        report = SimulationReport(options: options)
        for replica in cluster.replicas { observe(at: replica) }
    }

    /// Observes three objects at `replica`, chosen from its id without drawing from `random`
    /// (so a seed's schedule is the same with or without observers).
    mutating func observe(at replica: Replica) {
        let first = Int(replica.id.rawValue % UInt64(objects.count))
        observations[replica.id] = (0..<3).map { step in
            let object = objects[(first + step * 11) % objects.count]
            return Observation(object: object, iterator: Objects.observe(object, at: replica), last: nil)
        }
    }

    /// Takes every change the observations have ready: each must be the model's value at
    /// its clock, and clocks go forward unless the change says transactions were lost.
    mutating func checkObservations() {
        for id in observations.keys.sorted() {
            guard var list = observations[id] else { continue }
            for index in list.indices {
                do {
                    while let change = try list[index].iterator.poll() {
                        report.observedChanges += 1
                        let object = list[index].object
                        if let last = list[index].last, !change.clock.dominates(last.clock), !change.lostTransactions {
                            fail(
                                "event \(report.events): the observation of \(object) at \(id) went back from \(last.clock) to \(change.clock)"
                            )
                        }
                        let expectation = model.expectation(for: object, at: change.clock)
                        if !expectation.admits(change.value) {
                            fail(
                                "event \(report.events): the observation of \(object) at \(id) delivered \(change.value) at \(change.clock) (\(change.origin)); the model at that clock says \(expectation)"
                            )
                        }
                        list[index].last = change
                    }
                } catch {
                    fail("event \(report.events): observing \(list[index].object) at \(id) failed: \(error)")
                }
            }
            observations[id] = list
        }
    }

    func finish() {
        cluster.close()
        // Best effort: a leftover temporary directory is harmless, and a failed run has
        // already been reported.
        if ownsDirectory { _ = Result { try FileManager.default.removeItem(at: directory) } }
    }

    var members: [Replica] { cluster.replicas }
    var running: [Replica] { cluster.replicas.filter { !crashed.contains($0.id) } }

    mutating func fail(_ message: String) {
        if report.failures.count < 20 { report.failures.append(message) }
    }

    // MARK: The run

    mutating func run(progress: ((Int, Int) -> Void)?) -> SimulationReport {
        let start = ContinuousClock.now
        let progressEvery = max(1, options.operations / 50)
        for index in 0..<options.operations where report.passed {
            if random.chance(0.04) { injectFault() }
            performTransaction()
            // Now and then a lull: the workload pauses while the network runs on, often long
            // enough for the replicas to quiesce and compact, sometimes stopping halfway
            // (some replicas compacted, others not) before writes resume.
            let steps =
                random.chance(0.04) ? Int.random(in: 0...1_500, using: &random) : Int.random(in: 0...6, using: &random)
            for _ in 0..<steps where report.passed {
                guard cluster.step() else { break }
                report.events += 1
                checkSafety()
            }
            if index % 25 == 0 { checkpointStates() }
            if index % progressEvery == 0 { progress?(index, options.operations) }
        }
        if report.passed { finale() }
        progress?(options.operations, options.operations)
        report.network = cluster.network.statistics
        let elapsed = ContinuousClock.now - start
        report.durationSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }

    mutating func performTransaction() {
        let candidates = running
        guard let replica = candidates.randomElement(using: &random) else { return }
        var operations: [(ObjectName, ModelOperation)] = []
        if random.chance(0.1) {
            atomicTokens += 1
            let token = "t\(atomicTokens)"
            operations = [(Self.atomicPair.0, .add(token)), (Self.atomicPair.1, .add(token))]
        } else {
            let memberIDs = members.map(\.id)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let object = objects[Int.random(in: 0..<(objects.count - 2), using: &random)]
                operations.append(
                    (
                        object,
                        Objects.randomOperation(
                            for: object, replicas: memberIDs, elements: options.elements, using: &random)
                    ))
            }
        }
        report.attempted += 1
        let faultArmed = cluster.storageFaults.isArmed(replica.id)
        do {
            // A replica catching up writes under a writer id of its incarnation.
            let writer = try replica.writer
            let clock = try replica.transaction { transaction in
                for (object, operation) in operations { try Objects.apply(operation, to: object, in: transaction) }
            }
            let dot = Dot(replica: writer, counter: clock[writer])
            if model.commits[dot] != nil {
                guard possiblyLost.remove(dot) != nil else {
                    fail("transaction \(operations) at \(replica.id) took the dot \(dot) of an acknowledged one")
                    return
                }
                // The power loss took the first transaction before any peer had it.
                model.forget(dot)
            }
            model.record(operations, dot: dot, clock: clock)
            lastCommit[replica.id] = dot
            if dot.replica != replica.id { report.acknowledgedWhileBootstrapping += 1 }
            report.acknowledged += 1
            report.acknowledgedOperations += operations.count
        } catch let error as ConcordError where error.code == .operationRejected || error.code == .bootstrapping {
            report.refused += 1
            if error.code == .bootstrapping { report.refusedWhileBootstrapping += 1 }
        } catch let error as ConcordError where isInjectedFault(error, at: replica.id, armedBefore: faultArmed) {
            report.refused += 1
            count("storage fault: transaction failed")
        } catch {
            fail("transaction \(operations) at \(replica.id) failed: \(error)")
        }
    }

    // MARK: Faults

    mutating func injectFault() {
        let ids = members.map(\.id)
        switch Int.random(in: 0..<6, using: &random) {
        case 0 where options.partitions:
            if random.chance(0.5) {
                cluster.network.heal()
                count("heal")
            } else if ids.count >= 2 {
                let shuffled = ids.shuffled(using: &random)
                let cut = Int.random(in: 1..<shuffled.count, using: &random)
                cluster.network.partition(Array(shuffled[..<cut]), Array(shuffled[cut...]))
                count("partition")
            }
        case 1 where options.clogs:
            let clogged = cluster.network.cloggedLinks
            if !clogged.isEmpty && random.chance(0.5) {
                let link = clogged[Int.random(in: 0..<clogged.count, using: &random)]
                cluster.network.unclog(from: link.from, to: link.to)
                count("unclog")
            } else if ids.count >= 2 {
                let from = ids.randomElement(using: &random)!
                let to = ids.filter { $0 != from }.randomElement(using: &random)!
                cluster.network.clog(from: from, to: to)
                count("clog")
            }
        case 2 where options.crashes:
            if let id = crashed.sorted().randomElement(using: &random), random.chance(0.6) {
                let faultArmed = cluster.storageFaults.isArmed(id)
                do {
                    try cluster.restart(id)
                    crashed.remove(id)
                    count("restart")
                } catch  where isInjectedFault(error, at: id, armedBefore: faultArmed) {
                    count("storage fault: restart failed")
                } catch { fail("restart of \(id) failed: \(error)") }
            } else if running.count >= 2, let victim = running.randomElement(using: &random) {
                // Now and then the replica's machine loses power: under `.noSync` its last
                // commit may vanish, and it recovers on restart.
                let powerLoss = random.chance(0.3)
                do {
                    try cluster.crash(victim.id, losingUnsyncedCommits: powerLoss)
                    crashed.insert(victim.id)
                    if powerLoss {
                        if let last = lastCommit[victim.id] { possiblyLost.insert(last) }
                        // Its clock may move back; it recovers like a wiped replica.
                        lastClock[victim.id] = nil
                        lastStates[victim.id] = nil
                        bootstrapping.insert(victim.id)
                        count("power loss")
                    } else {
                        count("crash")
                    }
                } catch { fail("crash of \(victim.id) failed: \(error)") }
            }
        case 3 where options.wipes:
            guard let victim = running.randomElement(using: &random), isReplicatedElsewhere(victim) else { return }
            let faultArmed = cluster.storageFaults.isArmed(victim.id)
            // Bootstrapping from now on, even if it crashes before the GC check sees it, or
            // its reopening fails.
            lastClock[victim.id] = nil
            lastStates[victim.id] = nil
            do {
                try cluster.wipe(victim.id)
                bootstrapping.insert(victim.id)
                count("wipe")
            } catch  where isInjectedFault(error, at: victim.id, armedBefore: faultArmed) {
                // Its files are gone and it is down: it comes back bootstrapping.
                bootstrapping.insert(victim.id)
                crashed.insert(victim.id)
                count("storage fault: reopening after a wipe failed")
            } catch { fail("wipe of \(victim.id) failed: \(error)") }
        case 4 where options.membership:
            if ids.count < 5 && random.chance(0.5) {
                do {
                    let added = try cluster.addReplica()
                    if added.status().isBootstrapping { bootstrapping.insert(added.id) }
                    observe(at: added)
                    count("add replica")
                } catch { fail("adding a replica failed: \(error)") }
            } else if ids.count > 2, let victim = running.randomElement(using: &random), isReplicatedElsewhere(victim) {
                do {
                    try cluster.removeReplica(victim.id)
                    for observation in observations.removeValue(forKey: victim.id) ?? [] {
                        let ended = Result { () throws(ConcordError) in try observation.iterator.poll() }
                        if case .failure(let error) = ended, error.code == .unavailable { continue }
                        fail("the observation of \(observation.object) at removed \(victim.id) did not end: \(ended)")
                    }
                    lastClock[victim.id] = nil
                    lastStates[victim.id] = nil
                    count("remove replica")
                } catch { fail("removing \(victim.id) failed: \(error)") }
            }
        case 5 where options.storageFaults:
            guard let victim = ids.randomElement(using: &random) else { return }
            let fault = StorageFaults.Fault.allCases.randomElement(using: &random) ?? .ioError
            cluster.storageFaults.failNextCommit(of: victim, with: fault)
            count("storage fault armed")
        default:
            break
        }
    }

    /// Whether `error` is the storage fault that was armed for `replica`'s next commit
    /// (armed before the call, consumed by it).
    func isInjectedFault(_ error: ConcordError, at replica: ReplicaID, armedBefore: Bool) -> Bool {
        error.code == .storage && armedBefore && !cluster.storageFaults.isArmed(replica)
            && error.description.contains("injected fault")
    }

    mutating func count(_ fault: String) { report.faults[fault, default: 0] += 1 }

    /// Whether every transaction `replica` has seen is known to some other running member,
    /// so wiping or removing it loses no acknowledged update (checking only its own would
    /// let a wipe destroy the last copy of a removed replica's transactions), and another
    /// running member is not bootstrapping (else no replica could serve a state).
    func isReplicatedElsewhere(_ replica: Replica) -> Bool {
        // A replica that cannot report its clock counts as not having anything.
        guard case .success(let own) = Result(catching: { try replica.clock }) else { return false }
        let others = running.compactMap { other -> VectorClock? in
            guard other.id != replica.id, case .success(let theirs) = Result(catching: { try other.clock }) else {
                return nil
            }
            return theirs
        }
        // Bootstrapping replicas serve no state, so one that is not must remain.
        let serving = running.contains { $0.id != replica.id && $0.isRunning && !$0.status().isBootstrapping }
        guard serving else { return false }
        // Every transaction it has seen, its own and those it may be the last to hold.
        return own.entries.allSatisfy { entry in others.contains { $0[entry.replica] >= entry.counter } }
    }

    // MARK: Safety

    /// Checks run after every scheduler event.
    mutating func checkSafety() {
        for replica in running {
            let clock: VectorClock
            do { clock = try replica.clock } catch {
                fail("reading the clock of \(replica.id) failed: \(error)")
                continue
            }
            if let last = lastClock[replica.id], !clock.dominates(last) {
                fail("event \(report.events): the clock of \(replica.id) moved backwards from \(last) to \(clock)")
            }
            lastClock[replica.id] = clock
            // Causal closure: every transaction seen was applied with all it depended on.
            for entry in clock.entries {
                let dot = Dot(replica: entry.replica, counter: entry.counter)
                guard let dependencies = model.commits[dot] else {
                    fail("event \(report.events): \(replica.id) has seen \(dot), which no replica acknowledged")
                    continue
                }
                if !clock.dominates(dependencies) {
                    fail(
                        "event \(report.events): \(replica.id) applied \(dot) before its dependencies \(dependencies); it has \(clock)"
                    )
                }
            }
        }
        if report.events % 8 == 0 { checkGarbageCollection() }
        checkAtomicity()
        checkObservations()
    }

    /// GC never outruns a member: each replica's stable clock is below every member's clock.
    mutating func checkGarbageCollection() {
        let statuses = cluster.status().replicas
        var clocks: [ReplicaID: VectorClock] = [:]
        for status in statuses where status.isRunning {
            if status.isBootstrapping {
                bootstrapping.insert(status.replica)
            } else {
                bootstrapping.remove(status.replica)
            }
        }
        // A wiped replica lost its log on purpose and recovers by state transfer; the others
        // may have collected what it had before they hear of the wipe. One that crashed while
        // bootstrapping still is when it restarts.
        for status in statuses where !bootstrapping.contains(status.replica) {
            if let clock = status.isRunning ? status.clock : lastClock[status.replica] {
                clocks[status.replica] = clock
            }
            report.maximumLogLength = max(report.maximumLogLength, status.logLength)
        }
        for status in statuses where status.isRunning {
            for (member, clock) in clocks.sorted(by: { $0.key < $1.key }) where !clock.dominates(status.stableClock) {
                fail(
                    "event \(report.events): \(status.replica) holds \(status.stableClock) stable, but \(member) has only \(clock)"
                )
            }
        }
    }

    /// A transaction is visible entirely or not at all: the atomic pair always agrees.
    mutating func checkAtomicity() {
        guard let replica = running.randomElement(using: &random) else { return }
        // A replica's values change only with its clock (compaction keeps values), so a
        // clock already checked needs no second read of the ever-growing pair.
        guard let clock = lastClock[replica.id], atomicityChecked[replica.id] != clock else { return }
        atomicityChecked[replica.id] = clock
        do {
            let first = try replica.read(
                Key<AWSet<String>>(Self.atomicPair.0.name, bucket: Objects.bucket(Self.atomicPair.0)))
            let second = try replica.read(
                Key<AWSet<String>>(Self.atomicPair.1.name, bucket: Objects.bucket(Self.atomicPair.1)))
            if first != second {
                fail(
                    "event \(report.events): \(replica.id) shows part of a transaction: \(first.sorted()) vs \(second.sorted())"
                )
            }
        } catch  where error.code == .unavailable {
            return
        } catch {
            fail("reading the atomic pair at \(replica.id) failed: \(error)")
        }
    }

    /// Object states never move backwards: each new state includes the previous one.
    mutating func checkpointStates() {
        guard let replica = running.randomElement(using: &random) else { return }
        var states: [ObjectName: any CRDT] = [:]
        for object in objects {
            do {
                let state = try Objects.state(object, at: replica)
                if let previous = lastStates[replica.id]?[object] {
                    var joined = state
                    try joined.join(erased: previous)
                    if joined.serialized() != state.serialized() {
                        fail("event \(report.events): \(object) at \(replica.id) moved backwards")
                    }
                }
                states[object] = state
            } catch {
                fail("reading \(object) at \(replica.id) failed: \(error)")
            }
        }
        lastStates[replica.id] = states
    }

    // MARK: Liveness

    mutating func finale() {
        cluster.storageFaults.clear()
        cluster.network.heal()
        for id in crashed.sorted() {
            do { try cluster.restart(id) } catch { fail("final restart of \(id) failed: \(error)") }
        }
        crashed.removeAll()
        cluster.network.faults = .init(
            drop: options.dropRate, duplicate: options.duplicateRate, reorder: options.reorder)
        var steps = 0
        while report.passed && cluster.step() {
            report.events += 1
            steps += 1
            checkSafety()
            // CONCORD_TRACE=1: print every replica's replication state every 2,000 final steps,
            // to see why a run does not quiesce (the failure message shows the last state too).
            if ProcessInfo.processInfo.environment["CONCORD_TRACE"] != nil, steps % 2_000 == 0 {
                for status in cluster.status().replicas {
                    print(
                        "step \(steps) \(status.replica): clock \(status.clock) bootstrapping \(status.isBootstrapping) log \(status.logLength) buffered \(status.bufferedIntervals) sent \(status.messagesSent) applied \(status.intervalsApplied) undecodable \(status.messagesUndecodable) peers \(status.peers.map { "\($0.peer) acked \($0.acknowledgedClock)" }) pending \(cluster.network.pendingEvents) failure \(status.lastFailure ?? "-")"
                    )
                }
            }
            if steps > 200_000 + 200 * options.operations {
                let summary = cluster.status().replicas.map { status in
                    "\(status.replica): clock \(status.clock), log \(status.logLength), buffered \(status.bufferedIntervals), "
                        + "peers \(status.peers.map { "\($0.peer) acked \($0.acknowledgedClock)" })"
                }
                fail("no quiescence after \(steps) final steps: \(summary.joined(separator: "; "))")
                return
            }
        }
        checkGarbageCollection()
        guard report.passed else { return }
        let replicas = running
        // A transaction a power loss took before any peer had it is gone everywhere.
        do {
            let final = try replicas.first?.clock ?? VectorClock()
            for dot in possiblyLost where !final.contains(dot) { model.forget(dot) }
        } catch {
            fail("reading the final clock failed: \(error)")
        }
        for object in objects {
            let expectation = model.expectation(for: object)
            var first: ObservedValue?
            for replica in replicas {
                do {
                    let value = try Objects.read(object, at: replica)
                    if let first, first != value {
                        fail("\(object): replicas diverge: \(first) vs \(value) at \(replica.id)")
                    }
                    first = first ?? value
                    if !expectation.admits(value) {
                        fail(
                            "\(object) at \(replica.id) reads \(value); the model of every acknowledged operation says \(expectation)"
                        )
                    }
                } catch {
                    fail("reading \(object) at \(replica.id) failed: \(error)")
                }
            }
        }
        checkCompaction(replicas)
        // Once the replicas are quiet, every observation's last change is the value read.
        checkObservations()
        for replica in replicas {
            for observation in observations[replica.id] ?? [] {
                let value = Result { try Objects.read(observation.object, at: replica) }
                guard case .success(let read) = value, observation.last?.value == read else {
                    fail(
                        "the last change observed of \(observation.object) at \(replica.id) is \(observation.last.map { "\($0)" } ?? "none"), but it reads \(value)"
                    )
                    continue
                }
            }
        }
        let statuses = cluster.status().replicas
        for status in statuses {
            report.objectsCompacted += status.objectsCompacted
            report.finalLogLength += status.logLength
            report.stateTransfers += status.statesSent
            if status.logLength != 0 {
                fail(
                    "after quiescence \(status.replica) still holds \(status.logLength) log entries (stable \(status.stableClock), clock \(status.clock))"
                )
            }
            if status.isBootstrapping { fail("after quiescence \(status.replica) still waits for a state transfer") }
            if status.bufferedIntervals != 0 {
                fail("after quiescence \(status.replica) still buffers \(status.bufferedIntervals) intervals")
            }
        }
        if let first = statuses.first, statuses.contains(where: { $0.clock != first.clock }) {
            fail("after quiescence the clocks differ: \(statuses.map { "\($0.replica): \($0.clock)" })")
        }
    }

    /// After quiescence every replica has compacted at the same clock: states are equal
    /// byte for byte, and remove-wins sets keep no marker of a removed element.
    mutating func checkCompaction(_ replicas: [Replica]) {
        for object in objects {
            var first: (ReplicaID, [UInt8])?
            for replica in replicas {
                let state: any CRDT
                do {
                    state = try Objects.state(object, at: replica)
                } catch {
                    fail("reading the state of \(object) at \(replica.id) failed: \(error)")
                    continue
                }
                let bytes = state.serialized()
                if let first, first.1 != bytes {
                    fail("\(object): after quiescence the states of \(first.0) and \(replica.id) differ")
                }
                first = first ?? (replica.id, bytes)
                if let set = state as? RWSet<String>, set.state.store.keys.count != set.value.count {
                    fail("\(object) at \(replica.id) still holds remove markers after quiescence: \(set)")
                }
            }
        }
    }
}
